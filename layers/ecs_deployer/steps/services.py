"""Roll services out (or back) and judge each rollout until it is really over.

Rolling back returns exactly the services this deployment changed to the revision each ran
before. A service that ECS's circuit breaker already returned is followed, not fought; a
service someone else has since deployed is left alone and reported.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from aws_lambda_powertools import Logger

from ecs_deployer.errors import ResourceNotFound, ServiceChanged
from ecs_deployer.history import progress_fields, record_key
from ecs_deployer.planning import forced_update
from ecs_deployer.rollout import RolloutJudgement, judge_rollout
from ecs_deployer.state import ServiceRollback

if TYPE_CHECKING:
    from ecs_deployer.aws.dynamodb import DeploymentsTable
    from ecs_deployer.aws.ecs import EcsGateway
    from ecs_deployer.rollout import ServiceSnapshot
    from ecs_deployer.state import Deployment, ServiceState

logger = Logger(child=True)
_FAILED_ROLLOUTS = ("FAILED", "ROLLED_BACK_BY_ECS", "REPLACED", "TIMED_OUT")


def _snapshots(deployment: Deployment, ecs: EcsGateway) -> dict[str, ServiceSnapshot]:
    snapshots, missing = ecs.describe_services(
        deployment.cluster, [service.name for service in deployment.services]
    )
    if missing:
        raise ResourceNotFound(
            f"service(s) {', '.join(missing)} vanished from cluster '{deployment.cluster}'"
        )
    return snapshots


def update_services(
    deployment: Deployment, ecs: EcsGateway, table: DeploymentsTable, now: datetime
) -> Deployment:
    snapshots = _snapshots(deployment, ecs)
    moved = [
        f"'{service.name}' now runs {snapshots[service.name].task_definition}, "
        f"not {service.task_definition_before}"
        for service in deployment.services
        if snapshots[service.name].task_definition
        not in (service.task_definition_before, service.task_definition_after)
    ]
    if moved:
        raise ServiceChanged("services changed since this deployment planned: " + "; ".join(moved))
    table.update_record(
        deployment.app,
        record_key(deployment.requested_at, deployment.deployment_id),
        {**progress_fields(deployment, now), "status": "IN_PROGRESS"},
    )
    for service in deployment.services:
        if service.ecs_deployment_id is not None:
            continue
        primary = snapshots[service.name].primary
        if service.changed and primary and primary.task_definition == service.task_definition_after:
            # A retried step: our UpdateService went through before the step failed.
            service.ecs_deployment_id = primary.id
        else:
            service.ecs_deployment_id = ecs.update_service(
                deployment.cluster,
                service.name,
                service.task_definition_after or "",
                force=forced_update(service.force, service.changed),
            )
        service.started_at = now
        service.state = "IN_PROGRESS"
        logger.info(
            "service update started",
            extra={"service": service.name, "ecs_deployment": service.ecs_deployment_id},
        )
    deployment.progress = "WAIT"
    return deployment


def _judge(
    snapshot: ServiceSnapshot,
    deployment_id: str | None,
    *,
    target: str | None,
    previous: str | None,
    started_at: datetime | None,
    max_wait_minutes: int,
    now: datetime,
) -> tuple[ServiceState, RolloutJudgement]:
    """ECS's verdict on one rollout, or TIMED_OUT once it is still rolling at its deadline."""
    judgement = judge_rollout(snapshot, deployment_id or "", target or "", previous or "")
    deadline = (started_at or now) + timedelta(minutes=max_wait_minutes)
    if judgement.state == "IN_PROGRESS" and now >= deadline:
        return "TIMED_OUT", judgement
    return judgement.state, judgement


def _timed_out(minutes: int, judgement: RolloutJudgement) -> str:
    return f"not steady after {minutes} min ({judgement.progress})"


