"""templates/ecs-events-forwarding.yaml: a target account forwards its ECS events, and the
deployer's bus and notifier take them from the accounts the stack lists.

Linted as the main template is (cfn-lint here, checkov in `make checkov`). Its rules send
only what wakes a wait (a service deployment's end, a stop of a task in the listed
clusters), only to the deployer's default bus; its role may put events on that bus alone,
for those rules alone. The patterns are matched with moto's matcher, the local cloud's.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, cast

import pytest
from moto.events.models import EventPattern

from ecs_deployer.domain.waiters import woken_keys
from ecs_deployer_tools.localcloud.sam_template import load_template
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
    from moto.events.utils import EventMessageType

FORWARDING_PATH = REPO_ROOT / "templates" / "ecs-events-forwarding.yaml"
DEPLOYER_ACCOUNT = "222222222222"
DEPLOYER_BUS = f"arn:aws:events:eu-west-1:{DEPLOYER_ACCOUNT}:event-bus/default"
CLUSTER = f"arn:aws:ecs:{REGION}:{ACCOUNT_ID}:cluster/shop-demo"
PARAMETERS = {
    "DeployerAccountId": DEPLOYER_ACCOUNT,
    "DeployerRegion": "eu-west-1",
    "ClusterArns": f"{CLUSTER},arn:aws:ecs:{REGION}:{ACCOUNT_ID}:cluster/billing",
}
RULES = ("DeploymentsForwardingRule", "TasksForwardingRule")
TARGET_ACCOUNT = "111111111111"


@pytest.fixture(scope="module")
def resolved() -> dict[str, Any]:
    template = load_template(FORWARDING_PATH)
    result: dict[str, Any] = Resolver(template, PARAMETERS).resolve(template)
    return result


def _ecs_event(detail_type: str, account: str = ACCOUNT_ID, **detail: Any) -> EventMessageType:
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
            "resources": [f"arn:aws:ecs:{REGION}:{account}:service/shop-demo/shop-web"],
            "detail": detail,
        },
    )


def _deployment(name: str, account: str = ACCOUNT_ID) -> EventMessageType:
    return _ecs_event("ECS Deployment State Change", account, eventName=name)


def _task(status: str, cluster: str = CLUSTER, account: str = ACCOUNT_ID) -> EventMessageType:
    return _ecs_event("ECS Task State Change", account, lastStatus=status, clusterArn=cluster)


def _matches(pattern: dict[str, Any], event: EventMessageType) -> bool:
    return bool(EventPattern.load(json.dumps(pattern)).matches_event(event))


def test_the_forwarding_template_is_lint_clean() -> None:
    assert lint_errors(FORWARDING_PATH.read_text()) == []


@pytest.mark.parametrize("rule", RULES)
def test_each_rule_targets_the_deployer_bus_through_the_role(
    resolved: dict[str, Any], rule: str
) -> None:
    (target,) = resolved["Resources"][rule]["Properties"]["Targets"]

    assert target["Arn"] == DEPLOYER_BUS
    assert target["RoleArn"] == "<ForwardingRole.Arn>"


def test_the_role_puts_events_on_the_deployer_bus_only_for_the_two_rules(
    resolved: dict[str, Any],
) -> None:
    role = resolved["Resources"]["ForwardingRole"]["Properties"]
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
    rules = [resolved["Resources"][rule]["Properties"]["Name"] for rule in RULES]
    assert trust["Condition"] == {
        "StringEquals": {"aws:SourceAccount": ACCOUNT_ID},
        "ArnEquals": {
            "aws:SourceArn": [f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/{r}" for r in rules]
        },
    }
    assert rules == [f"{STACK_NAME}-ecs-deployments", f"{STACK_NAME}-ecs-tasks"]


@pytest.mark.parametrize(
    ("event", "forwarded"),
    [
        pytest.param(_deployment("SERVICE_DEPLOYMENT_COMPLETED"), True, id="completed"),
        pytest.param(_deployment("SERVICE_DEPLOYMENT_FAILED"), True, id="failed"),
        pytest.param(_deployment("SERVICE_DEPLOYMENT_IN_PROGRESS"), False, id="started"),
        pytest.param(_task("STOPPED"), True, id="task stopped"),
        pytest.param(_task("RUNNING"), False, id="task running"),
        pytest.param(
            _task("STOPPED", cluster=CLUSTER.replace("shop-demo", "other")),
            False,
            id="another cluster's task",
        ),
    ],
)
def test_only_what_wakes_a_wait_is_forwarded(
    resolved: dict[str, Any], event: EventMessageType, forwarded: bool
) -> None:
    patterns = [resolved["Resources"][rule]["Properties"]["EventPattern"] for rule in RULES]

    assert any(_matches(pattern, event) for pattern in patterns) is forwarded


# Every ECS deployment event ("Amazon ECS service deployment state change events", ECS
# Developer Guide) and every task `lastStatus` (task lifecycle, ECS Developer Guide).
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
ECS_EVENTS = [
    *(pytest.param(_deployment(name), id=name) for name in DEPLOYMENT_EVENT_NAMES),
    *(pytest.param(_task(status), id=f"task {status}") for status in TASK_STATUSES),
]


@pytest.mark.parametrize("event", ECS_EVENTS)
def test_the_notifier_is_invoked_only_for_what_wakes_a_wait(
    transformed: dict[str, Any], event: EventMessageType
) -> None:
    resolver = _resolver(transformed, "")
    patterns = [
        resolver.resolve(transformed["Resources"][name]["Properties"]["EventPattern"])
        for name in ("NotifyWaitersFunctionServiceDeployments", "NotifyWaitersFunctionTasksStopped")
    ]
    wakes = bool(woken_keys(cast("dict[str, Any]", event), {"shop-demo"}))

    assert any(_matches(pattern, event) for pattern in patterns) is wakes


def _resolver(transformed: dict[str, Any], sources: str) -> Resolver:
    return Resolver(transformed, REQUIRED_PARAMETERS | {"EcsEventSourceAccounts": sources})


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
    resolver = _resolver(transformed, sources)
    rules = {
        name: resolver.resolve(transformed["Resources"][name]["Properties"]["EventPattern"])
        for name in ("NotifyWaitersFunctionServiceDeployments", "NotifyWaitersFunctionTasksStopped")
    }
    deployment = _deployment("SERVICE_DEPLOYMENT_COMPLETED", account)
    task = _task("STOPPED", account=account)

    assert _matches(rules["NotifyWaitersFunctionServiceDeployments"], deployment) is woken
    assert _matches(rules["NotifyWaitersFunctionTasksStopped"], task) is woken


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
