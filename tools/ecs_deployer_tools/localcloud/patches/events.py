"""EventBridge: rules deliver to the stack's targets, and events look and are timed as on
AWS, where moto's EventBridge falls short.

1. Rule targets that are state machines start an execution with the event (or its
   `Input`/`InputPath`/`InputTransformer` result) as input; moto raises
   NotImplementedError for them. The event has AWS's shape (ISO `time`, no
   `ingestion-time`). Disabled rules deliver nothing, as on AWS. Other target types
   keep moto's delivery.
2. Rule targets that are Lambda functions get the event as an asynchronous ("Event")
   Invoke, as EventBridge delivers to Lambda; moto raises NotImplementedError for them.
   A failed delivery is logged, never raised to the sender. (The Step Functions status
   change events of `stepfunctions.py` reach the stack's Lambda this way.)
3. `TestEventPattern` answers `{"Result": true|false}` with the matcher that routes
   the emulator's events; moto answers with an empty body.
4. Event times come from the virtual clock (`virtual_time.py`): whole seconds in the
   event, as on AWS.
5. A rule without an event pattern (a schedule's) matches no event: moto's empty pattern
   matched every event, so a schedule rule's target got every event on the bus. Schedule
   rules never fire by themselves (moto has no scheduler either): `fire_schedule` delivers
   one tick, EventBridge's "Scheduled Event" from source `aws.events` with the rule's ARN
   in `resources` and an empty `detail`, to the rule's targets as in 1 and 2.
6. A rule target that is another account's event bus receives the event as it was: same
   id, `account` (the sender's), `time`, `region`, `resources` and detail, and only when
   that bus's policy allows the sender's account `events:PutEvents` and no statement of it
   denies it (`resource_policy_decision`, with the event's `events:source` and
   `events:detail-type` for conditions); otherwise the event
   is dropped (logged), never raised to the sender (a policy the guard cannot read raises:
   it refuses, never allows). moto put a new event there, as the
   receiving account's, with a new id and no resources, whatever the bus's policy.

`put_event` is how the other patches emit an AWS service's event (ECR's, Step Functions').
"""

from __future__ import annotations

import copy
import json
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

from jsonpath_ng.ext.parser import parse as jsonpath
from moto.awslambda.utils import get_backend as lambda_backend
from moto.events import models as events_models
from moto.events.models import EventPattern, Rule, events_backends
from moto.events.responses import EventsHandler
from moto.events.utils import EventMessageType, EventTemplateParser
from moto.moto_api._internal import mock_random
from moto.stepfunctions.responses import get_backend as sfn_backend
from moto.utilities.arns import parse_arn

from ecs_deployer_tools.localcloud import virtual_time
from ecs_deployer_tools.localcloud.iam.guard import resource_policy_decision
from ecs_deployer_tools.localcloud.iam.policy import AuthorizationRequest

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from ecs_deployer_tools.localcloud.patches.patcher import Patcher

log = logging.getLogger(__name__)


def install(patcher: Patcher) -> None:
    """Apply this module's patches."""
    patcher.around(Rule, "send_to_targets", _send_to_targets)
    patcher.replace(EventsHandler, "test_event_pattern", _test_event_pattern)
    patcher.replace(events_models, "unix_time", _unix_time)
    patcher.replace(events_models, "unix_time_millis", _unix_time_millis)


def put_event(
    account_id: str,
    region: str,
    *,
    source: str,
    detail_type: str,
    detail: Mapping[str, Any],
    resources: Sequence[str] = (),
    time: datetime | None = None,
) -> None:
    """Put an AWS service's event (`source` such as "aws.ecr") on the default bus, of
    `time` (by default: now)."""
    entry: dict[str, Any] = {
        "Source": source,
        "DetailType": detail_type,
        "Detail": json.dumps(detail),
        "Resources": list(resources),
    }
    if time is not None:
        entry["Time"] = _unix_time(time)
    events_backends[account_id][region].put_events([entry])


# --- 1. and 2. Rule targets: state machines, Lambda functions ---------------------------


