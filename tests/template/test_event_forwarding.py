"""Events another account forwards to the deployer, and the deployer's side that takes them.

templates/ecr-forwarding.yaml (a central registry's pushes) and
templates/ecs-events-forwarding.yaml (a target account's ECS events) are linted as the main
template is (cfn-lint here, checkov in `make checkov`). Their rules send only what the
deployer acts on, only to the deployer's default bus; their role may put events on that bus
alone, for those rules alone. The deployer's notifier and bus take ECS events from the
accounts the stack lists. The patterns are matched with moto's matcher, the local cloud's.
"""

from __future__ import annotations

import copy
import functools
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import pytest
from moto.events.models import EventPattern

from ecs_deployer.domain.waiters import woken_keys
from ecs_deployer_tools.localcloud.sam_template import load_template
from tests.support import load_event
from tests.template.cfn import (
    ACCOUNT_ID,
    REGION,
    REPO_ROOT,
    REQUIRED_PARAMETERS,
    STACK_NAME,
    Resolver,
)
from tests.template.test_lint import lint_errors

if TYPE_CHECKING:
    from collections.abc import Mapping

    from moto.events.utils import EventMessageType

DEPLOYER_ACCOUNT = "222222222222"
DEPLOYER_BUS = f"arn:aws:events:eu-west-1:{DEPLOYER_ACCOUNT}:event-bus/default"
CLUSTER = f"arn:aws:ecs:{REGION}:{ACCOUNT_ID}:cluster/shop-demo"
TARGET_ACCOUNT = "111111111111"
NOTIFIER_RULES = (
    "NotifyWaitersFunctionServiceDeployments",
    "NotifyWaitersFunctionPausedHooks",
    "NotifyWaitersFunctionTasksStopped",
)


@dataclass(frozen=True)
class Forwarding:
    """A forwarding template: the parameters it is resolved for, and its rules (logical
    id, and the name each gets after the stack's)."""

    parameters: Mapping[str, str]
    rules: Mapping[str, str]


FORWARDINGS = {
    "ecr-forwarding.yaml": Forwarding(
        parameters={"RepositoryNames": "shop,team/shop-worker"},
        rules={"ForwardingRule": "ecr-forward"},
    ),
    "ecs-events-forwarding.yaml": Forwarding(
        parameters={"ClusterArns": f"{CLUSTER},arn:aws:ecs:{REGION}:{ACCOUNT_ID}:cluster/billing"},
        rules={
            "DeploymentsForwardingRule": "ecs-deployments",
            "TasksForwardingRule": "ecs-tasks",
            "HooksForwardingRule": "ecs-hooks",
        },
    ),
}


@functools.cache
def _resolved(template_file: str) -> dict[str, Any]:
    """The forwarding template, resolved for the deployer's account and region."""
    template = load_template(REPO_ROOT / "templates" / template_file)
    parameters = {
        "DeployerAccountId": DEPLOYER_ACCOUNT,
        "DeployerRegion": "eu-west-1",
        **FORWARDINGS[template_file].parameters,
    }
    result: dict[str, Any] = Resolver(template, parameters).resolve(template)
    return result


def _matches(pattern: Mapping[str, Any], event: EventMessageType) -> bool:
    return bool(EventPattern.load(json.dumps(pattern)).matches_event(event))


def _forwarded(template_file: str, event: EventMessageType) -> bool:
    resources = _resolved(template_file)["Resources"]
    return any(
        _matches(resources[rule]["Properties"]["EventPattern"], event)
        for rule in FORWARDINGS[template_file].rules
    )


@pytest.mark.parametrize("template_file", FORWARDINGS)
def test_the_forwarding_template_is_lint_clean(template_file: str) -> None:
    assert lint_errors((REPO_ROOT / "templates" / template_file).read_text()) == []


@pytest.mark.parametrize("template_file", FORWARDINGS)
def test_each_rule_targets_the_deployer_bus_through_the_role(template_file: str) -> None:
    for rule in FORWARDINGS[template_file].rules:
        (target,) = _resolved(template_file)["Resources"][rule]["Properties"]["Targets"]

        assert target["Arn"] == DEPLOYER_BUS
        assert target["RoleArn"] == "<ForwardingRole.Arn>"


