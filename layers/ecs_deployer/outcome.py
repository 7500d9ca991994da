"""How a deployment ends: the one owner of the outcome contract.

The statuses a deployment and its history record go through, the error names the state
machine's Fail states carry (derived from ``errors.py``), and the cause a failed execution
reports: ``{status, error, message, app, deployment_id, image, services, tasks}`` as JSON.
Finalize and Resolve's rejection write it; the operator's tools read it back with ``Cause``.
``tests/template/test_outcome_contract.py`` holds the ASL to it.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Literal, get_args

import msgspec
from msgspec.structs import replace

from ecs_deployer.errors import ApprovalRejected, ApprovalTimedOut, DeployerError
from ecs_deployer.structs import Strict, decode_json, encode_json

if TYPE_CHECKING:
    from ecs_deployer.document import Deployment, ServiceRollout

# How Finalize ends a deployment. REJECTED: its approval gate was rejected or timed out.
DeploymentStatus = Literal[
    "SUCCEEDED", "FAILED", "ROLLED_BACK", "ROLLBACK_FAILED", "SUPERSEDED", "REJECTED"
]
# ABORTED: the execution ended without finalising (stopped, timed out, crashed).
FinalStatus = Literal[DeploymentStatus, "ABORTED"]
RecordStatus = Literal["QUEUED", "IN_PROGRESS", FinalStatus]  # QUEUED: waiting for the lock
FINAL_STATUSES: frozenset[str] = frozenset(get_args(FinalStatus))
# The statuses an execution ends SUCCEEDED with (the ASL's Deployed and Superseded states).
SUCCESSFUL_STATUSES: frozenset[DeploymentStatus] = frozenset({"SUCCEEDED", "SUPERSEDED"})


def _named(cls: type[DeployerError]) -> frozenset[str]:
    """Every public error class below ``cls``: private ones only share code."""
    names: set[str] = set()
    for sub in cls.__subclasses__():
        if not sub.__name__.startswith("_"):
            names.add(sub.__name__)
        names |= _named(sub)
    return frozenset(names)


# The failures of an approval gate that was not approved: nothing changed, by decision.
REJECTIONS: frozenset[str] = frozenset({ApprovalRejected.__name__, ApprovalTimedOut.__name__})
# The errors the state machine's Fail states name; anything else (a bug, a Lambda that kept
# crashing) ends as UNEXPECTED_ERROR, with the original name kept in the cause.
NAMED_ERRORS: frozenset[str] = _named(DeployerError)
UNEXPECTED_ERROR = "DeploymentError"
_MAX_CAUSE = 32_000  # Step Functions allows 32,768 characters
# What an outcome's summary may take of the state data (256 KiB): the rest of it is bounded.
_MAX_SUMMARY = 32_000


class ServiceSummary(Strict, kw_only=True):
    name: str
    task_definition_before: str | None = None
    task_definition_after: str | None = None  # what it runs now, read from ECS
    images_after: dict[str, str] = {}
    task_definition_registered: str | None = None  # what this deployment rolled out
    state: str
    rollback: str | None = None
    reason: str | None = None


class TaskSummary(Strict, kw_only=True):
    family: str
    phase: Literal["pre", "post"]
    task_definition: str | None = None
    state: str
    exit_codes: list[dict[str, int | None]] = []
    reason: str | None = None


class Summary(Strict, kw_only=True):
    """What became of every service and task; a success's summary adds its housekeeping.

    A summary too long to carry in state data keeps only each service's state (the history
    record has every service's revisions).
    """

    app: str
    deployment_id: str
    image: str
    services: list[ServiceSummary] = []
    tasks: list[TaskSummary] = []
    deregistered: list[str] | None = None
    housekeeping_error: str | None = None

    def brief(self) -> Summary:
        return replace(
            self,
            services=[
                ServiceSummary(name=s.name, state=s.state, rollback=s.rollback)
                for s in self.services
            ],
            tasks=[],
            deregistered=None,
        )


class Cause(Strict, kw_only=True, omit_defaults=True):
    """A failed execution's cause. ``error`` is the original failure, even where the Fail
    state names another (RollbackFailed, DeploymentError). A rejected request carries no
    summary; a cause too long for Step Functions keeps only each service's state. Its text
    leaves out what it lacks (a rejection's app, services...)."""

    status: DeploymentStatus
    error: str
    message: str
    app: str | None = None
    deployment_id: str | None = None
    image: str | None = None
    services: list[ServiceSummary] = []
    tasks: list[TaskSummary] = []

    def to_text(self) -> str:
        return encode_json(self).decode()

    @classmethod
    def from_text(cls, text: str) -> Cause | None:
        """The cause of an execution that failed with Finalize's or Resolve's; None for any
        other (a Lambda's error JSON, plain text)."""
        try:
            return decode_json(text, cls)
        except msgspec.DecodeError:  # not JSON, or not a cause
            return None


class Outcome(Strict, kw_only=True):
    status: DeploymentStatus
    error: str | None = None  # the name the ASL routes on, to the Fail state of that name
    cause: str | None = None  # Cause.to_text()
    message: str | None = None  # a success's note: why it was SUPERSEDED
    summary: Summary | None = None

    def bounded(self) -> Outcome:
        """This outcome, its summary brief if too long for state data."""
        if self.summary is None or len(encode_json(self.summary)) <= _MAX_SUMMARY:
            return self
        return replace(self, summary=self.summary.brief())

    @classmethod
    def rejected(cls, exc: DeployerError) -> Outcome:
        """Bad input or config: nothing was changed."""
        cause = Cause(status="FAILED", error=exc.error_name, message=str(exc))
        return cls(status="FAILED", error=exc.error_name, cause=cause.to_text())


def failure_message(error: str, cause: str) -> str:
    """The human part of a cause: a Lambda error's JSON keeps its message, never its trace."""
    try:
        payload = json.loads(cause)
    except (json.JSONDecodeError, TypeError):
        return cause
    if isinstance(payload, dict) and "errorMessage" in payload:
        return str(payload["errorMessage"])
    return cause if cause else error


def deployment_status(deployment: Deployment) -> DeploymentStatus:
    if deployment.lock.status == "SUPERSEDED":
        return "SUPERSEDED"
    if deployment.failure is None:
        return "SUCCEEDED"
    if deployment.failure.error in REJECTIONS:
        return "REJECTED"
    rollbacks = [service.rollback for service in deployment.services if service.rollback]
    if all(rollback.state == "NOT_NEEDED" for rollback in rollbacks):
        return "FAILED"  # no revision of ours was left to undo: the deployment changed nothing
    if all(rollback.state in ("COMPLETED", "NOT_NEEDED") for rollback in rollbacks):
        return "ROLLED_BACK"
    return "ROLLBACK_FAILED"


def _final_revision(service: ServiceRollout, running: str | None) -> dict[str, Any]:
    """What the service runs now, and its images when this deployment knows them."""
    images = {
        service.task_definition_after: service.images_after,
        service.task_definition_before: service.images_before,
    }.get(running, {})
    return {"task_definition_after": running, "images_after": images}


def summary(deployment: Deployment, running: dict[str, str | None]) -> Summary:
    """``running``: the revision each service's PRIMARY deployment runs now, read from ECS."""
    return Summary(
        app=deployment.app,
        deployment_id=deployment.deployment_id,
        image=deployment.image.uri,
        services=[
            ServiceSummary(
                name=service.name,
                task_definition_before=service.task_definition_before,
                **_final_revision(service, running.get(service.name)),
                task_definition_registered=service.task_definition_after,
                state=service.state,
                rollback=service.rollback.state if service.rollback else None,
                reason=service.rollback.reason if service.rollback else service.reason,
            )
            for service in deployment.services
        ],
        tasks=[
            TaskSummary(
                family=run.family,
                phase=phase,
                task_definition=run.task_definition,
                state=run.state,
                exit_codes=[result.exit_codes for result in run.results],
                reason=run.reason,
            )
            for phase in ("pre", "post")
            for run in deployment.tasks(phase)
        ],
    )


def decide_outcome(deployment: Deployment, running: dict[str, str | None]) -> Outcome:
    """The outcome of a deployment that reached Finalize, and the cause its Fail state shows."""
    status = deployment_status(deployment)
    details = summary(deployment, running)
    if deployment.failure is None:
        # SUPERSEDED: which newer image and deployment took over; nothing was changed.
        return Outcome(status=status, message=deployment.lock.reason, summary=details)
    original = deployment.failure.error
    error = original if original in NAMED_ERRORS else UNEXPECTED_ERROR
    if status == "ROLLBACK_FAILED":
        error = "RollbackFailed"
    cause = Cause(
        status=status,
        error=original,
        message=failure_message(original, deployment.failure.cause),
        app=details.app,
        deployment_id=details.deployment_id,
        image=details.image,
        services=details.services,
        tasks=details.tasks,
    )
    text = cause.to_text()
    if len(text) > _MAX_CAUSE:
        brief = details.brief()
        text = replace(cause, services=brief.services, tasks=[]).to_text()
        text = text[:_MAX_CAUSE]
    return Outcome(status=status, error=error, cause=text, summary=details)
