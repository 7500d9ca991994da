"""Deployment history: one record per deployment, written before any mutation.

The record is created when a deployment is accepted, updated before services change, and
finalised on every exit path, so no deployment goes unrecorded and an operator can always
see which revision each service ran before and after.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from ecs_deployer.document import Deployment

RecordStatus = Literal[
    "QUEUED",  # accepted, waiting for the app's lock
    "IN_PROGRESS",
    "SUCCEEDED",
    "FAILED",
    "ROLLED_BACK",
    "ROLLBACK_FAILED",
    "SUPERSEDED",
    "ABORTED",  # the execution ended without finalising (stopped, timed out)
]
FINAL_STATUSES: frozenset[str] = frozenset(
    {"SUCCEEDED", "FAILED", "ROLLED_BACK", "ROLLBACK_FAILED", "SUPERSEDED", "ABORTED"}
)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def app_key(app: str) -> str:
    return f"APP#{app}"


def record_key(order: str, deployment_id: str) -> str:
    # Sorts in deployment order (domain.locks.deployment_order), so a query on the app lists the
    # history in the order the deployments happened, pushes of the same second included.
    return f"DEPLOYMENT#{order}#{deployment_id}"


class ServiceRecord(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    task_definition_before: str | None = None
    task_definition_after: str | None = None
    images_before: dict[str, str] = {}  # container -> image: what an undo returns to
    state: str | None = None


class TaskRecord(BaseModel):
    model_config = ConfigDict(frozen=True)

    family: str
    phase: Literal["pre", "post"]
    task_definition: str | None = None
    state: str | None = None
    exit_codes: dict[str, dict[str, int | None]] = {}


class HistoryRecord(BaseModel):
    """What the table holds for one deployment (and what ``ecs-deployer history`` shows)."""

    model_config = ConfigDict(frozen=True)

    app: str
    deployment_id: str
    execution_arn: str | None = None
    status: RecordStatus
    image: str | None = None
    repository: str | None = None
    digest: str | None = None
    tag: str | None = None
    trigger: str = "manual"
    rollback_of: str | None = None
    undoes: str | None = None
    event_id: str | None = None
    actor: str | None = None
    config_digest: str | None = None
    requested_at: str
    order: str  # domain.locks.deployment_order(); the record's sort key starts with it
    started_at: str | None = None
    finished_at: str | None = None
    updated_at: str
    services: list[ServiceRecord] = []
    tasks: list[TaskRecord] = []
    error: str | None = None
    cause: str | None = None

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES


def progress_fields(deployment: Deployment, now: datetime) -> dict[str, Any]:
    """The parts of a record that change as the deployment proceeds."""
    return {
        "services": [
            ServiceRecord(
                name=service.name,
                task_definition_before=service.task_definition_before,
                task_definition_after=service.task_definition_after,
                images_before=service.images_before,
                state=service.rollback.state if service.rollback else service.state,
            ).model_dump()
            for service in deployment.services
        ],
        "tasks": [
            TaskRecord(
                family=run.family,
                phase=phase,
                task_definition=run.task_definition,
                state=run.state,
                exit_codes={result.task_arn: result.exit_codes for result in run.results},
            ).model_dump()
            for phase, runs in (("pre", deployment.pre_tasks), ("post", deployment.post_tasks))
            for run in runs
        ],
        "updated_at": iso(now),
    }


def new_record(deployment: Deployment, now: datetime) -> HistoryRecord:
    image = deployment.image
    return HistoryRecord.model_validate(
        {
            "app": deployment.app,
            "deployment_id": deployment.deployment_id,
            "execution_arn": deployment.execution_arn,
            "status": "QUEUED",
            "image": image.uri,
            "repository": image.repository,
            "digest": image.digest,
            "tag": image.tag,
            "trigger": deployment.trigger.kind,
            "rollback_of": deployment.rollback_of,
            "undoes": deployment.undoes,
            "event_id": deployment.trigger.event_id,
            "actor": deployment.trigger.actor,
            "config_digest": deployment.config_digest,
            "requested_at": iso(deployment.requested_at),
            "order": deployment.order,
            **progress_fields(deployment, now),
        }
    )
