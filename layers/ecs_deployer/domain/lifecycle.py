"""A deployment's lifecycle as EventBridge events: what a platform routes to chat, paging or
audit (source ``ecs-deployer``).

One event when a deployment is accepted ("Deployment Started"), one when it waits for an
operator's approval ("Waiting For Approval": who may answer, how, and by when), and one when
it ends, named after how it ended. The detail is one documented shape
(``schema/deployment-event.schema.json``): the app, the deployment, the image, what
triggered it, each service's revisions, and the error and cause of a failure. Publishing
never decides anything: a deployment whose event could not be published ends exactly as it
would have.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Literal, Protocol

from ecs_deployer.domain.services import revision
from ecs_deployer.history import iso
from ecs_deployer.outcome import FinalStatus, ServiceSummary, failure_message
from ecs_deployer.structs import Frozen

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime

    from ecs_deployer.document import Deployment, ServiceRollout
    from ecs_deployer.outcome import Outcome

SOURCE: Final = "ecs-deployer"
LifecycleStatus = Literal["STARTED", "AWAITING_APPROVAL", FinalStatus]
DETAIL_TYPES: Final[dict[str, str]] = {
    "STARTED": "Deployment Started",
    "AWAITING_APPROVAL": "Waiting For Approval",
    "REJECTED": "Deployment Rejected",
    "SUCCEEDED": "Deployment Succeeded",
    "FAILED": "Deployment Failed",
    "ROLLBACK_FAILED": "Deployment Failed",
    "ABORTED": "Deployment Failed",
    "ROLLED_BACK": "Deployment Rolled Back",
    "SUPERSEDED": "Deployment Superseded",
}


# Who may answer an approval: the calls `approve` and `reject` make are the stack's
# ApproverPolicy's (template.yaml).
APPROVERS: Final = "principals with the stack's ApproverPolicy (output ApproverPolicyArn)"


class ApprovalRequest(Frozen, kw_only=True, frozen=True):
    """What a "Waiting For Approval" event asks, and of whom."""

    deadline: str  # ISO time, UTC: unanswered by then, the deployment is rejected
    approve: str  # the command that approves it
    reject: str  # the command that rejects it
    approvers: str = APPROVERS
    # A PAUSE hook's: the service whose deployment waits, and its lifecycle stage. None:
    # the deployer's gate, before any service changes.
    service: str | None = None
    stage: str | None = None


class LifecycleDetail(Frozen, kw_only=True, frozen=True):
    """The ``detail`` of every deployment event."""

    app: str
    environment: str | None = None  # of a promotion chain (domain/promotion.py)
    deployment_id: str
    status: LifecycleStatus
    image: str
    trigger: str  # ecr-push | manual | rollback
    execution_arn: str
    console_url: str  # the execution in the Step Functions console
    services: list[ServiceSummary] = []
    error: str | None = None
    cause: str | None = None  # the failure's message, for people
    approval: ApprovalRequest | None = None  # what a Waiting For Approval event asks


class LifecyclePublisher(Protocol):
    """Where a deployment's lifecycle events go (aws.eventbus.LifecycleEvents)."""

    def publish(self, detail: LifecycleDetail) -> None: ...


@dataclass(frozen=True)
class Broadcast:
    """Every publisher hears each event; each is best effort on its own, so one that fails
    never keeps the event from the others."""

    publishers: Sequence[LifecyclePublisher]

    def publish(self, detail: LifecycleDetail) -> None:
        for publisher in self.publishers:
            publisher.publish(detail)


def _detail(
    deployment: Deployment,
    status: LifecycleStatus,
    services: list[ServiceSummary],
    *,
    error: str | None = None,
    cause: str | None = None,
    approval: ApprovalRequest | None = None,
) -> LifecycleDetail:
    execution_arn = deployment.execution_arn
    region = execution_arn.split(":")[3]
    return LifecycleDetail(
        app=deployment.app,
        environment=deployment.environment,
        deployment_id=deployment.deployment_id,
        status=status,
        image=deployment.image.uri,
        trigger=deployment.trigger.kind,
        execution_arn=execution_arn,
        console_url=(
            f"https://{region}.console.aws.amazon.com/states/home?region={region}"
            f"#/v2/executions/details/{execution_arn}"
        ),
        services=services,
        error=error,
        cause=cause,
        approval=approval,
    )


