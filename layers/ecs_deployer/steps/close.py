"""Close what an execution left open when it ended without finalising.

Finalize records the outcome and releases the lock on every path the state machine itself
takes. An execution can still end without it: Resolve crashing on every attempt, Finalize
failing on every attempt, an operator's StopExecution, the state machine's own timeout.
Step Functions then emits "Step Functions Execution Status Change" (FAILED, TIMED_OUT,
ABORTED), which an EventBridge rule sends here, so that no record stays QUEUED or
IN_PROGRESS once its execution has ended:

* a deployment whose record is still open: ABORTED, naming what each service runs now;
* a deployment whose Resolve never recorded it: a FAILED record (Resolve changes nothing);
* a push whose dispatch failed before an app's deployment started: a FAILED record for
  each app that wanted the push, under the dispatcher's execution, so that
  ``ecs-deployer history APP`` shows it. (If the app configs cannot be read either, the
  apps are unknown: this function fails and the failed dispatcher execution is the trace.)

A record that is already final is left as it is. The lock is released whenever it still
names the execution (the same release Finalize does, so doing it twice is harmless).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from aws_lambda_powertools import Logger
from msgspec import field

from ecs_deployer.domain import lifecycle
from ecs_deployer.domain.accounts import account_of
from ecs_deployer.domain.admission import ExecutionInputs, failed_record, vouched_for
from ecs_deployer.domain.dispatch import Ignored, dispatch
from ecs_deployer.domain.services import revision
from ecs_deployer.errors import InputError
from ecs_deployer.history import RecordUpdate, iso
from ecs_deployer.inputs import (
    EcrImageActionEvent,
    EventBridgeEvent,
    ManualRequest,
    parse_execution_input,
)
from ecs_deployer.outcome import failure_message
from ecs_deployer.payloads import ExecutionContext
from ecs_deployer.steps import locks
from ecs_deployer.steps.finalize import running_revisions
from ecs_deployer.structs import Tolerant, decode
from ecs_deployer.tracing import annotate

if TYPE_CHECKING:
    from collections.abc import Callable

    from ecs_deployer.aws.dynamodb import DeploymentsTable
    from ecs_deployer.aws.ecs import EcsGateway
    from ecs_deployer.aws.ssm import ConfigStore
    from ecs_deployer.document import Deployment
    from ecs_deployer.domain.lifecycle import LifecyclePublisher
    from ecs_deployer.history import HistoryRecord

logger = Logger(child=True)
_ENDED = {"FAILED": "failed", "TIMED_OUT": "timed out", "ABORTED": "was stopped"}


class ExecutionStatusDetail(Tolerant, kw_only=True, frozen=True):
    """``detail`` of "Step Functions Execution Status Change" (fields AWS adds are ignored)."""

    execution_arn: str = field(name="executionArn")
    state_machine_arn: str = field(name="stateMachineArn")
    name: str
    status: str
    start_date: int = field(name="startDate")  # epoch milliseconds
    input: str | None = None  # absent when too large to carry: read from the execution
    error: str | None = None
    cause: str | None = None


class ExecutionStatusChange(EventBridgeEvent, kw_only=True, frozen=True):
    detail: ExecutionStatusDetail


class ExecutionReader(ExecutionInputs, Protocol):
    """What this step reads of Step Functions executions (aws.stepfunctions.Executions)."""

    def exists(self, execution_arn: str) -> bool: ...


@dataclass(frozen=True)
class CloseDeps:
    configs: ConfigStore
    table: DeploymentsTable
    ecs: Callable[[Deployment], EcsGateway]  # ECS in the deployment's account
    executions: ExecutionReader
    events: LifecyclePublisher | None = None  # hears of each deployment closed ABORTED


@dataclass(frozen=True)
class _Ending:
    """How the execution ended, as a record tells it."""

    error: str | None
    message: str

    @classmethod
    def of(cls, detail: ExecutionStatusDetail) -> _Ending:
        ended = _ENDED.get(detail.status, detail.status.lower())
        message = f"the execution {ended} before finalising"
        reason = failure_message(detail.error or "", detail.cause) if detail.cause else None
        said = ": ".join(part for part in (detail.error, reason) if part)
        if said:
            message += f" ({said})"
        return cls(error=detail.error, message=message)


def _context(detail: ExecutionStatusDetail) -> ExecutionContext:
    return ExecutionContext(
        Id=detail.execution_arn,
        Name=detail.name,
        StartTime=datetime.fromtimestamp(detail.start_date / 1000, UTC),
    )


def close_execution(detail: ExecutionStatusDetail, deps: CloseDeps, now: datetime) -> str:
    """Close the records and the lock the execution left open; returns what it did."""
    annotate(detail.name)
    raw: Any = (
        json.loads(detail.input)
        if detail.input is not None
        else deps.executions.input_of(detail.execution_arn)
    )
    try:
        request = parse_execution_input(raw)
    except InputError:
        return "nothing to close: the input names no app (Resolve rejected it)"
    ending = _Ending.of(detail)
    if isinstance(request, EcrImageActionEvent):
        return _close_dispatch(request, detail, ending, deps, now)
    request = vouched_for(request, _context(detail), deps.executions)
    return _close_deployment(request, detail, ending, deps, now)


def _close_dispatch(
    event: EcrImageActionEvent,
    detail: ExecutionStatusDetail,
    ending: _Ending,
    deps: CloseDeps,
    now: datetime,
) -> str:
    """Record the push as failed for every app it was not dispatched to."""
    result = dispatch(event, deps.configs, deps.table, account_of(detail.state_machine_arn))
    if isinstance(result, Ignored):
        return "nothing to close: no app wanted the push"
    executions = detail.state_machine_arn.replace(":stateMachine:", ":execution:")
    recorded = []
    for target in result.output.targets:
        if deps.executions.exists(f"{executions}:{target.execution_name}"):
            continue  # its own execution records it
        deps.table.create_record(
            failed_record(
                decode(target.input, ManualRequest),
                _context(detail),
                now,
                error=ending.error,
                message=f"{ending.message}: the push never reached app '{target.app}'",
            )
        )
        recorded.append(target.app)
    logger.warning("push not dispatched", extra={"apps": recorded, "execution": detail.name})
    return f"recorded FAILED for app(s) {', '.join(recorded)}" if recorded else "nothing open"


def _close_deployment(
    request: ManualRequest,
    detail: ExecutionStatusDetail,
    ending: _Ending,
    deps: CloseDeps,
    now: datetime,
) -> str:
    annotate(detail.name, request.app)
    record = deps.table.find_record(request.app, detail.name)
    if record is None:
        deps.table.create_record(
            failed_record(
                request,
                _context(detail),
                now,
                error=ending.error,
                message=f"{ending.message}: it was never resolved",
            )
        )
        return "recorded FAILED: the execution ended before Resolve recorded it"
    lock = deps.table.read_lock(request.app, request.environment)
    holds_lock = any(
        entry is not None and entry.deployment_id == detail.name
        for entry in (lock.holder, *lock.waiting)
    )
    if record.is_final and not holds_lock:
        return f"nothing open: the record is {record.status}"
    deployment = deps.table.load_document(request.app, detail.name)
    done = []
    if not record.is_final:
        _abort(record, deployment, ending, deps, now)
        done.append(f"record {record.status} -> ABORTED")
    if deployment is not None and holds_lock:
        locks.release(deployment, deps.table, now)
        done.append("lock released")
    return "; ".join(done) or "nothing open"


def _abort(
    record: HistoryRecord,
    deployment: Deployment | None,
    ending: _Ending,
    deps: CloseDeps,
    now: datetime,
) -> None:
    """Close an open record as ABORTED, naming what each service runs now."""
    cause = ending.message
    update = RecordUpdate(updated_at=iso(now))
    running: dict[str, str | None] = {}
    if deployment is not None:
        update = RecordUpdate.progress(deployment, now)
        running = running_revisions(deployment, deps.ecs(deployment), now)
        if running:
            now_running = ", ".join(
                f"{name} runs {revision(arn) if arn else 'nothing'}"
                for name, arn in running.items()
            )
            cause += f"; {now_running}"
    deps.table.update_record(record, update.ended("ABORTED", now, error=ending.error, cause=cause))
    logger.warning("closed an unfinished record", extra={"deployment_id": record.deployment_id})
    if deployment is not None and deps.events is not None:
        deps.events.publish(lifecycle.aborted(deployment, running, ending.error, cause))
