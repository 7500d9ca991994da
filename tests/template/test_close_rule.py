"""An execution of the deploy state machine that ends unfinished reaches the close function.

The rule's pattern, resolved from the transformed template, is matched with moto's own
EventBridge matcher (the local cloud's) against status-change events shaped as Step
Functions emits them.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, cast

import pytest
from moto.events.models import EventPattern

from tests.template.cfn import ACCOUNT_ID, REGION, REQUIRED_PARAMETERS, STACK_NAME, Resolver

if TYPE_CHECKING:
    from moto.events.utils import EventMessageType

RULE = "CloseExecutionFunctionExecutionEnded"
MACHINE = f"arn:aws:states:{REGION}:{ACCOUNT_ID}:stateMachine:{STACK_NAME}-deploy"


def _status_change(status: str, machine: str = "<Ref DeployStateMachine>") -> EventMessageType:
    execution = f"{machine.replace(':stateMachine:', ':execution:')}:shop-0123"
    return cast(
        "EventMessageType",
        {
            "version": "0",
            "id": "315c1398-40ff-a850-213b-158f73e60175",
            "detail-type": "Step Functions Execution Status Change",
            "source": "aws.states",
            "account": ACCOUNT_ID,
            "time": "2026-11-22T10:15:30Z",
            "region": REGION,
            "resources": [execution],
            "detail": {
                "executionArn": execution,
                "stateMachineArn": machine,
                "name": "shop-0123",
                "status": status,
                "startDate": 1795860000000,
                "stopDate": 1795860060000,
                "input": "{}",
                "output": None,
            },
        },
    )


@pytest.fixture(scope="module")
def pattern(transformed: dict[str, Any]) -> EventPattern:
    rule = transformed["Resources"][RULE]
    resolved = Resolver(transformed, REQUIRED_PARAMETERS).resolve(
        rule["Properties"]["EventPattern"]
    )
    return EventPattern.load(json.dumps(resolved))


@pytest.mark.parametrize(
    ("status", "matches"),
    [
        ("FAILED", True),
        ("TIMED_OUT", True),
        ("ABORTED", True),
        ("SUCCEEDED", False),  # Finalize recorded it
        ("RUNNING", False),
    ],
)
def test_only_unfinished_endings_reach_the_close_function(
    pattern: EventPattern, status: str, matches: bool
) -> None:
    assert pattern.matches_event(_status_change(status)) is matches


def test_other_state_machines_are_not_ours_to_close(pattern: EventPattern) -> None:
    other = MACHINE.replace(f"{STACK_NAME}-deploy", "billing")
    assert not pattern.matches_event(_status_change("FAILED", other))


def test_the_rule_invokes_the_close_function_and_retries(transformed: dict[str, Any]) -> None:
    (target,) = transformed["Resources"][RULE]["Properties"]["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": ["CloseExecutionFunction", "Arn"]}
    assert target["RetryPolicy"]["MaximumRetryAttempts"] > 0
    permission = next(
        resource["Properties"]
        for resource in transformed["Resources"].values()
        if resource["Type"] == "AWS::Lambda::Permission"
        and resource["Properties"]["FunctionName"] == {"Ref": "CloseExecutionFunction"}
    )
    assert permission["Principal"] == "events.amazonaws.com"
    assert permission["SourceArn"] == {"Fn::GetAtt": [RULE, "Arn"]}