def started(deployment: Deployment) -> LifecycleDetail:
    pending = [ServiceSummary(name=s.name, state="PENDING") for s in deployment.services]
    return _detail(deployment, "STARTED", pending)


def awaiting_approval(
    deployment: Deployment, deadline: datetime, paused: ServiceRollout | None = None
) -> LifecycleDetail:
    """The gate (or ``paused``'s PAUSE hook) waits for an operator: the services, and how to
    answer. No config or environment value: the detail names the app, the image and the
    deployment."""
    services = [
        ServiceSummary(name=s.name, state=s.state, reason=s.reason if s is paused else None)
        for s in deployment.services
    ]
    app = deployment.app
    request = ApprovalRequest(
        deadline=iso(deadline),
        approve=f"ecs-deployer approve {app}",
        reject=f"ecs-deployer reject {app} --reason TEXT",
        service=paused.name if paused else None,
        stage=paused.paused.stage if paused and paused.paused else None,
    )
    return _detail(deployment, "AWAITING_APPROVAL", services, approval=request)


def ended(deployment: Deployment, outcome: Outcome) -> LifecycleDetail:
    summary = outcome.bounded().summary  # an event holds 256 KB at most
    failure = deployment.failure
    return _detail(
        deployment,
        outcome.status,
        summary.services if summary is not None else [],
        error=failure.error if failure else None,
        cause=failure_message(failure.error, failure.cause) if failure else outcome.message,
    )


def aborted(
    deployment: Deployment, running: dict[str, str | None], error: str | None, cause: str
) -> LifecycleDetail:
    """An execution that ended without finalising (stopped, timed out, crashed): what each
    service runs now, as far as ECS says (``running``)."""
    services = [
        ServiceSummary(
            name=service.name,
            task_definition_before=service.task_definition_before,
            task_definition_after=running.get(service.name),
            state=service.state,
        )
        for service in deployment.services
    ]
    return _detail(deployment, "ABORTED", services, error=error, cause=cause)


# SNS: a subject is printable ASCII, without line breaks, under 100 characters.
_SUBJECT_LENGTH: Final = 99


@dataclass(frozen=True)
class Notice:
    """A finished deployment told to people (an SNS topic's email, chat or pager)."""

    subject: str
    body: str


def _service_line(service: ServiceSummary) -> str:
    before, after = (
        revision(arn) if arn else "-"
        for arn in (service.task_definition_before, service.task_definition_after)
    )
    state = service.state + (f", rollback {service.rollback}" if service.rollback else "")
    line = f"  {service.name}: {before} -> {after} ({state})"
    return f"{line}\n    {service.reason}" if service.reason else line


def notice(detail: LifecycleDetail) -> Notice:
    """The readable summary of a deployment event: what the event says, nothing more (no
    environment values: the detail carries none, and a cause's log lines are masked)."""
    subject = f"ecs-deployer: {detail.app} {detail.status}"
    if detail.error:
        subject += f" ({detail.error})"
    subject = "".join(c if " " <= c <= "~" else "?" for c in subject)
    if len(subject) > _SUBJECT_LENGTH:
        subject = subject[: _SUBJECT_LENGTH - 3] + "..."
    lines = [
        f"{DETAIL_TYPES[detail.status]}: {detail.app}",
        "",
        f"Status:     {detail.status}",
        f"Deployment: {detail.deployment_id}",
        f"Image:      {detail.image}",
        f"Trigger:    {detail.trigger}",
    ]
    if detail.services:
        lines += ["", "Services (revision before -> now):"]
        lines += [_service_line(service) for service in detail.services]
    if detail.error:
        lines += ["", f"Error: {detail.error}"]
    if detail.cause:
        lines += ["", "Cause:" if detail.error else "Note:", detail.cause]
    if detail.approval:
        lines += [
            "",
            *(
                [f"Paused:     {detail.approval.service} at {detail.approval.stage}"]
                if detail.approval.service
                else []
            ),
            f"Approve:    {detail.approval.approve}",
            f"Reject:     {detail.approval.reject}",
            f"Who:        {detail.approval.approvers}",
            f"Deadline:   {detail.approval.deadline} (rejected unanswered)",
        ]
    lines += ["", f"Execution: {detail.console_url}"]
    return Notice(subject, "\n".join(lines))
