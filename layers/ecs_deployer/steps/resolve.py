"""Resolve: an execution's input → ignored, dispatched to per-app executions, or a deployment.

An ECR push is dispatched: each app that wants it gets a child execution whose name is
derived from the app and the image digest, so Step Functions itself refuses to deploy one
digest twice to one app (EventBridge delivers at least once; ECR emits one event per tag).
A manual request becomes the deployment document, after everything that can be checked
without changing ECS has been checked.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from aws_lambda_powertools import Logger
from pydantic import BaseModel

from ecs_deployer.config.parsing import raw_trigger_repositories
from ecs_deployer.document import Deployment, Options, Outcome, ServiceRollout, TaskRun
from ecs_deployer.domain.locks import deployment_order
from ecs_deployer.errors import ConfigError, DeployerError, FieldError, InputError, ResourceNotFound
from ecs_deployer.history import FINAL_STATUSES, HistoryRecord, iso, new_record, record_key
from ecs_deployer.image import ImageRef
from ecs_deployer.inputs import EcrImageActionEvent, ManualRequest, Trigger, parse_execution_input

if TYPE_CHECKING:
    from collections.abc import Iterable

    from ecs_deployer.aws.dynamodb import DeploymentsTable
    from ecs_deployer.aws.ecr import EcrGateway
    from ecs_deployer.aws.ecs import EcsGateway
    from ecs_deployer.config.models import AppConfig
    from ecs_deployer.config.store import ConfigStore, LoadedConfig

logger = Logger(child=True)


class ExecutionContext(BaseModel):
    """The part of Step Functions' context object the deployer uses (``$$.Execution``)."""

    Id: str
    Name: str
    StartTime: datetime


class Ignored(BaseModel):
    kind: Literal["ignored"] = "ignored"
    status: Literal["IGNORED"] = "IGNORED"
    reason: str


class DispatchTarget(BaseModel):
    app: str
    execution_name: str
    input: dict[str, Any]
    reason: str  # first deployment of this digest, or a retry of which failed deployment


class Dispatch(BaseModel):
    kind: Literal["dispatch"] = "dispatch"
    targets: list[DispatchTarget]
    ignored: list[str] = []  # apps that use the repository but did not want this push
    errors: list[str] = []  # apps whose broken config seems to want it: reported, not skipped
    duplicates: list[str] = []  # apps that already deploy(ed) this digest: why not again


class Rejected(BaseModel):
    """Bad input or config: nothing was changed; ``outcome`` is shaped like Finalize's."""

    kind: Literal["rejected"] = "rejected"
    outcome: Outcome

    @classmethod
    def of(cls, exc: DeployerError) -> Rejected:
        cause = {"status": "FAILED", "error": exc.error_name, "message": str(exc)}
        return cls(
            outcome=Outcome(
                status="FAILED",
                error=exc.error_name,
                cause=json.dumps(cause, separators=(",", ":")),
            )
        )


ResolveResult = Ignored | Dispatch | Rejected | Deployment


@dataclass(frozen=True)
class ResolveDeps:
    configs: ConfigStore
    ecr: EcrGateway
    ecs: EcsGateway
    table: DeploymentsTable
    allowed_clusters: frozenset[str]


def child_execution_name(app: str, digest: str, attempt: int = 1) -> str:
    """Deterministic per (app, digest, attempt): Step Functions refuses a second execution
    of it, so every event of one push (redeliveries, one event per tag) deploys once."""
    base = f"{app}-{digest.removeprefix('sha256:')[:32]}"
    return base if attempt == 1 else f"{base}-{attempt}"


def _attempt_of(record: HistoryRecord) -> int:
    """The attempt a push deployment's name carries (manual deployments carry none: 0)."""
    if record.digest is None:
        return 0
    base = child_execution_name(record.app, record.digest)
    if record.deployment_id == base:
        return 1
    suffix = record.deployment_id.removeprefix(f"{base}-")
    return int(suffix) if suffix != record.deployment_id and suffix.isdigit() else 0


@dataclass(frozen=True)
class PushAttempt:
    """What a push of a digest the app may have deployed before does."""

    attempt: int | None  # the attempt to start; None: a duplicate, nothing starts
    reason: str


