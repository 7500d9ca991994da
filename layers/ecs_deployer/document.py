"""The deployment document: what flows through the state machine from step to step.

Each step Lambda receives it, does its part for every service or task, and returns it.
It carries ARNs, names, states and reasons — never task-definition contents, whose
environment values and secrets must not end up in execution history.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ecs_deployer.config.models import AppConfig, TaskConfig
from ecs_deployer.domain.locks import AcquireResult
from ecs_deployer.domain.services import RolloutState
from ecs_deployer.domain.tasks import TaskState
from ecs_deployer.image import ImageRef
from ecs_deployer.inputs import Trigger
from ecs_deployer.outcome import Outcome

Phase = Literal["pre", "post"]
Progress = Literal["WAIT", "DONE", "FAILED"]
# Each state set extends the judgement of the rule that decides it (domain/).
ServiceState = Literal["PENDING", RolloutState, "TIMED_OUT"]
RollbackState = Literal["NOT_NEEDED", "IN_PROGRESS", "COMPLETED", "FAILED", "TIMED_OUT"]
TaskRunState = Literal["PENDING", TaskState, "TIMED_OUT"]
LockStatus = Literal["PENDING", AcquireResult, "RELEASED"]


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Failure(_Doc):
    """Shaped like a Step Functions Catch result, so caught and reported failures are alike."""

    error: str = Field(alias="Error")
    cause: str = Field(alias="Cause")


class Options(_Doc):
    skip_pre_tasks: bool = False
    skip_post_tasks: bool = False
    force: bool = False
    poll_seconds: int = 10


class TaskResult(_Doc):
    task_arn: str
    last_status: str
    exit_codes: dict[str, int | None] = {}
    stop_code: str | None = None
    stopped_reason: str | None = None


class TaskRun(_Doc):
    """One task family of a phase: what ran, and how it ended."""

    config: TaskConfig
    task_definition: str | None = None
    watch_containers: list[str] = []
    task_arns: list[str] = []
    start_failures: list[str] = []  # RunTask's failures[]: tasks that never started
    started_at: datetime | None = None
    state: TaskRunState = "PENDING"
    reason: str | None = None
    results: list[TaskResult] = []

    @property
    def family(self) -> str:
        return self.config.family


class ServiceRollback(_Doc):
    ecs_deployment_id: str | None = None
    started_at: datetime | None = None
    state: RollbackState = "IN_PROGRESS"
    reason: str | None = None


class ServiceRollout(_Doc):
    name: str
    containers: list[str]
    # Set for a rollback: the exact revision to return to, instead of a clone.
    target_task_definition: str | None = None
    force: bool = False
    max_wait_minutes: int = 15
    task_definition_before: str | None = None
    task_definition_after: str | None = None  # the revision this deployment rolls out
    images_before: dict[str, str] = {}
    images_after: dict[str, str] = {}
    ecs_deployment_id: str | None = None
    started_at: datetime | None = None
    state: ServiceState = "PENDING"
    reason: str | None = None
    progress: str | None = None
    rollback: ServiceRollback | None = None

    @property
    def changed(self) -> bool:
        return self.task_definition_before != self.task_definition_after


class LockState(_Doc):
    status: LockStatus = "PENDING"
    waiting_behind: str | None = None  # the deployment holding the lock while we wait
    superseded_by: str | None = None  # the newer deployment we gave way to
    reason: str | None = None  # why we gave way, naming the newer image and deployment


class Deployment(_Doc):
    kind: Literal["deploy"] = "deploy"
    deployment_id: str  # the execution's name
    execution_arn: str
    app: str
    config: AppConfig
    config_digest: str
    image: ImageRef
    options: Options
    trigger: Trigger
    rollback_of: str | None = None  # the earlier deployment whose revisions this restores
    undoes: str | None = None  # the earlier deployment whose previous revisions this restores
    requested_at: datetime  # when the image was pushed (or the request made)
    order: str  # domain.locks.deployment_order(): orders the app's deployments, ties included
    services: list[ServiceRollout]
    pre_tasks: list[TaskRun] = []
    post_tasks: list[TaskRun] = []
    lock: LockState = LockState()
    progress: Progress | None = None
    failure: Failure | None = None
    rollback_error: Failure | None = None  # the rollback itself failed (kept apart from failure)
    finalize_error: Failure | None = None  # Finalize failed after its retries
    outcome: Outcome | None = None

    @property
    def is_rollback(self) -> bool:
        """An operator asked for this exact earlier state: it runs however old it is."""
        return self.rollback_of is not None or self.undoes is not None

    @property
    def cluster(self) -> str:
        return self.config.cluster

    def tasks(self, phase: Phase) -> list[TaskRun]:
        return self.pre_tasks if phase == "pre" else self.post_tasks

    def fail(self, error: str, cause: str) -> None:
        """Record a failure the state machine will route on (``progress`` = FAILED)."""
        self.failure = Failure(error=error, cause=cause)
        self.progress = "FAILED"

    def to_payload(self) -> dict[str, Any]:
        payload: dict[str, Any] = self.model_dump(mode="json", by_alias=True)
        return payload
