"""The Step Functions adapter (aws/stepfunctions.py): an execution that cannot exist is
answered as one that does not, never as an error that fails the step reading it; clients
are made only when a call needs them."""

from __future__ import annotations

from typing import TYPE_CHECKING

import boto3
import pytest
from botocore.stub import Stubber

from ecs_deployer.aws.stepfunctions import Executions, TaskTokens

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient

OURS = "arn:aws:states:us-east-1:123456789012:execution:ecs-deployer-deploy:"


@pytest.mark.parametrize(
    ("code", "name"),
    [("ExecutionDoesNotExist", "gone"), ("InvalidArn", "not a valid name!")],
)
def test_an_execution_that_cannot_exist_has_no_input(code: str, name: str) -> None:
    client = boto3.client("stepfunctions", region_name="us-east-1")
    with Stubber(client) as stubbed:
        stubbed.add_client_error("describe_execution", service_error_code=code)
        assert Executions(lambda: client).input_of(OURS + name) is None


def test_the_client_is_made_at_the_first_read_and_once() -> None:
    """A cold start that reads no execution makes no Step Functions client."""
    client = boto3.client("stepfunctions", region_name="us-east-1")
    made: list[SFNClient] = []

    def make() -> SFNClient:
        made.append(client)
        return client

    executions = Executions(make)
    assert made == []
    with Stubber(client) as stubbed:
        for _ in range(2):
            stubbed.add_client_error(
                "describe_execution", service_error_code="ExecutionDoesNotExist"
            )
        executions.exists(OURS + "one")
        executions.exists(OURS + "two")
    assert made == [client]


def test_the_notifier_makes_its_client_at_the_first_token_woken_and_once() -> None:
    """Most ECS events wake no wait: their cold start makes no Step Functions client."""
    client = boto3.client("stepfunctions", region_name="us-east-1")
    made: list[SFNClient] = []

    def make() -> SFNClient:
        made.append(client)
        return client

    tokens = TaskTokens(make)
    assert made == []
    with Stubber(client) as stubbed:
        stubbed.add_response("send_task_success", {})
        stubbed.add_client_error("send_task_success", service_error_code="TaskTimedOut")
        assert tokens.wake("token-1") is True
        assert tokens.wake("token-2") is False  # its wait is over already
    assert made == [client]
