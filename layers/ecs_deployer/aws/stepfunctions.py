"""The Step Functions adapter: is an execution still running, and what did it carry?"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError
from pydantic import ValidationError

from ecs_deployer.aws.clients import error_code, transient_errors_as_retryable
from ecs_deployer.document import Deployment

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient

# Where a history event carries state data: what a state received, and what it passed on.
_DATA_FIELDS = (
    ("stateEnteredEventDetails", "input"),
    ("stateExitedEventDetails", "output"),
)


class Executions:
    def __init__(self, client: SFNClient) -> None:
        self._sfn = client

    def _describe(self, execution_arn: str) -> dict[str, Any] | None:
        try:
            with transient_errors_as_retryable():
                response: dict[str, Any] = dict(
                    self._sfn.describe_execution(executionArn=execution_arn)
                )
        except ClientError as exc:
            if error_code(exc) == "ExecutionDoesNotExist":
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

    def last_deployment(self, execution_arn: str) -> Deployment | None:
        """The newest deployment document the execution's history carries, if any: what the
        execution knew when it ended (newest events first, so usually the first page)."""
        paginator = self._sfn.get_paginator("get_execution_history")
        with transient_errors_as_retryable():
            for page in paginator.paginate(
                executionArn=execution_arn, reverseOrder=True, includeExecutionData=True
            ):
                for event in page["events"]:
                    document = _deployment_in(dict(event))
                    if document is not None:
                        return document
        return None


def _deployment_in(event: dict[str, Any]) -> Deployment | None:
    for details, field in _DATA_FIELDS:
        text = event.get(details, {}).get(field)
        try:
            data = json.loads(text) if text else None
        except json.JSONDecodeError:
            continue
        if isinstance(data, dict) and data.get("kind") == "deploy":
            # Catch results the ASL adds beside the document (release_error) are not part of it.
            known = {key: value for key, value in data.items() if key in Deployment.model_fields}
            try:
                return Deployment.model_validate(known)
            except ValidationError:
                continue
    return None
