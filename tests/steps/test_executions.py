"""The Step Functions adapter (aws/stepfunctions.py): an execution that cannot exist is
answered as one that does not, never as an error that fails the step reading it."""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber

from ecs_deployer.aws.stepfunctions import Executions

OURS = "arn:aws:states:us-east-1:123456789012:execution:ecs-deployer-deploy:"


@pytest.mark.parametrize(
    ("code", "name"),
    [("ExecutionDoesNotExist", "gone"), ("InvalidArn", "not a valid name!")],
)
def test_an_execution_that_cannot_exist_has_no_input(code: str, name: str) -> None:
    client = boto3.client("stepfunctions", region_name="us-east-1")
    with Stubber(client) as stubbed:
        stubbed.add_client_error("describe_execution", service_error_code=code)
        assert Executions(client).input_of(OURS + name) is None
