"""Answering an app's pending approval: ``ecs-deployer approve APP`` and ``reject APP``.

The request is on the running deployment's record (``HistoryRecord.approval``): the gate's,
whose task token is stored under the app's approval key (domain/waiters.py), or a PAUSE
hook's. The answer is written on the record first (who answered, when, why), then sent: the
gate's token is answered (a rejection ends the deployment at once, and Finalize leaves a
final record alone); a PAUSE hook's answer is read there by CheckServices, which sends
ContinueServiceDeployment through the app account's ECS, so the deployment's waits on its
services are woken for it to run at once. The operator makes no ECS call, in any account.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from botocore.exceptions import ClientError

from ecs_deployer.aws.clients import error_code
from ecs_deployer.aws.stepfunctions import TaskTokens
from ecs_deployer.domain.waiters import approval_key, awaited_keys
from ecs_deployer.errors import ApprovalRejected
from ecs_deployer.history import RecordUpdate, iso
from ecs_deployer_tools.operator.aws import OperatorError

if TYPE_CHECKING:
    from datetime import datetime

    from mypy_boto3_stepfunctions import SFNClient

    from ecs_deployer.aws.dynamodb import DeploymentsTable
    from ecs_deployer.history import ApprovalRecord, HistoryRecord

Answer = Literal["APPROVED", "REJECTED"]
# How many of an app's newest records may hold its pending approval (its running ones).
PENDING_CANDIDATES = 20
# Step Functions' answers for a token whose wait is over (timed out, its execution ended).
_WAIT_OVER = frozenset({"TaskTimedOut", "InvalidToken", "TaskDoesNotExist"})
_MAX_CAUSE = 32_768  # SendTaskFailure's cause


@dataclass(frozen=True)
class PendingApproval:
    record: HistoryRecord  # the running deployment's
    approval: ApprovalRecord  # PENDING: its gate's (service None) or a PAUSE hook's


@dataclass(frozen=True)
class Answered:
    app: str
    deployment_id: str
    answer: Answer
    by: str
    reason: str | None
    service: str | None  # a PAUSE hook's: the service whose deployment waits there

    def to_json(self) -> dict[str, Any]:
        return {
            "app": self.app,
            "deployment_id": self.deployment_id,
            "answer": self.answer,
            "by": self.by,
            "reason": self.reason,
            "service": self.service,
        }


def find_pending(
    table: DeploymentsTable, app: str, environment: str | None = None
) -> PendingApproval | None:
    """The approval ``app``'s running deployment (in ``environment``, if named) waits for,
    if any (only the holder of a lock runs, so one an environment; the newest first)."""
    for record in table.history(app, PENDING_CANDIDATES):
        approval = record.approval
        if environment is not None and record.environment != environment:
            continue
        if not record.is_final and approval is not None and approval.status == "PENDING":
            return PendingApproval(record, approval)
    return None


def answer_approval(
    table: DeploymentsTable,
    sfn: SFNClient,
    app: str,
    answer: Answer,
    *,
    actor: str,
    now: datetime,
    reason: str | None = None,
    environment: str | None = None,
) -> Answered:
    """Approve or reject ``app``'s pending approval (in ``environment``, if named), on
    behalf of ``actor``: the gate's (the deployment goes on to its services, or ends
    REJECTED with no service changed), or a PAUSE hook's (CheckServices continues it, or
    rolls it back: ECS rolls it back)."""
    pending = find_pending(table, app, environment)
    if pending is None:
        where = f" in environment '{environment}'" if environment else ""
        raise OperatorError(
            f"no approval is pending for app '{app}'{where}: none of its deployments waits for one"
        )
    record = pending.record
    if pending.approval.service is not None and iso(now) >= pending.approval.deadline:
        # CheckServices rejects it now, unanswered: too late to answer.
        raise OperatorError(
            f"the approval of {record.deployment_id} is over (its deadline was "
            f"{pending.approval.deadline}): nothing was answered"
        )
    answered = pending.approval.answered(answer, actor, now, reason)
    update = RecordUpdate(updated_at=iso(now), approval=answered)
    if not table.update_record(record, update, while_pending=pending.approval.requested_at):
        raise OperatorError(_refusal(table, record, pending.approval))
    if pending.approval.service is not None:
        _wake_checks(table, sfn, record)
    elif not _answer_gate(table, sfn, record, answer, actor=actor, reason=reason):
        # Too late: the record keeps the request, whose wait ended on its own.
        table.update_record(record, RecordUpdate(updated_at=iso(now), approval=pending.approval))
        raise OperatorError(
            f"the approval of {record.deployment_id} is over (its deadline was "
            f"{pending.approval.deadline}): nothing was answered"
        )
    return Answered(app, record.deployment_id, answer, actor, reason, pending.approval.service)


def _refusal(table: DeploymentsTable, record: HistoryRecord, read: ApprovalRecord) -> str:
    """Why the record refused the answer to the approval ``read`` pending on it."""
    current = table.read_approval(record)
    if current is not None and current.status == "PENDING" and current != read:
        # A PAUSE hook paused meanwhile: its request covers the one read, so answer it.
        return (
            f"{record.deployment_id} asked for a newer approval meanwhile (service "
            f"{current.service} at {current.stage}): nothing was answered; answer it again"
        )
    if current is not None and current.status != "PENDING":
        return (
            f"the approval of {record.deployment_id} was answered meanwhile "
            f"({current.status} by {current.answered_by}): nothing was answered"
        )
    return f"{record.deployment_id} ended meanwhile: nothing was answered"


def _answer_gate(
    table: DeploymentsTable,
    sfn: SFNClient,
    record: HistoryRecord,
    answer: Answer,
    *,
    actor: str,
    reason: str | None,
) -> bool:
    """Answer the gate's task token; False when its wait is over."""
    key, waiter = approval_key(record.app), f"{record.app}#{record.deployment_id}"
    token = dict(table.waiter_items.waiters(key)).get(waiter)
    if token is None:
        return False
    try:
        if answer == "APPROVED":
            sfn.send_task_success(taskToken=token, output="{}")
        else:
            why = f": {reason}" if reason else ""
            sfn.send_task_failure(
                taskToken=token,
                error=ApprovalRejected.__name__,
                cause=f"rejected by {actor}{why}"[:_MAX_CAUSE],
            )
    except ClientError as exc:
        if error_code(exc) not in _WAIT_OVER:
            raise
        return False
    table.waiter_items.delete_waiter(key, waiter, token)
    return True


def _wake_checks(table: DeploymentsTable, sfn: SFNClient, record: HistoryRecord) -> None:
    """Wake the deployment's waits on its services (SendTaskSuccess, as an ECS event does),
    so CheckServices reads the answer at once. A wait not stored yet (a check under way)
    ends at its safety poll, whose check reads the answer as well."""
    document = table.load_document(record.app, record.deployment_id)
    waiter, tokens = f"{record.app}#{record.deployment_id}", TaskTokens(lambda: sfn)
    for key in awaited_keys(document) if document else []:
        for stored, token in table.waiter_items.waiters(key):
            if stored == waiter:
                tokens.wake(token)
                table.waiter_items.delete_waiter(key, stored, token)
