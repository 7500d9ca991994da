"""The stack's ECR push rule: its effective pattern, and what an event would start.

An event starts an execution when EventBridge's TestEventPattern says the deployed pattern
matches it; the execution's Resolve step then dispatches it with ``dispatch``, run here on
the operator's credentials to say which apps and images it resolves to.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import msgspec
from botocore.exceptions import ClientError

from ecs_deployer.aws.clients import error_code
from ecs_deployer.domain.accounts import account_of
from ecs_deployer.domain.dispatch import Ignored, dispatch
from ecs_deployer.errors import InputError
from ecs_deployer.image import ImageRef
from ecs_deployer.inputs import EcrImageActionEvent
from ecs_deployer.structs import decode
from ecs_deployer.validation import field_errors
from ecs_deployer_tools.operator.aws import OperatorError

if TYPE_CHECKING:
    from mypy_boto3_ecr import ECRClient
    from mypy_boto3_events import EventBridgeClient

    from ecs_deployer.domain.dispatch import DispatchTarget
    from ecs_deployer_tools.operator.stack import Deployer


@dataclass(frozen=True)
class PushRule:
    name: str
    state: str  # ENABLED or DISABLED
    pattern: str  # the EventPattern JSON as deployed

    def to_json(self) -> dict[str, Any]:
        return {"rule": self.name, "state": self.state, "pattern": json.loads(self.pattern)}


def push_rule(deployer: Deployer) -> PushRule:
    name = deployer.stack.rule_name
    rule = deployer.aws.events.describe_rule(Name=name)
    return PushRule(name, rule.get("State", "ENABLED"), rule.get("EventPattern", "{}"))


@dataclass(frozen=True)
class Target:
    app: str
    image: str  # <registry>/<repository>@<digest>
    execution_name: str
    reason: str  # the first deployment of this digest, or a retry of which one


@dataclass(frozen=True)
class EventVerdict:
    rule: str
    matched: bool  # the rule starts an execution for this event
    targets: list[Target] = field(default_factory=list)  # the deployments it would start
    ignored: list[str] = field(default_factory=list)  # why nothing (or some app) is deployed
    errors: list[str] = field(default_factory=list)  # what would make the execution fail
    # The event's value at each field the pattern filters on, next to what the pattern wants.
    fields: list[dict[str, Any]] = field(default_factory=list)

    @property
    def deploys(self) -> bool:
        return bool(self.targets)

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "deploys": self.deploys}


def _matches(events: EventBridgeClient, pattern: str, event: dict[str, Any]) -> bool:
    """EventBridge's own answer: the pattern as it evaluates patterns."""
    return events.test_event_pattern(EventPattern=pattern, Event=json.dumps(event))["Result"]


def _fields(pattern: Any, event: Any, path: str = "") -> list[dict[str, Any]]:
    """Each filtered field: the pattern's filters next to the event's value."""
    if not isinstance(pattern, dict):
        return [{"path": path, "wants": pattern, "event": event}]
    found: list[dict[str, Any]] = []
    for key, wanted in pattern.items():
        value = event.get(key) if isinstance(event, dict) else None
        found += _fields(wanted, value, f"{path}.{key}" if path else key)
    return found


def _registry(ecr: ECRClient, repository: str, found: dict[str, str]) -> str:
    if repository not in found:
        try:
            described = ecr.describe_repositories(repositoryNames=[repository])
        except ClientError as exc:
            if error_code(exc) == "RepositoryNotFoundException":
                raise OperatorError(f"ECR repository '{repository}' does not exist") from exc
            raise
        found[repository] = described["repositories"][0]["repositoryUri"].split("/", 1)[0]
    return found[repository]


def _target(ecr: ECRClient, target: DispatchTarget, registries: dict[str, str]) -> Target:
    repository = str(target.input["repository"])
    image = ImageRef(
        registry=_registry(ecr, repository, registries),
        repository=repository,
        digest=target.input["image_digest"],
    )
    return Target(target.app, image.uri, target.execution_name, target.reason)


def judge_event(deployer: Deployer, event: dict[str, Any]) -> EventVerdict:
    """Whether the deployed rule starts an execution for ``event``, and what it deploys."""
    rule = push_rule(deployer)
    if rule.state != "ENABLED":
        return EventVerdict(rule.name, False, ignored=[f"the rule is {rule.state}"])
    fields = _fields(json.loads(rule.pattern), event)
    matched = _matches(deployer.aws.events, rule.pattern, event)
    if not matched:
        reason = "the rule's event pattern does not match the event"
        return EventVerdict(rule.name, False, ignored=[reason], fields=fields)
    try:
        request = decode(event, EcrImageActionEvent)
    except msgspec.ValidationError as exc:
        # What the Resolve step would reject the execution with.
        problem = str(InputError("invalid ECR event", field_errors(exc)))
        return EventVerdict(rule.name, True, errors=[problem], fields=fields)
    result = dispatch(
        request, deployer.configs, deployer.table, account_of(deployer.state_machine_arn)
    )
    if isinstance(result, Ignored):
        return EventVerdict(rule.name, True, ignored=[result.reason], fields=fields)
    registries: dict[str, str] = {}
    dispatched = result.output
    return EventVerdict(
        rule.name,
        True,
        targets=[_target(deployer.aws.ecr, t, registries) for t in dispatched.targets],
        ignored=dispatched.ignored + dispatched.duplicates,
        errors=dispatched.errors,
        fields=fields,
    )
