"""Answering an app's pending approval: ``ecs-deployer approve APP`` and ``reject APP``.

The request is on the running deployment's record (``HistoryRecord.approval``): the gate's,
whose task token is stored under the app's approval key (domain/waiters.py), or a PAUSE
hook's, which ContinueServiceDeployment answers. The answer is written on the record first
(who answered, when, why), then sent: a rejection ends the deployment at once, and Finalize
leaves a final record alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from botocore.exceptions import ClientError

from ecs_deployer.aws.clients import error_code
from ecs_deployer.domain.waiters import approval_key
from ecs_deployer.errors import ApprovalRejected
from ecs_deployer.history import RecordUpdate, iso
from ecs_deployer_tools.operator.aws import OperatorError

if TYPE_CHECKING:
    from datetime import datetime

    from mypy_boto3_stepfunctions import SFNClient

    from ecs_deployer.aws.dynamodb import DeploymentsTable
    from ecs_deployer.aws.ecs import EcsGateway
    from ecs_deployer.domain.service_deployments import HookAction
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

    def to_json(self) -> dict[str, Any]:
        return {
            "app": self.app,
            "deployment_id": self.deployment_id,
            "answer": self.answer,
            "by": self.by,
            "reason": self.reason,
        }


def find_pending(table: DeploymentsTable, app: str) -> PendingApproval | None:
    """The approval ``app``'s running deployment waits for, if any (only the holder of the
    app's lock runs, so at most one; the newest if ever more)."""
    for record in table.history(app, PENDING_CANDIDATES):
        approval = record.approval
        if not record.is_final and approval is not None and approval.status == "PENDING":
            return PendingApproval(record, approval)
    return None


def answer_approval(
    table: DeploymentsTable,
    sfn: SFNClient,
    ecs: EcsGateway,
    app: str,
    answer: Answer,
    *,
    actor: str,
    now: datetime,
    reason: str | None = None,
) -> Answered:
    """Approve or reject ``app``'s pending approval, on behalf of ``actor``: the gate's (the
    deployment goes on to its services, or ends REJECTED with no service changed), or a
    PAUSE hook's (ContinueServiceDeployment CONTINUE, or ROLLBACK: ECS rolls it back)."""
    pending = find_pending(table, app)
    if pending is None:
        raise OperatorError(
            f"no approval is pending for app '{app}': none of its deployments waits for one"
        )
    record = pending.record
    answered = pending.approval.answered(answer, actor, now, reason)
    table.update_record(record, RecordUpdate(updated_at=iso(now), approval=answered))
    if pending.approval.service is None:
        sent = _answer_gate(table, sfn, record, answer, actor=actor, reason=reason)
    else:
        sent = _answer_pauses(table, ecs, record, answer)
    if not sent:
        # Too late: the record keeps the request, whose wait ended on its own.
        table.update_record(record, RecordUpdate(updated_at=iso(now), approval=pending.approval))
        raise OperatorError(
            f"the approval of {record.deployment_id} is over (its deadline was "
            f"{pending.approval.deadline}): nothing was answered"
        )
    return Answered(app, record.deployment_id, answer, actor, reason)


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
    token = dict(table.waiters(key)).get(waiter)
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
    table.delete_waiter(key, waiter, token)
    return True


def _answer_pauses(
    table: DeploymentsTable, ecs: EcsGateway, record: HistoryRecord, answer: Answer
) -> bool:
    """Continue (or roll back) every PAUSE hook the deployment's services wait at; False
    when none waits any more."""
    document = table.load_document(record.app, record.deployment_id)
    action: HookAction = "CONTINUE" if answer == "APPROVED" else "ROLLBACK"
    answered = False
    for service in document.services if document else []:
        paused = service.paused
        if paused is None or paused.rejected or service.service_deployment_arn is None:
            continue
        answered |= ecs.continue_service_deployment(
            service.service_deployment_arn, paused.hook_id, action
        )
    return answered