@pytest.mark.parametrize("template_file", FORWARDINGS)
def test_the_role_puts_events_on_the_deployer_bus_only_for_its_rules(template_file: str) -> None:
    resources = _resolved(template_file)["Resources"]
    role = resources["ForwardingRole"]["Properties"]
    (policy,) = role["Policies"]

    assert policy["PolicyDocument"]["Statement"] == [
        {
            "Sid": "PutOnDeployerBus",
            "Effect": "Allow",
            "Action": "events:PutEvents",
            "Resource": DEPLOYER_BUS,
        }
    ]
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "events.amazonaws.com"}
    rules = FORWARDINGS[template_file].rules
    names = [f"{STACK_NAME}-{name}" for name in rules.values()]
    assert [resources[rule]["Properties"]["Name"] for rule in rules] == names
    arns = [f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/{name}" for name in names]
    assert trust["Condition"] == {
        "StringEquals": {"aws:SourceAccount": ACCOUNT_ID},
        # One rule's ARN is given as a string.
        "ArnEquals": {"aws:SourceArn": arns if len(arns) > 1 else arns[0]},
    }


def _ecr_event(name: str, **detail: Any) -> EventMessageType:
    loaded: dict[str, Any] = copy.deepcopy(load_event(name))
    loaded["detail"] |= {key.replace("_", "-"): value for key, value in detail.items()}
    return cast("EventMessageType", loaded)


@pytest.mark.parametrize(
    ("event", "forwarded"),
    [
        pytest.param(_ecr_event("ecr_push"), True, id="push"),
        pytest.param(
            _ecr_event("ecr_push", repository_name="team/shop-worker"), True, id="other repo"
        ),
        pytest.param(_ecr_event("ecr_replication"), True, id="replica"),
        pytest.param(_ecr_event("ecr_push", repository_name="billing"), False, id="unlisted repo"),
        pytest.param(_ecr_event("ecr_push_failed"), False, id="failed push"),
        pytest.param(_ecr_event("ecr_delete"), False, id="delete"),
        pytest.param(_ecr_event("ecr_image_scan"), False, id="scan"),
    ],
)
def test_only_successful_pushes_to_the_listed_repositories_are_forwarded(
    event: EventMessageType, forwarded: bool
) -> None:
    assert _forwarded("ecr-forwarding.yaml", event) is forwarded


def _ecs_event(
    detail_type: str, resource: str, account: str = ACCOUNT_ID, **detail: Any
) -> EventMessageType:
    return cast(
        "EventMessageType",
        {
            "version": "0",
            "id": "e1",
            "detail-type": detail_type,
            "source": "aws.ecs",
            "account": account,
            "time": "2026-01-01T00:00:00Z",
            "region": REGION,
            "resources": [f"arn:aws:ecs:{REGION}:{account}:{resource}"],
            "detail": detail,
        },
    )


def _deployment(name: str, account: str = ACCOUNT_ID) -> EventMessageType:
    return _ecs_event(
        "ECS Deployment State Change", "service/shop-demo/shop-web", account, eventName=name
    )


def _task(status: str, cluster: str = CLUSTER, account: str = ACCOUNT_ID) -> EventMessageType:
    return _ecs_event(
        "ECS Task State Change",
        f"task/{cluster.rpartition('/')[2]}/0123456789abcdef",
        account,
        lastStatus=status,
        clusterArn=cluster,
    )


def _hook(name: str, hook_type: str = "PAUSE", cluster: str = CLUSTER) -> EventMessageType:
    service = f"{cluster.replace(':cluster/', ':service/')}/shop-web"
    return _ecs_event(
        "ECS Hook State Change",
        "service-deployment/shop-demo/shop-web/AbCdEfGhIjKlMnOpQrStU",
        eventName=name,
        hookType=hook_type,
        clusterArn=cluster,
        serviceArn=service,
    )


# Every ECS deployment event ("Amazon ECS service deployment state change events", ECS
# Developer Guide), every hook event ("Amazon ECS service deployment hook state change
# events") and every task `lastStatus` (task lifecycle, ECS Developer Guide).
DEPLOYMENT_EVENT_NAMES = (
    "SERVICE_DEPLOYMENT_IN_PROGRESS",
    "SERVICE_DEPLOYMENT_COMPLETED",
    "SERVICE_DEPLOYMENT_FAILED",
)
TASK_STATUSES = (
    "PROVISIONING",
    "PENDING",
    "ACTIVATING",
    "RUNNING",
    "DEACTIVATING",
    "STOPPING",
    "DEPROVISIONING",
    "STOPPED",
)
HOOK_EVENTS = (
    ("HOOK_AWAITING_ACTION", "PAUSE"),
    ("HOOK_IN_PROGRESS", "AWS_LAMBDA"),
    ("HOOK_SUCCEEDED", "PAUSE"),
    ("HOOK_FAILED", "AWS_LAMBDA"),
    ("HOOK_TIMED_OUT", "PAUSE"),
)
ECS_EVENTS = [
    *(pytest.param(_deployment(name), id=name) for name in DEPLOYMENT_EVENT_NAMES),
    *(pytest.param(_hook(name, kind), id=f"{name} {kind}") for name, kind in HOOK_EVENTS),
    *(pytest.param(_task(status), id=f"task {status}") for status in TASK_STATUSES),
]


def _wakes(event: EventMessageType) -> bool:
    """Whether the notifier wakes a wait of the deployer's cluster on `event`."""
    return bool(woken_keys(cast("dict[str, Any]", event), {"shop-demo"}))


def _notifier_rules(transformed: dict[str, Any], sources: str) -> list[dict[str, Any]]:
    """The notifier's rules' patterns, for a stack whose EcsEventSourceAccounts is `sources`."""
    resolver = _resolver(transformed, sources)
    return [
        resolver.resolve(transformed["Resources"][name]["Properties"]["EventPattern"])
        for name in NOTIFIER_RULES
    ]


def _resolver(transformed: dict[str, Any], sources: str) -> Resolver:
    return Resolver(transformed, REQUIRED_PARAMETERS | {"EcsEventSourceAccounts": sources})


@pytest.mark.parametrize("event", ECS_EVENTS)
def test_only_what_wakes_a_wait_is_forwarded_and_notified(
    transformed: dict[str, Any], event: EventMessageType
) -> None:
    notified = any(_matches(pattern, event) for pattern in _notifier_rules(transformed, ""))

    assert _forwarded("ecs-events-forwarding.yaml", event) is _wakes(event)
    assert notified is _wakes(event)


def test_another_clusters_task_and_pause_stay_home() -> None:
    other = CLUSTER.replace("shop-demo", "other")

    assert not _forwarded("ecs-events-forwarding.yaml", _task("STOPPED", cluster=other))
    assert not _forwarded(
        "ecs-events-forwarding.yaml", _hook("HOOK_AWAITING_ACTION", cluster=other)
    )


@pytest.mark.parametrize(
    ("sources", "account", "woken"),
    [
        pytest.param("", ACCOUNT_ID, True, id="own event, no sources"),
        pytest.param("", TARGET_ACCOUNT, False, id="unlisted account"),
        pytest.param(TARGET_ACCOUNT, TARGET_ACCOUNT, True, id="listed account"),
        pytest.param(TARGET_ACCOUNT, ACCOUNT_ID, True, id="own event with sources"),
        pytest.param(TARGET_ACCOUNT, "444444444444", False, id="another account"),
    ],
)
def test_the_notifier_takes_this_account_and_the_listed_ones(
    transformed: dict[str, Any], sources: str, account: str, woken: bool
) -> None:
    deployments, hooks, tasks = _notifier_rules(transformed, sources)
    paused = _hook("HOOK_AWAITING_ACTION")

    assert _matches(deployments, _deployment("SERVICE_DEPLOYMENT_COMPLETED", account)) is woken
    assert _matches(hooks, cast("EventMessageType", {**paused, "account": account})) is woken
    assert _matches(tasks, _task("STOPPED", account=account)) is woken


def test_the_bus_takes_ecs_events_from_the_listed_accounts_only(
    transformed: dict[str, Any],
) -> None:
    def bus_policy(sources: str) -> dict[str, Any] | None:
        resolver = _resolver(transformed, sources)
        policy: dict[str, Any] = transformed["Resources"]["EcsEventSourceAccountsBusPolicy"]
        return resolver.resolve(policy) if resolver.condition(policy["Condition"]) else None

    assert bus_policy("") is None
    policy = bus_policy(f"{TARGET_ACCOUNT},444444444444")
    assert policy is not None
    assert policy["Properties"]["Statement"] == {
        "Effect": "Allow",
        "Principal": {"AWS": [TARGET_ACCOUNT, "444444444444"]},
        "Action": "events:PutEvents",
        "Resource": f"arn:aws:events:us-east-1:{ACCOUNT_ID}:event-bus/default",
    }
