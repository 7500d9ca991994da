"""Answering an app's pending approval: ``ecs-deployer approve APP`` and ``reject APP``.

The approval gate's task token is stored under the app's approval key (domain/waiters.py),
its request on the deployment's record (``HistoryRecord.approval``). The answer is written
on the record first (who answered, when, why), then sent to Step Functions: a rejection
ends the deployment at once, and Finalize leaves a final record alone.
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
    from ecs_deployer.history import ApprovalRecord, HistoryRecord

Answer = Literal["APPROVED", "REJECTED"]
# Step Functions' answers for a token whose wait is over (timed out, its execution ended).
_WAIT_OVER = frozenset({"TaskTimedOut", "InvalidToken", "TaskDoesNotExist"})
_MAX_CAUSE = 32_768  # SendTaskFailure's cause


@dataclass(frozen=True)
class PendingApproval:
    record: HistoryRecord
    approval: ApprovalRecord
    waiter: str  # the waiter's sort key (<app>#<deployment id>)
    token: str


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
    """The approval ``app``'s running deployment waits for, if any."""
    pending = []
    for waiter, token in table.waiters(approval_key(app)):
        record = table.find_record(app, waiter.partition("#")[2])
        if record is None or record.is_final or record.approval is None:
            continue  # an expired waiter of a deployment that ended
        if record.approval.status == "PENDING":
            pending.append(PendingApproval(record, record.approval, waiter, token))
    # Only the holder of the app's lock asks, so there is one; the newest if ever more.
    return max(
        pending, key=lambda item: (item.record.order, item.record.deployment_id), default=None
    )


def answer_approval(
    table: DeploymentsTable,
    sfn: SFNClient,
    app: str,
    answer: Answer,
    *,
    actor: str,
    now: datetime,
    reason: str | None = None,
) -> Answered:
    """Approve (the deployment goes on to its services) or reject (it ends REJECTED, no
    service changed) ``app``'s pending approval, on behalf of ``actor``."""
    pending = find_pending(table, app)
    if pending is None:
        raise OperatorError(
            f"no approval is pending for app '{app}': none of its deployments waits for one"
        )
    answered = pending.approval.answered(answer, actor, now, reason)
    table.update_record(pending.record, RecordUpdate(updated_at=iso(now), approval=answered))
    try:
        if answer == "APPROVED":
            sfn.send_task_success(taskToken=pending.token, output="{}")
        else:
            why = f": {reason}" if reason else ""
            sfn.send_task_failure(
                taskToken=pending.token,
                error=ApprovalRejected.__name__,
                cause=f"rejected by {actor}{why}"[:_MAX_CAUSE],
            )
    except ClientError as exc:
        if error_code(exc) not in _WAIT_OVER:
            raise
        # Too late: the record keeps the request, whose wait ended on its own.
        table.update_record(
            pending.record, RecordUpdate(updated_at=iso(now), approval=pending.approval)
        )
        raise OperatorError(
            f"the approval of {pending.record.deployment_id} is over (its deadline was "
            f"{pending.approval.deadline}): nothing was answered"
        ) from exc
    table.delete_waiter(approval_key(app), pending.waiter, pending.token)
    return Answered(app, pending.record.deployment_id, answer, actor, reason)