def check_services(deployment: Deployment, ecs: EcsGateway, now: datetime) -> Deployment:
    rolling = [service for service in deployment.services if service.state == "IN_PROGRESS"]
    snapshots = _snapshots(deployment, ecs) if rolling else {}
    for service in rolling:
        state, judgement = _judge(
            snapshots[service.name],
            service.ecs_deployment_id,
            target=service.task_definition_after,
            previous=service.task_definition_before,
            started_at=service.started_at,
            max_wait_minutes=service.max_wait_minutes,
            now=now,
        )
        service.state = state
        service.progress = judgement.progress
        service.reason = (
            _timed_out(service.max_wait_minutes, judgement)
            if state == "TIMED_OUT"
            else judgement.reason
        )
    failed = [service for service in deployment.services if service.state in _FAILED_ROLLOUTS]
    if failed:
        error = "DeployTimeout" if all(s.state == "TIMED_OUT" for s in failed) else "RolloutFailed"
        deployment.fail(error, "; ".join(f"service '{s.name}': {s.reason}" for s in failed))
    elif any(service.state == "IN_PROGRESS" for service in deployment.services):
        deployment.progress = "WAIT"
    else:
        deployment.progress = "DONE"
    return deployment


def _start_rollback(
    deployment: Deployment,
    service_index: int,
    snapshot: ServiceSnapshot,
    ecs: EcsGateway,
    now: datetime,
) -> ServiceRollback:
    service = deployment.services[service_index]
    before, after = service.task_definition_before, service.task_definition_after
    primary = snapshot.primary
    if before is None or after is None or not service.changed:
        return ServiceRollback(
            state="NOT_NEEDED", reason="this deployment did not change its revision"
        )
    if primary is not None and primary.task_definition == before:
        if service.ecs_deployment_id is None:
            return ServiceRollback(state="NOT_NEEDED", reason="never updated")
        # ECS's circuit breaker is returning (or returned) it: follow that deployment.
        return ServiceRollback(
            ecs_deployment_id=primary.id,
            started_at=now,
            state="IN_PROGRESS",
            reason="rolled back by ECS",
        )
    if primary is not None and primary.task_definition == after:
        deployment_id = ecs.update_service(deployment.cluster, service.name, before, force=False)
        return ServiceRollback(ecs_deployment_id=deployment_id, started_at=now, state="IN_PROGRESS")
    running = primary.task_definition if primary else "nothing"
    return ServiceRollback(
        state="FAILED", reason=f"now runs {running}, deployed by someone else: left alone"
    )


def start_rollback(
    deployment: Deployment, ecs: EcsGateway, table: DeploymentsTable, now: datetime
) -> Deployment:
    snapshots = _snapshots(deployment, ecs)
    for index, service in enumerate(deployment.services):
        if service.rollback is None:
            service.rollback = _start_rollback(deployment, index, snapshots[service.name], ecs, now)
            logger.info(
                "rollback", extra={"service": service.name, "state": service.rollback.state}
            )
    table.update_record(
        deployment.app,
        record_key(deployment.requested_at, deployment.deployment_id),
        progress_fields(deployment, now),
    )
    deployment.progress = "WAIT"
    return deployment


def check_rollback(deployment: Deployment, ecs: EcsGateway, now: datetime) -> Deployment:
    rolling = [s for s in deployment.services if s.rollback and s.rollback.state == "IN_PROGRESS"]
    snapshots = _snapshots(deployment, ecs) if rolling else {}
    for service in rolling:
        rollback = service.rollback
        assert rollback is not None
        state, judgement = _judge(
            snapshots[service.name],
            rollback.ecs_deployment_id,
            target=service.task_definition_before,
            previous=service.task_definition_after,
            started_at=rollback.started_at,
            max_wait_minutes=service.max_wait_minutes,
            now=now,
        )
        service.progress = judgement.progress
        if state == "COMPLETED":
            rollback.state = "COMPLETED"
            rollback.reason = rollback.reason or judgement.reason
        elif state == "TIMED_OUT":
            rollback.state = "TIMED_OUT"
            rollback.reason = _timed_out(service.max_wait_minutes, judgement)
        elif state != "IN_PROGRESS":
            rollback.state = "FAILED"
            rollback.reason = judgement.reason
    still = any(s.rollback and s.rollback.state == "IN_PROGRESS" for s in deployment.services)
    deployment.progress = "WAIT" if still else "DONE"
    return deployment