def push_attempt(records: Iterable[HistoryRecord], event_time: datetime) -> PushAttempt:
    """The retry rule, from the app's records of this digest, newest first.

    A push is a duplicate of the digest's newest deployment (EventBridge's redelivery, one
    event per tag, a push of what already runs) unless that deployment had already ended
    without success before the push's event time: then it is a retry, deployed again under
    the next attempt's name.
    """
    newest: HistoryRecord | None = None
    attempts = 0
    for record in records:
        newest = newest or record
        attempts = _attempt_of(record)
        if attempts:  # the newest push deployment carries the highest attempt: stop reading
            break
    if newest is None:
        return PushAttempt(1, "first deployment of this digest")
    ended = newest.finished_at is not None and newest.status in FINAL_STATUSES
    if ended and newest.status != "SUCCEEDED" and (newest.finished_at or "") < iso(event_time):
        return PushAttempt(
            attempts + 1,
            f"retry: deployment {newest.deployment_id} of this digest ended {newest.status} "
            f"at {newest.finished_at}, before this push",
        )
    state = newest.status if ended else f"{newest.status}, still running"
    return PushAttempt(None, f"duplicate of deployment {newest.deployment_id} ({state})")


def resolve(
    raw_input: Any, context: ExecutionContext, deps: ResolveDeps, now: datetime
) -> ResolveResult:
    try:
        request = parse_execution_input(raw_input)
    except InputError as exc:
        return Rejected.of(exc)
    if isinstance(request, EcrImageActionEvent):
        return dispatch(request, deps.configs, deps.table)
    try:
        deployment = prepare(request, context, deps)
    except DeployerError as exc:
        record_failed_request(
            request, context, deps.table, now, error=exc.error_name, message=str(exc)
        )
        return Rejected.of(exc)
    deps.table.create_record(
        record_key(deployment.order, deployment.deployment_id), new_record(deployment, now)
    )
    logger.info("deployment accepted", extra={"app": deployment.app, "image": deployment.image.uri})
    return deployment


def dispatch(
    event: EcrImageActionEvent, configs: ConfigStore, table: DeploymentsTable
) -> Ignored | Dispatch:
    detail = event.detail
    if not event.is_successful_push:
        return Ignored(reason=f"not a successful push: {detail.action_type} {detail.result}")
    repository, tag = detail.repository_name, detail.image_tag
    shown = f"{repository}:{tag}" if tag else f"{repository}@{detail.image_digest}"
    targets: list[DispatchTarget] = []
    ignored: list[str] = []
    errors: list[str] = []
    duplicates: list[str] = []
    for app, text in sorted(configs.load_all_texts().items()):
        try:
            config = configs.parse(app, text).config
        except ConfigError as exc:
            if repository in raw_trigger_repositories(text):
                errors.append(str(exc))
            continue
        trigger = config.trigger
        if trigger is None or repository not in trigger.repositories:
            continue
        if not trigger.accepts_tag(tag):
            filters = ", ".join(str(tag_filter) for tag_filter in trigger.tags)
            ignored.append(
                f"app '{app}' deploys tags matching {filters}; "
                + (f"'{tag}' does not match" if tag else "the push has no tag")
            )
            continue
        attempt = push_attempt(table.records_of_digest(app, detail.image_digest), event.time)
        if attempt.attempt is None:
            duplicates.append(f"app '{app}': {attempt.reason}")
            continue
        request = ManualRequest(
            app=app,
            repository=repository,
            image_digest=detail.image_digest,
            image_tag=tag,
            trigger=Trigger(kind="ecr-push", event_id=event.id, pushed_at=event.time),
        )
        targets.append(
            DispatchTarget(
                app=app,
                execution_name=child_execution_name(app, detail.image_digest, attempt.attempt),
                input=request.model_dump(mode="json", exclude_defaults=True),
                reason=attempt.reason,
            )
        )
    if not targets and not errors:
        reasons = ignored + duplicates
        reason = "; ".join(reasons) or f"no app config under {configs.prefix} deploys {repository}"
        return Ignored(reason=f"{shown}: {reason}")
    logger.info("dispatching push", extra={"image": shown, "apps": [t.app for t in targets]})
    return Dispatch(targets=targets, ignored=ignored, errors=errors, duplicates=duplicates)


