"""The lock step: acquire the app's lock (or wait, or give way), check it at safe points,
and release it."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Protocol

from aws_lambda_powertools import Logger

from ecs_deployer.domain.locks import LockEntry, decide_acquire, holds, released, superseding
from ecs_deployer.domain.service_deployments import LONGEST_STRATEGY_TIME
from ecs_deployer.errors import LockLost, TransientAwsError
from ecs_deployer.history import RecordId, RecordUpdate, iso

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

    from ecs_deployer.aws.dynamodb import DeploymentsTable
    from ecs_deployer.document import Deployment


class Executions(Protocol):
    """Whether a deployment's execution still runs (Step Functions' DescribeExecution)."""

    def is_running(self, execution_arn: str) -> bool: ...


logger = Logger(child=True)
_WRITE_ATTEMPTS = 5
_SLACK_SECONDS = 30 * 60


def lock_lifetime_seconds(deployment: Deployment) -> int:
    """The longest a healthy deployment can hold the lock: the backstop expiry.

    Tasks of a phase run side by side; a rollout may be followed by a rollback. Each may
    also wait for its strategy's bakes and hooks, unknown when the lock is taken (before
    the services are described): the longest the deployer waits for them. An operator's
    answer, at the approval gate or at a PAUSE hook (which no config announces either),
    is awaited up to the approval timeout.
    """
    pre = max((run.config.max_wait for run in deployment.pre_tasks), default=0)
    post = max((run.config.max_wait for run in deployment.post_tasks), default=0)
    strategy = LONGEST_STRATEGY_TIME // timedelta(minutes=1)
    rollout = max(service.max_wait_minutes for service in deployment.services) + strategy
    approval = deployment.approval_timeout_minutes
    return (pre + post + 2 * rollout + approval) * 60 + _SLACK_SECONDS


def lock_entry(deployment: Deployment, now: datetime) -> LockEntry:
    """This deployment as the lock knows it."""
    return LockEntry(
        deployment_id=deployment.deployment_id,
        execution_arn=deployment.execution_arn,
        order=deployment.order,
        image=deployment.image.uri,
        expires_at=int(now.timestamp()) + lock_lifetime_seconds(deployment),
        rollback=deployment.is_rollback,
    )


def _give_way(deployment: Deployment, newer: LockEntry) -> None:
    deployment.lock.status = "SUPERSEDED"
    deployment.lock.superseded_by = newer.deployment_id
    deployment.lock.reason = (
        f"superseded by the newer image {newer.image} (deployment {newer.deployment_id}): "
        f"{deployment.image.uri} was not deployed"
    )
    logger.info("superseded by a newer deployment", extra={"newer": newer.deployment_id})


def _memo(check: Callable[[str], bool]) -> Callable[[str], bool]:
    seen: dict[str, bool] = {}

    def cached(arn: str) -> bool:
        if arn not in seen:
            seen[arn] = check(arn)
        return seen[arn]

    return cached


def acquire(
    deployment: Deployment, table: DeploymentsTable, executions: Executions, now: datetime
) -> Deployment:
    """The step before anything is registered: take the app's lock, wait behind its holder,
    or give way to a newer deployment (SUPERSEDED). Dead holders and waiters are dropped
    and their records closed ABORTED."""
    me = lock_entry(deployment, now)
    is_running = _memo(executions.is_running)
    for _ in range(_WRITE_ATTEMPTS):
        record = table.read_lock(deployment.app, deployment.environment)
        decision = decide_acquire(
            record, me, deployment.config.concurrency, int(now.timestamp()), is_running
        )
        if decision.record != record and not table.write_lock(
            deployment.app, deployment.environment, decision.record
        ):
            continue  # someone else wrote in between: decide again on fresh data
        for entry in decision.dropped:
            closed = table.update_record(
                RecordId(deployment.app, entry.order, entry.deployment_id),
                RecordUpdate(updated_at=iso(now)).ended(
                    "ABORTED",
                    now,
                    error=None,
                    cause="its execution ended without finalising; "
                    f"found by {deployment.deployment_id}",
                ),
            )
            logger.warning(
                "dropped a dead lock entry",
                extra={"deployment_id": entry.deployment_id, "record_closed": closed},
            )
        deployment.lock.status = decision.result
        deployment.lock.waiting_behind = decision.blocked_by
        if decision.newer is not None:
            _give_way(deployment, decision.newer)
        if decision.result == "ACQUIRED":
            table.update_record(
                deployment,
                RecordUpdate(updated_at=iso(now), status="IN_PROGRESS", started_at=iso(now)),
            )
        return deployment
    raise TransientAwsError(f"lock of app '{deployment.app}' kept changing under us")


def checkpoint(
    deployment: Deployment,
    table: DeploymentsTable,
    executions: Executions,
    now: datetime,
    *,
    may_supersede: bool,
) -> Deployment:
    """Verify we still hold the lock. At the safe point before any service changes
    (``may_supersede``), a ``supersede`` app also stops here if a newer push waits; after
    the rollout, a deployment always runs its post tasks, so nothing supersedes it there."""
    me = lock_entry(deployment, now)
    record = table.read_lock(deployment.app, deployment.environment)
    if not holds(record, me):
        raise LockLost(
            f"deployment {deployment.deployment_id} no longer holds "
            f"the lock of app '{deployment.app}'"
        )
    if may_supersede and deployment.config.concurrency == "supersede" and not me.rollback:
        newer = superseding(record, me, _memo(executions.is_running))
        if newer is not None:
            _give_way(deployment, newer)
    return deployment


def release(deployment: Deployment, table: DeploymentsTable, now: datetime) -> Deployment:
    """Leave the lock (as holder or waiter) so the next waiter can take it; idempotent."""
    me = lock_entry(deployment, now)
    for _ in range(_WRITE_ATTEMPTS):
        record = table.read_lock(deployment.app, deployment.environment)
        remaining = released(record, me)
        if remaining == record or table.write_lock(
            deployment.app, deployment.environment, remaining
        ):
            if deployment.lock.status != "SUPERSEDED":
                deployment.lock.status = "RELEASED"
            return deployment
    raise TransientAwsError(f"lock of app '{deployment.app}' kept changing under us")
