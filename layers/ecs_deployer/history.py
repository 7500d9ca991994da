"""Deployment history: one record per deployment, written before any mutation.

The record is created when a deployment is accepted, updated before services change, and
finalised on every exit path, so no deployment goes unrecorded and an operator can always
see which revision each service ran before and after.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol

from msgspec.structs import replace

from ecs_deployer.outcome import FINAL_STATUSES, FinalStatus, RecordStatus
from ecs_deployer.structs import Frozen, Tolerant, encode

if TYPE_CHECKING:
    from ecs_deployer.document import Deployment


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class RecordRef(Protocol):
    """What names a deployment's record: a deployment, a record, or a ``RecordId``."""

    @property
    def app(self) -> str: ...

    @property
    def order(self) -> str: ...  # domain.locks.deployment_order(): the records sort by it

    @property
    def deployment_id(self) -> str: ...


@dataclass(frozen=True)
class RecordId:
    app: str
    order: str
    deployment_id: str


class ServiceRecord(Tolerant, kw_only=True, frozen=True):
    name: str
    task_definition_before: str | None = None
    task_definition_after: str | None = None
    images_before: dict[str, str] = {}  # container -> image: what an undo returns to
    state: str | None = None


class TaskRecord(Tolerant, kw_only=True, frozen=True):
    family: str
    phase: Literal["pre", "post"]
    task_definition: str | None = None
    state: str | None = None
    exit_codes: dict[str, dict[str, int | None]] = {}


ApprovalStatus = Literal["PENDING", "APPROVED", "REJECTED", "TIMED_OUT"]


class ApprovalRecord(Frozen, kw_only=True, frozen=True):
    """A deployment's approval (its gate's, or a PAUSE hook's): asked for by the deployer,
    answered by an operator (``ecs-deployer approve``/``reject``), or timed out. Who
    answered is kept here."""

    status: ApprovalStatus
    requested_at: str
    deadline: str  # when it is rejected unanswered (approval_timeout after the request)
    # A PAUSE hook's: the service whose deployment waits, and at which lifecycle stage.
    # None: the deployer's own gate, before any service changes.
    service: str | None = None
    stage: str | None = None
    answered_by: str | None = None
    answered_at: str | None = None
    reason: str | None = None

    def answered(
        self, status: ApprovalStatus, by: str | None, now: datetime, reason: str | None = None
    ) -> ApprovalRecord:
        return replace(self, status=status, answered_by=by, answered_at=iso(now), reason=reason)


class HistoryRecord(Tolerant, kw_only=True, frozen=True):
    """What the table holds for one deployment (and what ``ecs-deployer history`` shows)."""

    app: str
    deployment_id: str
    execution_arn: str | None = None
    status: RecordStatus
    image: str | None = None
    repository: str | None = None
    digest: str | None = None
    tag: str | None = None
    trigger: str = "manual"
    # A promotion chain's (domain/promotion.py): the environment, the chain's first
    # deployment, the previous environment's deployment that promoted to this one, and
    # where a success promotes to (so the history tells where a chain stopped).
    environment: str | None = None
    chain_id: str | None = None
    promoted_from: str | None = None
    next_environment: str | None = None
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
    approval: ApprovalRecord | None = None

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES


class RecordUpdate(Frozen, kw_only=True, frozen=True, omit_defaults=True):
    """The fields of a record that change as its deployment proceeds: only those given are
    written (a field left None is not), and never to a record that is already final."""

    updated_at: str
    status: RecordStatus | None = None
    started_at: str | None = None
    finished_at: str | None = None
    services: list[ServiceRecord] | None = None
    tasks: list[TaskRecord] | None = None
    error: str | None = None
    cause: str | None = None
    approval: ApprovalRecord | None = None

    @classmethod
    def progress(cls, deployment: Deployment, now: datetime) -> RecordUpdate:
        """What each service and task has reached."""
        return cls(
            updated_at=iso(now),
            services=_service_records(deployment),
            tasks=_task_records(deployment),
        )

    def with_status(self, status: RecordStatus) -> RecordUpdate:
        return replace(self, status=status)

    def ended(
        self, status: FinalStatus, now: datetime, *, error: str | None, cause: str | None
    ) -> RecordUpdate:
        return replace(self, status=status, finished_at=iso(now), error=error, cause=cause)

    def fields(self) -> dict[str, Any]:
        fields: dict[str, Any] = encode(self)
        return fields


def _service_records(deployment: Deployment) -> list[ServiceRecord]:
    return [
        ServiceRecord(
            name=service.name,
            task_definition_before=service.task_definition_before,
            task_definition_after=service.task_definition_after,
            images_before=service.images_before,
            state=service.rollback.state if service.rollback else service.state,
        )
        for service in deployment.services
    ]


def _task_records(deployment: Deployment) -> list[TaskRecord]:
    return [
        TaskRecord(
            family=run.family,
            phase=phase,
            task_definition=run.task_definition,
            state=run.state,
            exit_codes={result.task_arn: result.exit_codes for result in run.results},
        )
        for phase in ("pre", "post")
        for run in deployment.tasks(phase)
    ]


def new_record(deployment: Deployment, now: datetime) -> HistoryRecord:
    image = deployment.image
    return HistoryRecord(
        app=deployment.app,
        deployment_id=deployment.deployment_id,
        execution_arn=deployment.execution_arn,
        status="QUEUED",
        image=image.uri,
        repository=image.repository,
        digest=image.digest,
        tag=image.tag,
        trigger=deployment.trigger.kind,
        environment=deployment.environment,
        chain_id=deployment.chain_id,
        promoted_from=(
            deployment.promotion.previous_deployment_id if deployment.promotion else None
        ),
        next_environment=deployment.next_environment,
        rollback_of=deployment.rollback_of,
        undoes=deployment.undoes,
        event_id=deployment.trigger.event_id,
        actor=deployment.trigger.actor,
        config_digest=deployment.config_digest,
        requested_at=iso(deployment.requested_at),
        order=deployment.order,
        services=_service_records(deployment),
        tasks=_task_records(deployment),
        updated_at=iso(now),
    )
