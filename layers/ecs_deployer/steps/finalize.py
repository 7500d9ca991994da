"""Finalize: decide the outcome, record it, release the lock, prune old revisions.

Runs on every path out of a deployment. The cause it writes keeps the original failure and
adds what became of every service, so an operator reading a Fail state or the history knows
which revision each service runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError

from ecs_deployer.aws import metrics
from ecs_deployer.document import ServiceRollback, ServiceRollout
from ecs_deployer.domain import lifecycle, measures
from ecs_deployer.domain.scope import family_of
from ecs_deployer.domain.services import running_task_definition
from ecs_deployer.domain.taskdef import registered_by_us
from ecs_deployer.errors import DeployerError
from ecs_deployer.history import RecordUpdate
from ecs_deployer.outcome import decide_outcome, failure_message
from ecs_deployer.steps import locks

if TYPE_CHECKING:
    from datetime import datetime

    from ecs_deployer.aws.dynamodb import DeploymentsTable
    from ecs_deployer.aws.ecs import EcsGateway
    from ecs_deployer.document import Deployment
    from ecs_deployer.domain.lifecycle import LifecyclePublisher

logger = Logger(child=True)
# DeregisterTaskDefinition calls per Finalize: a few seconds of a 60-second Lambda.
_PRUNE_BUDGET = 20


def _settle_interrupted_rollback(deployment: Deployment, running: dict[str, str | None]) -> None:
    """The rollback step kept failing (``rollback_error``): decide, from what ECS runs now,
    what became of each service whose rollback had not finished.

    A service this deployment never updated (no deployment of ours, still on its old
    revision) needed no rollback; any other is a rollback that did not finish.
    """
    if deployment.rollback_error is None:
        return
    message = failure_message(deployment.rollback_error.error, deployment.rollback_error.cause)
    for service in deployment.services:
        rollback = service.rollback
        if rollback is not None and rollback.state != "IN_PROGRESS":
            continue
        untouched = service.ecs_deployment_id is None and (
            running.get(service.name) == service.task_definition_before
        )
        if rollback is None and not service.changed:
            service.rollback = ServiceRollback(
                state="NOT_NEEDED", reason="this deployment did not change its revision"
            )
        elif rollback is None and untouched:
            service.rollback = ServiceRollback(
                state="NOT_NEEDED", reason="still on its old revision: never updated"
            )
        else:
            service.rollback = ServiceRollback(
                ecs_deployment_id=rollback.ecs_deployment_id if rollback else None,
                state="FAILED",
                reason=f"the rollback did not finish: {deployment.rollback_error.error}: {message}",
            )


def prune_revisions(deployment: Deployment, ecs: EcsGateway, clusters: frozenset[str]) -> list[str]:
    """Deregister revisions of the app's families beyond ``keep_revisions``, oldest first, at
    most ``_PRUNE_BUDGET`` of them: a family with hundreds of old revisions is pruned over
    several deployments, never in one Finalize that its timeout would cut short.

    Only revisions this deployer registered (``REGISTERED_BY_US``: a family may hold other
    teams' revisions), and never one that a service of any of ``clusters`` (the stack's)
    runs, nor one this deployment ran or returns to. The services are read only when there
    is something to prune.
    """
    ours = {
        arn
        for service in deployment.services
        for arn in (service.task_definition_before, service.task_definition_after)
        if arn
    } | {
        run.task_definition
        for run in [*deployment.pre_tasks, *deployment.post_tasks]
        if run.task_definition
    }
    keep = deployment.config.keep_revisions
    newest: dict[str, int] = {}
    for arn in ours:
        family = family_of(arn)
        newest[family] = max(newest.get(family, 0), int(arn.rpartition(":")[2]))
    # Revision numbers count every revision ever registered: a family whose newest one is
    # within keep_revisions cannot hold more, and is not even listed.
    families = sorted(family for family, number in newest.items() if number > keep)
    surplus = [
        arn
        for family in families
        for arn in reversed(ecs.family_revisions(family)[keep:])
        if arn not in ours
    ]
    if not surplus:
        return []
    in_use = set().union(*(ecs.service_task_definitions(cluster) for cluster in sorted(clusters)))
    deregistered: list[str] = []
    for arn in surplus:
        if len(deregistered) == _PRUNE_BUDGET:
            break
        if arn in in_use:
            continue
        if not registered_by_us(ecs.describe_task_definition(arn).registration.get("tags", [])):
            continue
        ecs.deregister_task_definition(arn)
        deregistered.append(arn)
    return deregistered


def running_revisions(
    deployment: Deployment, ecs: EcsGateway, now: datetime
) -> dict[str, str | None]:
    """The revision each service runs now; empty if ECS cannot say (the outcome still gets
    recorded and the lock released: a throttled call is retried by the state machine). A
    describe that does not show our latest UpdateService yet is not taken for its answer."""
    try:
        snapshots, _ = ecs.describe_services(
            deployment.cluster, [service.name for service in deployment.services]
        )
    except (ClientError, DeployerError) as exc:
        logger.warning("could not read the services' final state", extra={"error": str(exc)})
        return {}
    running: dict[str, str | None] = {}
    for service in deployment.services:
        snapshot = snapshots.get(service.name)
        if snapshot is None:
            continue
        rollback = service.rollback
        latest: ServiceRollback | ServiceRollout = service
        target = service.task_definition_after
        started = rollback and (rollback.ecs_deployment_id or rollback.service_deployment_arn)
        if rollback is not None and started:
            # Ours (a deployments[] id), or ECS's rollback of our service deployment.
            latest, target = rollback, service.task_definition_before
        running[service.name] = running_task_definition(
            snapshot, latest.ecs_deployment_id, target, now - (latest.started_at or now)
        )
    return running


def finalize(
    deployment: Deployment,
    table: DeploymentsTable,
    ecs: EcsGateway,
    clusters: frozenset[str],
    now: datetime,
    *,
    events: LifecyclePublisher | None = None,
) -> Deployment:
    """The step, on every path out of a deployment: decide the outcome from the document and
    what ECS runs now, finalise the record, release the lock, and prune old revisions after
    a success or a completed rollback."""
    running = running_revisions(deployment, ecs, now)
    _settle_interrupted_rollback(deployment, running)
    outcome = decide_outcome(deployment, running)
    deployment.outcome = outcome
    failure = deployment.failure
    table.update_record(
        deployment,
        RecordUpdate.progress(deployment, now).ended(
            outcome.status,
            now,
            error=failure.error if failure else None,
            cause=failure_message(failure.error, failure.cause) if failure else outcome.message,
        ),
    )
    locks.release(deployment, table, now)
    logger.info("deployment finished", extra={"app": deployment.app, "status": outcome.status})
    if events is not None:
        events.publish(lifecycle.ended(deployment, outcome))
    metrics.emit(measures.of_deployment(deployment, outcome, now))
    # Housekeeping comes last: the outcome is recorded and the lock free whatever it meets.
    if outcome.summary is not None and outcome.status in ("SUCCEEDED", "ROLLED_BACK"):
        try:
            outcome.summary.deregistered = prune_revisions(deployment, ecs, clusters)
        except Exception as exc:
            logger.warning("pruning old revisions failed", extra={"error": str(exc)})
            outcome.summary.housekeeping_error = str(exc)
    return deployment
