from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

import pytest
from msgspec.structs import replace

from ecs_deployer.document import Deployment
from ecs_deployer.domain.service_deployments import LONGEST_STRATEGY_TIME
from ecs_deployer.errors import LockLost
from ecs_deployer.steps import locks
from ecs_deployer.steps.resolve import resolve
from tests.aws_fixtures import STARTED, context, push

if TYPE_CHECKING:
    from ecs_deployer.aws.dynamodb import DeploymentsTable
    from ecs_deployer.aws.stepfunctions import Executions
    from ecs_deployer.domain.admission import AdmissionDeps
    from ecs_deployer_tools.demo import sample_app


class _Running:
    """Which executions count as running (Step Functions' DescribeExecution, faked)."""

    def __init__(self) -> None:
        self.running: set[str] = set()

    def is_running(self, execution_arn: str) -> bool:
        return execution_arn in self.running


def _deployment(deps: AdmissionDeps, name: str, minutes: int, running: _Running) -> Deployment:
    digest = push(f"v2.0.{minutes}")
    result = resolve(
        {
            "app": "shop",
            "image_digest": digest,
            "trigger": {
                "kind": "manual",
                "pushed_at": (STARTED + timedelta(minutes=minutes)).isoformat(),
            },
        },
        context(name),
        deps,
        STARTED,
    )
    assert isinstance(result, Deployment), result
    running.running.add(result.execution_arn)
    return result


def test_queue_one_at_a_time_in_request_order(
    seeded: sample_app.SeededApp, deps: AdmissionDeps, table: DeploymentsTable
) -> None:
    running = _Running()
    first, second, third = (
        _deployment(deps, name, minute, running) for name, minute in (("a", 1), ("b", 2), ("c", 3))
    )
    now = STARTED + timedelta(minutes=5)
    assert locks.acquire(first, table, running, now).lock.status == "ACQUIRED"
    assert locks.acquire(third, table, running, now).lock.status == "WAITING"
    assert locks.acquire(second, table, running, now).lock.waiting_behind == "a"
    locks.release(first, table, now)
    assert locks.acquire(third, table, running, now).lock.status == "WAITING"
    assert locks.acquire(second, table, running, now).lock.status == "ACQUIRED"
    # a released the lock; recording its end is Finalize's part, not the lock's.
    statuses = {record.deployment_id: record.status for record in table.history("shop")}
    assert statuses == {"a": "IN_PROGRESS", "b": "IN_PROGRESS", "c": "QUEUED"}


def test_a_dead_holder_is_dropped_and_its_record_closed(
    seeded: sample_app.SeededApp, deps: AdmissionDeps, table: DeploymentsTable
) -> None:
    running = _Running()
    first, second = _deployment(deps, "a", 1, running), _deployment(deps, "b", 2, running)
    now = STARTED + timedelta(minutes=5)
    locks.acquire(first, table, running, now)
    running.running.discard(first.execution_arn)  # stopped by an operator, say
    assert locks.acquire(second, table, running, now).lock.status == "ACQUIRED"
    statuses = {record.deployment_id: record.status for record in table.history("shop")}
    assert statuses == {"a": "ABORTED", "b": "IN_PROGRESS"}


def test_supersede_checkpoint_and_release(
    seeded: sample_app.SeededApp, deps: AdmissionDeps, table: DeploymentsTable
) -> None:
    running = _Running()
    first, second = _deployment(deps, "a", 1, running), _deployment(deps, "b", 2, running)
    for deployment in (first, second):
        deployment.config = replace(deployment.config, concurrency="supersede")
    now = STARTED + timedelta(minutes=5)
    locks.acquire(first, table, running, now)
    assert locks.checkpoint(first, table, running, now, may_supersede=True).lock.status == (
        "ACQUIRED"
    )
    assert locks.acquire(second, table, running, now).lock.status == "WAITING"
    # After the rollout (no superseding there), the post tasks always run.
    assert locks.checkpoint(first, table, running, now, may_supersede=False).lock.status == (
        "ACQUIRED"
    )
    gave_way = locks.checkpoint(first, table, running, now, may_supersede=True).lock
    assert (gave_way.status, gave_way.superseded_by) == ("SUPERSEDED", "b")
    assert gave_way.reason is not None
    assert second.image.uri in gave_way.reason
    locks.release(first, table, now)
    assert locks.acquire(second, table, running, now).lock.status == "ACQUIRED"


def test_an_older_deployment_reaching_the_lock_late_is_superseded(
    seeded: sample_app.SeededApp, deps: AdmissionDeps, table: DeploymentsTable
) -> None:
    running = _Running()
    older, newer = _deployment(deps, "a", 1, running), _deployment(deps, "b", 2, running)
    now = STARTED + timedelta(minutes=5)
    assert locks.acquire(newer, table, running, now).lock.status == "ACQUIRED"
    locks.release(newer, table, now)
    late = locks.acquire(older, table, running, now).lock
    assert (late.status, late.superseded_by) == ("SUPERSEDED", "b")
    assert f"{newer.image.uri} (deployment b)" in (late.reason or "")
    assert table.read_lock("shop", None).holder is None


def test_checkpoint_without_the_lock_is_lock_lost(
    seeded: sample_app.SeededApp,
    deps: AdmissionDeps,
    table: DeploymentsTable,
    executions: Executions,
) -> None:
    deployment = _deployment(deps, "a", 1, _Running())
    with pytest.raises(LockLost):
        locks.checkpoint(deployment, table, executions, STARTED, may_supersede=True)


def test_lock_lifetime_covers_tasks_rollout_and_rollback(
    seeded: sample_app.SeededApp, deps: AdmissionDeps
) -> None:
    deployment = _deployment(deps, "a", 1, _Running())
    # pre 30 min + post 30 min + twice a 15 min rollout and the longest strategy time (a
    # bake, hooks: unknown until the services are described) + the approval timeout (the
    # gate, or a PAUSE hook, waits for an operator that long) + 30 min slack
    rollout = 15 + LONGEST_STRATEGY_TIME // timedelta(minutes=1)
    deployment.approval_timeout_minutes = 120
    assert locks.lock_lifetime_seconds(deployment) == (30 + 30 + 2 * rollout + 120 + 30) * 60
