"""Finalize: decide the outcome, record it, release the lock, prune old revisions.

Runs on every path out of a deployment. The cause it writes keeps the original failure and
adds what became of every service, so an operator reading a Fail state or the history knows
which revision each service runs.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError

from ecs_deployer import errors
from ecs_deployer.document import Outcome, ServiceRollback
from ecs_deployer.errors import DeployerError
from ecs_deployer.history import iso, progress_fields, record_key
from ecs_deployer.steps import locks

if TYPE_CHECKING:
    from datetime import datetime

    from ecs_deployer.aws.dynamodb import DeploymentsTable
    from ecs_deployer.aws.ecs import EcsGateway
    from ecs_deployer.document import Deployment, DeploymentStatus, ServiceRollout

logger = Logger(child=True)
_MAX_CAUSE = 32_000  # Step Functions allows 32,768 characters
# The errors the state machine's Fail states name; anything else (a bug, a Lambda that kept
# crashing) ends as DeploymentError, with the original name kept in the cause.
NAMED_ERRORS = frozenset(
    error.__name__
    for error in (
        errors.InputError,
        errors.ConfigError,
        errors.ImageNotFound,
        errors.ResourceNotFound,
        errors.ServiceChanged,
        errors.TaskFailed,
        errors.RolloutFailed,
        errors.DeployTimeout,
        errors.RollbackFailed,
        errors.LockLost,
    )
)


def _status(deployment: Deployment) -> DeploymentStatus:
    if deployment.lock.status == "SUPERSEDED":
        return "SUPERSEDED"
    if deployment.failure is None:
        return "SUCCEEDED"
    rollbacks = [service.rollback for service in deployment.services if service.rollback]
    if all(rollback.state == "NOT_NEEDED" for rollback in rollbacks):
        return "FAILED"  # no revision of ours was left to undo: the deployment changed nothing
    if all(rollback.state in ("COMPLETED", "NOT_NEEDED") for rollback in rollbacks):
        return "ROLLED_BACK"
    return "ROLLBACK_FAILED"


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


def failure_message(error: str, cause: str) -> str:
    """The human part of a cause: a Lambda error's JSON keeps its message, never its trace."""
    try:
        payload = json.loads(cause)
    except (json.JSONDecodeError, TypeError):
        return cause
    if isinstance(payload, dict) and "errorMessage" in payload:
        return str(payload["errorMessage"])
    return cause if cause else error


def _final_revision(service: ServiceRollout, running: str | None) -> dict[str, Any]:
    """What the service runs now, and its images when this deployment knows them."""
    images = {
        service.task_definition_after: service.images_after,
        service.task_definition_before: service.images_before,
    }.get(running, {})
    return {"task_definition_after": running, "images_after": images}


def summary(deployment: Deployment, running: dict[str, str | None]) -> dict[str, Any]:
    """``running``: the revision each service's PRIMARY deployment runs now, read from ECS."""
    return {
        "app": deployment.app,
        "deployment_id": deployment.deployment_id,
        "image": deployment.image.uri,
        "services": [
            {
                "name": service.name,
                "task_definition_before": service.task_definition_before,
                **_final_revision(service, running.get(service.name)),
                "task_definition_registered": service.task_definition_after,
                "state": service.state,
                "rollback": service.rollback.state if service.rollback else None,
                "reason": service.rollback.reason if service.rollback else service.reason,
            }
            for service in deployment.services
        ],
        "tasks": [
            {
                "family": run.family,
                "phase": phase,
                "task_definition": run.task_definition,
                "state": run.state,
                "exit_codes": [result.exit_codes for result in run.results],
                "reason": run.reason,
            }
            for phase in ("pre", "post")
            for run in deployment.tasks(phase)
        ],
    }


def _outcome(deployment: Deployment, running: dict[str, str | None]) -> Outcome:
    status = _status(deployment)
    details = summary(deployment, running)
    if deployment.failure is None:
        # SUPERSEDED: which newer image and deployment took over; nothing was changed.
        return Outcome(status=status, message=deployment.lock.reason, summary=details)
    original = deployment.failure.error
    error = original if original in NAMED_ERRORS else "DeploymentError"
    if status == "ROLLBACK_FAILED":
        error = "RollbackFailed"
    message = failure_message(original, deployment.failure.cause)
    cause = {"status": status, "error": original, "message": message, **details}
    text = json.dumps(cause, separators=(",", ":"))
    if len(text) > _MAX_CAUSE:
        cause["services"] = [
            {"name": s["name"], "state": s["state"], "rollback": s["rollback"]}
            for s in details["services"]
        ]
        cause["tasks"] = []
        text = json.dumps(cause, separators=(",", ":"))[:_MAX_CAUSE]
    return Outcome(status=status, error=error, cause=text, summary=details)


def prune_revisions(deployment: Deployment, ecs: EcsGateway) -> list[str]:
    """Deregister revisions of the app's families beyond ``keep_revisions``.

    Never one that any service of the cluster runs, nor a rollback target of this deployment.
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
    families = sorted({arn.rsplit("/", 1)[-1].rsplit(":", 1)[0] for arn in ours})
    protected = ours | ecs.service_task_definitions(deployment.cluster)
    keep = deployment.config.keep_revisions
    deregistered = []
    for family in families:
        for arn in ecs.family_revisions(family)[keep:]:
            if arn not in protected:
                ecs.deregister_task_definition(arn)
                deregistered.append(arn)
    return deregistered


def running_revisions(deployment: Deployment, ecs: EcsGateway) -> dict[str, str | None]:
    """The revision each service runs now; empty if ECS cannot say (the outcome still gets
    recorded and the lock released: a throttled call is retried by the state machine)."""
    try:
        snapshots, _ = ecs.describe_services(
            deployment.cluster, [service.name for service in deployment.services]
        )
    except (ClientError, DeployerError) as exc:
        logger.warning("could not read the services' final state", extra={"error": str(exc)})
        return {}
    return {name: snapshot.task_definition for name, snapshot in snapshots.items()}


def finalize(
    deployment: Deployment, table: DeploymentsTable, ecs: EcsGateway, now: datetime
) -> Deployment:
    running = running_revisions(deployment, ecs)
    _settle_interrupted_rollback(deployment, running)
    outcome = _outcome(deployment, running)
    if outcome.status in ("SUCCEEDED", "ROLLED_BACK"):
        try:
            outcome.summary["deregistered"] = prune_revisions(deployment, ecs)
        except Exception as exc:
            logger.warning("pruning old revisions failed", extra={"error": str(exc)})
            outcome.summary["housekeeping_error"] = str(exc)
    deployment.outcome = outcome
    table.update_record(
        deployment.app,
        record_key(deployment.order, deployment.deployment_id),
        {
            **progress_fields(deployment, now),
            "status": outcome.status,
            "finished_at": iso(now),
            "error": deployment.failure.error if deployment.failure else None,
            "cause": failure_message(deployment.failure.error, deployment.failure.cause)
            if deployment.failure
            else outcome.message,
        },
    )
    locks.release(deployment, table, now)
    logger.info("deployment finished", extra={"app": deployment.app, "status": outcome.status})
    return deployment
