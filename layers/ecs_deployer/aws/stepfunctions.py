"""The Step Functions adapter: is an execution still running?"""

from __future__ import annotations

from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from ecs_deployer.aws.clients import error_code, transient_errors_as_retryable

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient


class Executions:
    def __init__(self, client: SFNClient) -> None:
        self._sfn = client

    def is_running(self, execution_arn: str) -> bool:
        try:
            with transient_errors_as_retryable():
                response = self._sfn.describe_execution(executionArn=execution_arn)
        except ClientError as exc:
            if error_code(exc) == "ExecutionDoesNotExist":
                return False
            raise
        return response["status"] == "RUNNING"
