"""Following executions (shared by `deploy` and the demo), on a fake Step Functions that
pages its history newest first as AWS does (moto ignores reverseOrder and page sizes)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import msgspec
import pytest

from ecs_deployer_tools.operator.follow import (
    ExecutionOutcome,
    HistoryFollower,
    execution_outcome,
    follow_execution,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

STARTED = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
ARN = "arn:aws:states:us-east-1:123456789012:execution:ecs-deployer-deploy:shop-manual-1"
PAGE = 3


def _entered(state: str) -> dict[str, Any]:
    return {"type": "TaskStateEntered", "stateEnteredEventDetails": {"name": state}}


def _succeeded(payload: dict[str, Any]) -> dict[str, Any]:
    output = json.dumps({"Payload": payload, "StatusCode": 200})
    return {"type": "TaskSucceeded", "taskSucceededEventDetails": {"output": output}}


class _Sfn:
    """GetExecutionHistory in pages of PAGE events; each DescribeExecution adds one step."""

    def __init__(self, steps: list[list[dict[str, Any]]], ending: dict[str, Any]) -> None:
        self.events: list[dict[str, Any]] = []
        self._steps = steps
        self._ending = ending
        self.pages_read = 0

    def describe_execution(self, executionArn: str) -> dict[str, Any]:  # noqa: N803
        if self._steps:
            for event in self._steps.pop(0):
                number = len(self.events) + 1
                moment = STARTED + timedelta(seconds=10 * number)
                self.events.append({"timestamp": moment, **event, "id": number})
        status = "RUNNING" if self._steps else self._ending["status"]
        return {
            "executionArn": executionArn,
            "name": "shop-manual-1",
            **self._ending,
            "status": status,
        }

    def get_paginator(self, name: str) -> _Sfn:
        assert name == "get_execution_history"
        return self

    def paginate(self, executionArn: str, reverseOrder: bool) -> Iterator[dict[str, Any]]:  # noqa: N803
        assert reverseOrder
        events = list(reversed(self.events))
        for start in range(0, len(events), PAGE):
            self.pages_read += 1
            yield {"events": events[start : start + PAGE]}


class _Observer:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []
        self.elapsed: list[timedelta] = []

    def entered(self, execution: str, state: str, since_start: timedelta) -> None:
        self.seen.append(("entered", state))
        self.elapsed.append(since_start)

    def checked(self, execution: str, deployment: dict[str, Any]) -> None:
        self.seen.append(("checked", deployment["services"][0]["progress"]))

    def ended(self, execution: str, outcome: ExecutionOutcome, since_start: timedelta) -> None:
        self.seen.append(("ended", f"{outcome.status}: {outcome.message}"))


class _Document(msgspec.Struct):
    """A saved deployment document: what following it reads."""

    services: list[dict[str, Any]]


class _Documents:
    """The deployments table: the document a check step saved, by its reference."""

    def __init__(self, documents: dict[str, dict[str, Any]]) -> None:
        self._documents = documents

    def load_document(self, app: str, deployment_id: str) -> _Document | None:
        data = self._documents.get(f"{app}/{deployment_id}")
        return _Document(**data) if data is not None else None


def test_each_event_is_reported_once_in_order_reading_only_new_pages() -> None:
    check = {"kind": "deploy", "app": "shop", "deployment_id": "shop-manual-1"}
    documents = _Documents({"shop/shop-manual-1": {"services": [{"progress": "1/2 running"}]}})
    steps = [
        [_entered("Resolve"), _succeeded({"kind": "deploy"}), _entered("UpdateServices")],
        [{"type": "TaskScheduled"}, _entered("CheckServices"), _succeeded(check)],
        [_entered("Finalize"), _succeeded({"kind": "deploy"}), _entered("Deployed")],
    ]
    output = json.dumps({"status": "SUCCEEDED", "summary": {"app": "shop"}})
    sfn = _Sfn(steps, {"status": "SUCCEEDED", "output": output})
    observer = _Observer()
    outcome = follow_execution(
        sfn,  # type: ignore[arg-type]
        ARN,
        observer,
        poll_seconds=0,
        documents=documents,  # type: ignore[arg-type]
    )
    assert observer.seen == [
        ("entered", "Resolve"),
        ("entered", "UpdateServices"),
        ("entered", "CheckServices"),
        # Only a check step learns how the rollout goes: its saved document says.
        ("checked", "1/2 running"),
        ("entered", "Finalize"),
        ("entered", "Deployed"),
    ]
    assert (outcome.status, outcome.summary) == ("SUCCEEDED", {"app": "shop"})
    # Newest first, stopping at what was read: each poll read one or two pages, not all.
    assert sfn.pages_read == 1 + 2 + 2  # reading it all each time: 1 + 2 + 3


def test_each_state_is_told_with_the_time_since_the_execution_started() -> None:
    started = {"type": "ExecutionStarted", "timestamp": STARTED}
    sfn = _Sfn([[started, _entered("A"), _entered("B")]], {"status": "RUNNING"})
    sfn.describe_execution(ARN)
    observer = _Observer()
    HistoryFollower(sfn, observer).read(ARN, "x")  # type: ignore[arg-type]
    assert observer.elapsed == [timedelta(seconds=20), timedelta(seconds=30)]


def test_how_each_execution_ended_is_told_with_why() -> None:
    output = json.dumps({"kind": "ignored", "status": "IGNORED", "reason": "tag main-1 is not v*"})
    ended = {"type": "ExecutionSucceeded", "executionSucceededEventDetails": {"output": output}}
    sfn = _Sfn([[_entered("Resolve"), ended]], {"status": "SUCCEEDED", "output": output})
    observer = _Observer()
    follow_execution(sfn, ARN, observer, poll_seconds=0)  # type: ignore[arg-type]
    assert observer.seen[-1] == ("ended", "IGNORED: tag main-1 is not v*")


def test_transitions_count_every_state_entered() -> None:
    sfn = _Sfn([[_entered("A"), _entered("B?")]], {"status": "SUCCEEDED", "output": "{}"})
    sfn.describe_execution(ARN)
    history = HistoryFollower(sfn)  # type: ignore[arg-type]
    history.read(ARN, "x")
    history.read(ARN, "x")
    assert history.transitions == 2


def _described(status: str, **fields: Any) -> Any:
    return {"executionArn": ARN, "name": "shop-manual-1", "status": status, **fields}


@pytest.mark.parametrize(
    ("described", "expected"),
    [
        (
            _described("SUCCEEDED", output='{"status": "SUPERSEDED", "summary": {"app": "shop"}}'),
            ("SUPERSEDED", None, None, {"app": "shop"}),
        ),
        (
            _described(
                "SUCCEEDED", output='{"kind": "ignored", "status": "IGNORED", "reason": "r"}'
            ),
            ("IGNORED", None, "r", {}),
        ),
        (
            _described(
                "FAILED",
                error="RolloutFailed",
                cause='{"status": "ROLLED_BACK", "error": "RolloutFailed", "message": "m"}',
            ),
            (
                "ROLLED_BACK",
                "RolloutFailed",
                "m",
                {"status": "ROLLED_BACK", "error": "RolloutFailed", "message": "m"},
            ),
        ),
        (
            _described(
                "FAILED",
                error="DeploymentError",
                cause='{"errorMessage": "boom", "errorType": "KeyError"}',
            ),
            ("FAILED", "DeploymentError", "boom", {}),
        ),
        (
            _described("ABORTED"),
            ("ABORTED", "ABORTED", "the execution is ABORTED", {}),
        ),
    ],
)
def test_how_an_execution_ended(described: Any, expected: tuple[Any, ...]) -> None:
    outcome = execution_outcome(described)
    assert (outcome.status, outcome.error, outcome.message, outcome.summary) == expected
    assert outcome.execution_status == described["status"]