def _send_to_targets(
    original: Callable[[Rule, EventMessageType, bool], None],
    rule: Rule,
    original_event: EventMessageType,
    transform_input: bool = True,
) -> None:
    pattern = rule.event_pattern
    if rule.state != "ENABLED" or pattern._raw_pattern is None:  # item 5: a schedule only
        return
    if not pattern.matches_event(original_event):
        return
    others = []
    for target in rule.targets:
        arn = parse_arn(target["Arn"])
        if arn.service == "states" and arn.resource_type == "stateMachine":
            deliver, action = _start_execution, "start"
        elif arn.service == "lambda":
            deliver, action = _invoke, "invoke"
        elif arn.service == "events" and arn.resource_type == "event-bus":
            try:  # the event as sent, unchanged (6)
                _forward(arn.account, arn.region, arn.resource_id, original_event)
            except Exception:
                log.exception("EventBridge could not forward to %s", target["Arn"])
            continue
        else:
            others.append(target)
            continue
        event = _aws_event(original_event)
        try:
            deliver(target, event, arn.account, arn.region)
        except Exception:
            # EventBridge retries and then drops (or dead-letters): the sender never sees it.
            log.exception("EventBridge could not %s %s", action, target["Arn"])
    if others:
        # moto's delivery reads only the rule's attributes: hand it a copy with the rest.
        rest = copy.copy(rule)
        rest.targets = others
        original(rest, original_event, transform_input)


def _aws_event(event: EventMessageType) -> dict[str, Any]:
    """The event as targets receive it on AWS: ISO `time`, no moto-internal keys."""
    shaped = {key: value for key, value in event.items() if key != "ingestion-time"}
    when = event.get("time")
    if isinstance(when, int | float):  # moto keeps epoch seconds
        shaped["time"] = datetime.fromtimestamp(when, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return shaped


def _target_input(target: dict[str, Any], event: dict[str, Any]) -> Any:
    if "Input" in target:
        return json.loads(target["Input"])
    if "InputPath" in target:
        matches = jsonpath(target["InputPath"]).find(event)
        return matches[0].value if matches else None
    if "InputTransformer" in target:
        transformer = target["InputTransformer"]
        # moto's template parser also offers <aws.events.event.ingestion-time>.
        with_ingestion_time = cast("EventMessageType", {**event, "ingestion-time": event["time"]})
        return EventTemplateParser.parse(
            input_template=transformer.get("InputTemplate"),
            input_paths_map=transformer.get("InputPathsMap", {}),
            event=with_ingestion_time,
        )
    return event


def _start_execution(
    target: dict[str, Any], event: dict[str, Any], account: str, region: str
) -> None:
    sfn_backend(account, region).start_execution(
        target["Arn"],
        name=str(mock_random.uuid4()),
        execution_input=json.dumps(_target_input(target, event)),
    )


def _invoke(target: dict[str, Any], event: dict[str, Any], account: str, region: str) -> None:
    lambda_backend(account, region).invoke(
        target["Arn"],
        None,
        json.dumps(_target_input(target, event)),
        {"X-Amz-Invocation-Type": "Event"},
        {},
    )


# --- 6. Another account's event bus ---------------------------------------------------


def _forward(account: str, region: str, bus_name: str, event: EventMessageType) -> None:
    """Deliver ``event``, unchanged, to the rules of ``account``'s bus ``bus_name``."""
    sender = event["account"]
    bus = events_backends[account][region].describe_event_bus(bus_name)
    request = AuthorizationRequest(
        "events:PutEvents",
        bus.arn,
        {"events:source": str(event["source"]), "events:detail-type": str(event["detail-type"])},
    )
    if (
        account != sender
        and not resource_policy_decision(bus.policy, bus.arn, sender, request).allowed
    ):
        log.error("EventBridge could not put an event on %s: its policy denies %s", bus.arn, sender)
        return
    for rule in list(bus.rules.values()):
        rule.send_to_targets(copy.deepcopy(event))


# --- 5. A schedule rule's tick ----------------------------------------------------------


def fire_schedule(account_id: str, region: str, rule_name: str) -> None:
    """Deliver one "Scheduled Event" of the schedule rule `rule_name` to its targets."""
    rule = events_backends[account_id][region].describe_rule(rule_name, None)
    if not rule.scheduled_expression:
        raise ValueError(f"rule {rule_name} has no schedule")
    event = {
        "version": "0",
        "id": str(mock_random.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": account_id,
        "time": virtual_time.now().strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [rule.arn],
        "detail": {},
    }
    for target in rule.targets if rule.state == "ENABLED" else []:
        arn = parse_arn(target["Arn"])
        deliver = _invoke if arn.service == "lambda" else _start_execution
        deliver(target, event, arn.account, arn.region)


# --- 3. TestEventPattern ----------------------------------------------------------------


def _test_event_pattern(handler: EventsHandler) -> str:
    pattern = EventPattern.load(handler._get_param("EventPattern"))
    event = json.loads(handler._get_param("Event"))
    return json.dumps({"Result": bool(pattern.matches_event(event))})


# --- 4. Event times from the virtual clock ----------------------------------------------


def _unix_time(dt: datetime | None = None) -> float:
    return (dt or virtual_time.now()).replace(tzinfo=UTC).timestamp()


def _unix_time_millis(dt: datetime | None = None) -> float:
    return _unix_time(dt) * 1000.0