def _repository(request: ManualRequest, loaded: LoadedConfig) -> str:
    if request.repository is not None:
        return request.repository
    repositories = loaded.config.trigger.repositories if loaded.config.trigger else []
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
    if record.status != "SUCCEEDED" or record.image is None:
        problem = f"deployment '{wanted}' ended {record.status}: only a success can be " + (
            "returned to" if key == "rollback_to" else "undone"
        )
        raise InputError("invalid manual input", [FieldError(key, problem)])
    if key == "rollback_to":
        revisions = {s.name: s.task_definition_after for s in record.services}
        image = ImageRef.from_uri(record.image).model_copy(update={"tag": record.tag})
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


def prepare(request: ManualRequest, context: ExecutionContext, deps: ResolveDeps) -> Deployment:
    """The deployment document for ``request``, after every check that changes nothing."""
    loaded = deps.configs.load(request.app)
    config = loaded.config
    if config.cluster_name not in deps.allowed_clusters:
        allowed = ", ".join(sorted(deps.allowed_clusters)) or "none"
        raise ConfigError(
            f"config of app '{request.app}' is invalid",
            [
                FieldError(
                    "cluster",
                    f"'{config.cluster}' is not a cluster this stack may deploy to "
                    f"(ClusterNames: {allowed})",
                )
            ],
        )
    revisions: dict[str, str] = {}
    if request.is_rollback:
        image, revisions = _rollback_target(request, config, deps.table)
    else:
        image = deps.ecr.resolve(
            _repository(request, loaded), request.image_tag, request.image_digest
        )
    status = deps.ecs.cluster_status(config.cluster)
    if status != "ACTIVE":
        state = "does not exist" if status is None else f"is {status}"
        raise ResourceNotFound(f"cluster '{config.cluster}' {state}")
    # A rollback runs no one-off tasks: migrations do not run backwards.
    skip_pre = request.skip_pre_tasks or request.is_rollback
    skip_post = request.skip_post_tasks or request.is_rollback
    trigger = request.trigger
    if request.is_rollback and trigger.kind == "manual":
        trigger = trigger.model_copy(update={"kind": "rollback"})
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
        rollback_of=request.rollback_to,
        undoes=request.undo,
        requested_at=request.trigger.pushed_at or context.StartTime,
        order=_order(request, context, image),
        services=[
            ServiceRollout(
                name=service.name,
                containers=list(service.containers),
                target_task_definition=revisions.get(service.name),
                force=service.force or request.force,
                max_wait_minutes=service.max_wait,
            )
            for service in config.services
        ],
        pre_tasks=[] if skip_pre else [TaskRun(config=t) for t in config.phase_tasks("pre")],
        post_tasks=[] if skip_post else [TaskRun(config=t) for t in config.phase_tasks("post")],
    )


def _order(request: ManualRequest, context: ExecutionContext, image: ImageRef | None) -> str:
    """Where this deployment stands among the app's (see domain.locks.deployment_order)."""
    trigger = request.trigger
    if trigger.kind == "ecr-push" and trigger.pushed_at and trigger.event_id:
        pushed_at = image.pushed_at if image and image.pushed_at else trigger.pushed_at
        return deployment_order(iso(trigger.pushed_at), iso(pushed_at), trigger.event_id)
    started = iso(context.StartTime)
    return deployment_order(started, started, context.Name)


def record_failed_request(
    request: ManualRequest,
    context: ExecutionContext,
    table: DeploymentsTable,
    now: datetime,
    *,
    error: str | None,
    message: str,
) -> None:
    """A request for a known app that cannot proceed is still a deployment on record: FAILED,
    having changed nothing. Also used when an execution ended before its Resolve finished
    (see steps/close.py)."""
    requested_at = request.trigger.pushed_at or context.StartTime
    record = HistoryRecord(
        app=request.app,
        deployment_id=context.Name,
        execution_arn=context.Id,
        status="FAILED",
        repository=request.repository,
        digest=request.image_digest,
        tag=request.image_tag,
        trigger=request.trigger.kind,
        rollback_of=request.rollback_to,
        undoes=request.undo,
        event_id=request.trigger.event_id,
        actor=request.trigger.actor,
        requested_at=iso(requested_at),
        order=_order(request, context, None),
        finished_at=iso(now),
        updated_at=iso(now),
        error=error,
        cause=message,
    )
    table.create_record(record_key(record.order, context.Name), record)
