"""Following executions of the deploy state machine as they run, and reading how they ended.

Shared by ``ecs-deployer deploy``/``rollback`` (one execution) and the demo (every execution
of the state machine): each state entered and each rollout check is told to an observer.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from ecs_deployer.outcome import Cause, ServiceSummary, TaskSummary, failure_message
from ecs_deployer.structs import decode, encode

if TYPE_CHECKING:
    from datetime import datetime, timedelta

    from mypy_boto3_stepfunctions import SFNClient
    from mypy_boto3_stepfunctions.type_defs import (
        DescribeExecutionOutputTypeDef,
        HistoryEventTypeDef,
    )

    from ecs_deployer.document import Deployment

# The history events an execution ends with, and the status it ends in.
_ENDED = {
    "ExecutionSucceeded": "SUCCEEDED",
    "ExecutionFailed": "FAILED",
    "ExecutionAborted": "ABORTED",
    "ExecutionTimedOut": "TIMED_OUT",
}
# Reading an execution's progress once a second is live enough for people and well within
# Step Functions' GetExecutionHistory and DescribeExecution quotas.
FOLLOW_POLL_SECONDS = 1.0


class Observer(Protocol):
    """Who watches executions (the CLI's live view)."""

    def entered(self, execution: str, state: str, since_start: timedelta) -> None: ...

    def checked(self, execution: str, deployment: dict[str, Any]) -> None: ...

    def ended(self, execution: str, outcome: ExecutionOutcome, since_start: timedelta) -> None: ...


class Documents(Protocol):
    """Where a check step's deployment document is read (the deployments table): the state
    carries only a reference to it."""

    def load_document(self, app: str, deployment_id: str) -> Deployment | None: ...


class HistoryFollower:
    """Reads executions' histories as they grow; tells the observer what happens."""

    def __init__(
        self, sfn: SFNClient, observer: Observer | None = None, documents: Documents | None = None
    ) -> None:
        self._sfn = sfn
        self._observer = observer
        self._documents = documents
        self._last_event: dict[str, int] = {}  # the id of the last event read, per execution
        self._state: dict[str, str] = {}  # the state each execution is in
        self._started: dict[str, datetime] = {}  # when each execution started
        self.transitions = 0

    def read(self, execution_arn: str, name: str) -> None:
        """Report the events added to the execution's history since the last read."""
        for event in self._new_events(execution_arn):
            self._report(execution_arn, name, event)

    def _new_events(self, execution_arn: str) -> list[HistoryEventTypeDef]:
        last = self._last_event.get(execution_arn, 0)
        fresh: list[HistoryEventTypeDef] = []
        # Newest first, up to what was read before: one page per poll of a long history.
        # (Emulators that ignore reverseOrder send it all in one page: the same result.)
        paginator = self._sfn.get_paginator("get_execution_history")
        for page in paginator.paginate(executionArn=execution_arn, reverseOrder=True):
            fresh += [event for event in page["events"] if event["id"] > last]
            if any(event["id"] <= last for event in page["events"]):
                break
        fresh.sort(key=lambda event: event["id"])
        if fresh:
            self._last_event[execution_arn] = fresh[-1]["id"]
        return fresh

    def _report(self, execution_arn: str, name: str, event: HistoryEventTypeDef) -> None:
        since_start = event["timestamp"] - self._started.get(name, event["timestamp"])
        if event["type"] == "ExecutionStarted":
            self._started[name] = event["timestamp"]
        elif event["type"].endswith("StateEntered"):
            self.transitions += 1
            self._state[name] = event["stateEnteredEventDetails"]["name"]
            if self._observer is not None:
                self._observer.entered(name, self._state[name], since_start)
        elif event["type"] in _ENDED and self._observer is not None:
            succeeded = event.get("executionSucceededEventDetails", {})
            failed = event.get("executionFailedEventDetails", {})
            outcome = ending(
                execution_arn,
                name,
                _ENDED[event["type"]],
                output=succeeded.get("output"),
                error=failed.get("error"),
                cause=failed.get("cause"),
            )
            self._observer.ended(name, outcome, since_start)
        elif event["type"] == "TaskSucceeded" and self._observer and self._documents:
            if not self._state.get(name, "").startswith("Check"):
                return  # only the check steps learn anything new about the rollout
            output = json.loads(event["taskSucceededEventDetails"].get("output") or "{}")
            payload = output.get("Payload")
            if isinstance(payload, dict) and payload.get("kind") == "deploy":
                document = self._documents.load_document(payload["app"], payload["deployment_id"])
                if document is not None:
                    self._observer.checked(name, encode(document))


@dataclass(frozen=True)
class ExecutionOutcome:
    """How an execution ended, in the deployer's words."""

    execution_arn: str
    name: str
    execution_status: str  # Step Functions': SUCCEEDED, FAILED, ABORTED, TIMED_OUT
    # The deployment's: SUCCEEDED, SUPERSEDED, FAILED, ROLLED_BACK, ROLLBACK_FAILED, IGNORED,
    # or ABORTED when the execution was stopped or timed out before it could say.
    status: str
    error: str | None = None
    message: str | None = None
    # On success the outcome's summary; on failure the Fail state's cause (services, tasks).
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def succeeded(self) -> bool:
        return self.status == "SUCCEEDED"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def services(self) -> list[ServiceSummary]:
        return services_of(self.summary)

    @property
    def tasks(self) -> list[TaskSummary]:
        return tasks_of(self.summary)


def services_of(summary: dict[str, Any]) -> list[ServiceSummary]:
    """The services of an outcome's summary or a failure's cause (outcome.py's contract)."""
    return [decode(service, ServiceSummary) for service in summary.get("services", [])]


def tasks_of(summary: dict[str, Any]) -> list[TaskSummary]:
    return [decode(task, TaskSummary) for task in summary.get("tasks", [])]


def _parsed(text: str | None) -> Any:
    try:
        return json.loads(text or "")
    except json.JSONDecodeError:
        return None


def execution_outcome(described: DescribeExecutionOutputTypeDef) -> ExecutionOutcome:
    """DescribeExecution's answer for a finished execution → its outcome."""
    return ending(
        described["executionArn"],
        described["name"],
        described["status"],
        output=described.get("output"),
        error=described.get("error"),
        cause=described.get("cause"),
    )


def ending(
    arn: str,
    name: str,
    state: str,
    *,
    output: str | None = None,
    error: str | None = None,
    cause: str | None = None,
) -> ExecutionOutcome:
    """How an execution that ended in Step Functions' ``state`` ended, in the deployer's
    words: from its output (SUCCEEDED) or its error and cause (FAILED)."""
    if state == "SUCCEEDED":
        result = _parsed(output)
        result = result if isinstance(result, dict) else {}
        return ExecutionOutcome(
            arn,
            name,
            state,
            status=str(result.get("status", state)),
            # Why an ECR push was ignored, or why a deployment was superseded.
            message=result.get("reason") or result.get("message"),
            summary=result.get("summary") or {},
        )
    if state != "FAILED":
        return ExecutionOutcome(
            arn, name, state, status="ABORTED", error=state, message=f"the execution is {state}"
        )
    text = cause or ""
    parsed_cause = Cause.from_text(text)
    if parsed_cause is not None:
        return ExecutionOutcome(
            arn,
            name,
            state,
            status=parsed_cause.status,
            error=error,
            message=parsed_cause.message,
            summary=encode(parsed_cause),
        )
    return ExecutionOutcome(
        arn, name, state, status="FAILED", error=error, message=failure_message(error or "", text)
    )


def follow_execution(
    sfn: SFNClient,
    execution_arn: str,
    observer: Observer | None = None,
    poll_seconds: float = FOLLOW_POLL_SECONDS,
    documents: Documents | None = None,
) -> ExecutionOutcome:
    """Tell ``observer`` what the execution does until it ends; return how it ended."""
    history = HistoryFollower(sfn, observer, documents)
    while True:
        # Status first: once it is final, the history read after it is complete.
        described = sfn.describe_execution(executionArn=execution_arn)
        history.read(execution_arn, described["name"])
        if described["status"] != "RUNNING":
            return execution_outcome(described)
        time.sleep(poll_seconds)
