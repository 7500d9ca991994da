"""Admission: a deployment request becomes the deployment document, or is rejected.

Everything that can be checked without changing ECS is checked first: the config, the
cluster, the image or rollback target. A rejected request for a known app is still a
deployment on record (FAILED, having changed nothing): ``failed_record`` builds it.
Reads configs, ECR, ECS and history; changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

from msgspec.structs import replace

from ecs_deployer.document import Deployment, Options, ServiceRollout, TaskRun
from ecs_deployer.domain import promotion
from ecs_deployer.domain.locks import deployment_order
from ecs_deployer.errors import ConfigError, DeployerError, FieldError, InputError
from ecs_deployer.history import HistoryRecord, iso
from ecs_deployer.image import ImageRef
from ecs_deployer.inputs import EcrImageActionEvent, ManualRequest, Trigger, parse_execution_input
from ecs_deployer.outcome import Outcome
from ecs_deployer.structs import Strict

if TYPE_CHECKING:
    from datetime import datetime

    from ecs_deployer.aws.dynamodb import ConfigIndexTable, DeploymentsTable
    from ecs_deployer.aws.ecr import EcrGateway
    from ecs_deployer.aws.ssm import ConfigStore, LoadedConfig
    from ecs_deployer.config.models import AppConfig
    from ecs_deployer.domain.scope import StackScope
    from ecs_deployer.payloads import ExecutionContext


class ExecutionInputs(Protocol):
    """What admission reads of Step Functions (aws.stepfunctions.Executions)."""

    def input_of(self, execution_arn: str) -> Any: ...


@dataclass(frozen=True)
class AdmissionDeps:
    """What admission reads (and Resolve's dispatch: its configs, table and config index)."""

    configs: ConfigStore
    ecr: EcrGateway
    table: DeploymentsTable
    scope: StackScope
    executions: ExecutionInputs
    index: ConfigIndexTable | None = None  # None: a push reads every config


class Rejected(Strict, kw_only=True):
    """Bad input or config: nothing was changed; ``outcome`` is shaped like Finalize's."""

    kind: Literal["rejected"] = "rejected"
    outcome: Outcome

    @classmethod
    def of(cls, exc: DeployerError) -> Rejected:
        return cls(outcome=Outcome.rejected(exc))


def _repository(request: ManualRequest, loaded: LoadedConfig) -> str:
    """The repository the image comes from: one of the app's trigger repositories (another
    app's image is not this app's to deploy), or any when the config names none."""
    repositories = loaded.config.trigger.repositories if loaded.config.trigger else []
    if request.repository is not None:
        if repositories and request.repository not in repositories:
            problem = (
                f"'{request.repository}' is not a trigger repository of app '{loaded.app}' "
                f"({', '.join(repositories)})"
            )
            raise InputError("invalid manual input", [FieldError("repository", problem)])
        return request.repository
    if len(repositories) == 1:
        return repositories[0]
    raise InputError(
        "invalid manual input",
        [
            FieldError(
                "repository",
                f"required: app '{loaded.app}' names {len(repositories)} trigger repositories",
            )
        ],
    )


def _rollback_target(
    request: ManualRequest, config: AppConfig, table: DeploymentsTable
) -> tuple[ImageRef, dict[str, str]]:
    """The image and per-service revisions a rollback returns to: those the deployment
    ``rollback_to`` names left, or those that ran before the deployment ``undo`` names."""
    key = "rollback_to" if request.rollback_to is not None else "undo"
    wanted = request.rollback_to or request.undo or ""
    record = table.find_record(request.app, wanted)
    if record is None:
        problem = f"app '{request.app}' has no deployment '{wanted}'"
        raise InputError("invalid manual input", [FieldError(key, problem)])
    if record.environment != request.environment:
        problem = (
            f"deployment '{wanted}' ran in environment '{record.environment}', "
            f"not '{request.environment}'"
        )
        raise InputError("invalid manual input", [FieldError(key, problem)])
    if record.status != "SUCCEEDED" or record.image is None:
        problem = f"deployment '{wanted}' ended {record.status}: only a success can be " + (
            "returned to" if key == "rollback_to" else "undone"
        )
        raise InputError("invalid manual input", [FieldError(key, problem)])
    if key == "rollback_to":
        revisions = {s.name: s.task_definition_after for s in record.services}
        image = replace(ImageRef.from_uri(record.image), tag=record.tag)
    else:
        revisions = {s.name: s.task_definition_before for s in record.services}
        images = [image for s in record.services for image in s.images_before.values()]
        image = ImageRef.from_uri(images[0] if images else record.image)
    found = {name: revision for name, revision in revisions.items() if revision}
    missing = [service.name for service in config.services if service.name not in found]
    if missing:
        problem = f"{', '.join(missing)} not part of deployment '{wanted}'"
        raise ConfigError(
            f"cannot return app '{request.app}' to '{wanted}'", [FieldError("services", problem)]
        )
    return image, found


def prepare(request: ManualRequest, context: ExecutionContext, deps: AdmissionDeps) -> Deployment:
    """The deployment document for ``request``, after every check that changes nothing."""
    loaded = deps.configs.load(request.app)
    config = loaded.config
    deps.scope.check_config(request.app, config)
    environment = promotion.environment_of(request, config)
    next_environment = None
    if environment is not None:
        if request.promotion is not None:
            previous = deps.table.find_record(request.app, request.promotion.previous_deployment_id)
            promotion.vouch(request, config, previous)
        following = config.next_environment(environment)
        next_environment = following.name if following and not request.is_rollback else None
        config = config.in_environment(environment)
    revisions: dict[str, str] = {}
    if request.is_rollback:
        image, revisions = _rollback_target(request, config, deps.table)
    else:
        image = deps.ecr.resolve(
            _repository(request, loaded),
            request.image_tag,
            request.image_digest,
            config.trigger.registry if config.trigger is not None else None,
        )
    # A rollback runs no one-off tasks: migrations do not run backwards.
    skip_pre = request.skip_pre_tasks or request.is_rollback
    skip_post = request.skip_post_tasks or request.is_rollback
    trigger = request.trigger
    if request.is_rollback and trigger.kind == "manual":
        trigger = replace(trigger, kind="rollback")
    return Deployment(
        deployment_id=context.Name,
        execution_arn=context.Id,
        app=request.app,
        config=config,
        config_digest=loaded.digest,
        image=image,
        options=Options(
            skip_pre_tasks=skip_pre,
            skip_post_tasks=skip_post,
            force=request.force,
            poll_seconds=request.poll_seconds or config.poll_seconds,
        ),
        trigger=trigger,
        environment=environment,
        promotion=request.promotion,
        next_environment=next_environment,
        rollback_of=request.rollback_to,
        undoes=request.undo,
        requested_at=requested_at(request, context),
        order=_order(request, context, image),
        services=[
            ServiceRollout(
                name=service.name,
                containers=list(service.containers),
                target_task_definition=revisions.get(service.name),
                force=service.force or request.force,
                max_wait_minutes=service.max_wait,
                wait_until=service.wait_until,
                codedeploy=service.codedeploy,
            )
            for service in config.services
        ],
        # A rollback returns to what ran before: an operator asked for it, nobody else.
        approval_required=config.approval == "required" and not request.is_rollback,
        approval_timeout_minutes=config.approval_timeout,
        pre_tasks=[] if skip_pre else [TaskRun(config=t) for t in config.phase_tasks("pre")],
        post_tasks=[] if skip_post else [TaskRun(config=t) for t in config.phase_tasks("post")],
    )


def vouched_for(
    request: ManualRequest, context: ExecutionContext, executions: ExecutionInputs
) -> ManualRequest:
    """``request`` with only the trigger Step Functions vouches for.

    A push's trigger (``ecr-push``, its event id and time) stands only when a dispatcher
    execution of this state machine started this one (``started_by``) and its input is that
    very event. A promotion's stands as far as its previous deployment's record vouches for
    it (``prepare``: ``promotion.vouch``). Any other trigger a user typed is a claim: the
    request is manual, keeping only the claimed ``actor`` (Step Functions names no caller).
    """
    trigger = request.trigger
    if trigger.kind == "ecr-push" and _dispatched(request, context, executions):
        return request
    # A promotion's claim is checked where the chain's records are read (admission).
    if trigger.kind == "promotion" and request.promotion is not None:
        return request
    return replace(request, trigger=Trigger(actor=trigger.actor))


def _dispatched(
    request: ManualRequest, context: ExecutionContext, executions: ExecutionInputs
) -> bool:
    parent = request.started_by
    # Only an execution of this state machine is read: any other is no dispatcher of ours.
    if parent is None or not parent.startswith(context.Id.rsplit(":", 1)[0] + ":"):
        return False
    try:
        event = parse_execution_input(executions.input_of(parent))
    except InputError:
        return False
    return (
        isinstance(event, EcrImageActionEvent)
        and event.id == request.trigger.event_id
        and event.time == request.trigger.pushed_at
        and event.detail.repository_name == request.repository
        and event.detail.image_digest == request.image_digest
    )


def requested_at(request: ManualRequest, context: ExecutionContext) -> datetime:
    """When the deployment was asked for: the push's time, which the input only claims,
    never after its execution started (a time Step Functions sets), so that a claimed future
    time cannot place a deployment after every real push."""
    claimed = request.trigger.pushed_at
    return min(claimed, context.StartTime) if claimed else context.StartTime


def _order(request: ManualRequest, context: ExecutionContext, image: ImageRef | None) -> str:
    """Where this deployment stands among the app's (see domain.locks.deployment_order)."""
    trigger = request.trigger
    if trigger.kind == "ecr-push" and trigger.pushed_at and trigger.event_id:
        requested = requested_at(request, context)
        # ECR's own push time (milliseconds) orders pushes of one event second.
        pushed_at = image.pushed_at if image and image.pushed_at else requested
        return deployment_order(iso(requested), iso(pushed_at), trigger.event_id)
    started = iso(context.StartTime)
    return deployment_order(started, started, context.Name)


def failed_record(
    request: ManualRequest,
    context: ExecutionContext,
    now: datetime,
    *,
    error: str | None,
    message: str,
) -> HistoryRecord:
    """The record of a request for a known app that cannot proceed: FAILED, having changed
    nothing. Also of an execution that ended before its Resolve finished (steps/close.py)."""
    return HistoryRecord(
        app=request.app,
        deployment_id=context.Name,
        execution_arn=context.Id,
        status="FAILED",
        repository=request.repository,
        digest=request.image_digest,
        tag=request.image_tag,
        trigger=request.trigger.kind,
        environment=request.environment,
        chain_id=(request.promotion.chain_id if request.promotion else context.Name)
        if request.environment
        else None,
        promoted_from=request.promotion.previous_deployment_id if request.promotion else None,
        rollback_of=request.rollback_to,
        undoes=request.undo,
        event_id=request.trigger.event_id,
        actor=request.trigger.actor,
        requested_at=iso(requested_at(request, context)),
        order=_order(request, context, None),
        finished_at=iso(now),
        updated_at=iso(now),
        error=error,
        cause=message,
    )
