"""The Step Functions adapter: does an execution exist, is it still running, what was its input?
And the task tokens of waits: wake one."""

from __future__ import annotations

import json
from functools import cached_property
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from ecs_deployer.aws.clients import error_code, transient_errors_as_retryable

if TYPE_CHECKING:
    from collections.abc import Callable

    from mypy_boto3_stepfunctions import SFNClient


class Executions:
    def __init__(self, client: Callable[[], SFNClient]) -> None:
        """``client`` makes the Step Functions client when an execution is first read: most
        invocations of the steps that hold one read none, so their cold start skips it."""
        self._client = client

    @cached_property
    def _sfn(self) -> SFNClient:
        return self._client()

    def _describe(self, execution_arn: str) -> dict[str, Any] | None:
        try:
            with transient_errors_as_retryable():
                response: dict[str, Any] = dict(
                    self._sfn.describe_execution(executionArn=execution_arn)
                )
        except ClientError as exc:
            # An ARN no execution can have (a claim in an input) names none either.
            if error_code(exc) in {"ExecutionDoesNotExist", "InvalidArn"}:
                return None
            raise
        return response

    def is_running(self, execution_arn: str) -> bool:
        described = self._describe(execution_arn)
        return described is not None and described["status"] == "RUNNING"

    def exists(self, execution_arn: str) -> bool:
        return self._describe(execution_arn) is not None

    def input_of(self, execution_arn: str) -> Any:
        """The execution's input, parsed (None if there is no such execution)."""
        described = self._describe(execution_arn)
        return json.loads(described.get("input") or "null") if described else None


class TaskTokens:
    def __init__(self, client: Callable[[], SFNClient]) -> None:
        """``client`` makes the Step Functions client at the first token woken: most ECS
        events the notifier receives wake no wait, so its cold start skips it."""
        self._client = client

    @cached_property
    def _sfn(self) -> SFNClient:
        return self._client()

    def wake(self, token: str) -> bool:
        """End the wait of `token` (SendTaskSuccess); False if its wait is over already
        (timed out, woken, its execution ended: TaskTimedOut, InvalidToken)."""
        try:
            with transient_errors_as_retryable():
                self._sfn.send_task_success(taskToken=token, output="{}")
        except ClientError as exc:
            if error_code(exc) in {"TaskTimedOut", "InvalidToken", "TaskDoesNotExist"}:
                return False
            raise
        return True
