"""Dispatch: which apps an ECR push deploys, and under which execution name.

A push is a successful "ECR Image Action" PUSH, or an "ECR Replication Action" REPLICATE:
a replica of an image pushed in another region (or account) is that image, arriving here.
An untagged push deploys nothing: it is a part of a multi-platform image (a platform's
manifest, an attestation), whose tagged index deploys, or an image nobody named.

Each app that wants the push gets a child execution (in its first environment, for an app
with environments: domain/promotion.py) whose name is derived from the app and the image
digest, so Step Functions itself refuses to deploy one digest twice to one app
(EventBridge delivers at least once; ECR emits one event per tag, and a re-tag or a replica
of a digest is another event). A push of a digest whose deployment already ended without
success is a retry, under the next attempt's name. Reads configs and history; changes
nothing.

Which configs it reads: those the config index (``domain/config_index.py``) lists for the
pushed repository, by name, so a push costs the same whatever the number of apps; every
config (one read of the whole prefix) until the index is first built, or without one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from aws_lambda_powertools import Logger

from ecs_deployer.config.models import APP_NAME_PATTERN, describe_tag_filter
from ecs_deployer.config.parsing import raw_trigger_repositories
from ecs_deployer.errors import ConfigError
from ecs_deployer.history import HistoryRecord, iso
from ecs_deployer.inputs import IMAGE_TAG_PATTERN, EcrImageActionEvent, ManualRequest, Trigger
from ecs_deployer.outcome import FINAL_STATUSES
from ecs_deployer.structs import Strict, encode

if TYPE_CHECKING:
    from collections.abc import Iterable
    from datetime import datetime

    from ecs_deployer.aws.dynamodb import ConfigIndexTable, DeploymentsTable
    from ecs_deployer.aws.ssm import ConfigStore
    from ecs_deployer.config.models import AppConfig

logger = Logger(child=True)
_APP_NAME = re.compile(APP_NAME_PATTERN)

_UNTAGGED = (
    "a platform's manifest or an attestation of a multi-platform image (its tagged index "
    "deploys), or an image pushed without a tag; an untagged push deploys nothing "
    "(deploy it by hand with image_digest)"
)


class Ignored(Strict, kw_only=True):
    kind: Literal["ignored"] = "ignored"
    status: Literal["IGNORED"] = "IGNORED"
    reason: str


class DispatchTarget(Strict, kw_only=True):
    app: str
    execution_name: str
    input: dict[str, Any]
    reason: str  # first deployment of this digest, or a retry of which failed deployment


@dataclass(frozen=True)
class BrokenConfig:
    """An app whose config seems to want the push but cannot deploy it: its history says so."""

    request: ManualRequest  # the push, as that app's request
    message: str


class Dispatch(Strict, kw_only=True):
    kind: Literal["dispatch"] = "dispatch"
    targets: list[DispatchTarget]
    ignored: list[str] = []  # apps that use the repository but did not want this push
    # parameters whose broken config seems to want it, or that are unreadable (not a String
    # parameter) so may want it, or whose name no app can have: reported, not skipped
    errors: list[str] = []
    duplicates: list[str] = []  # apps that already deploy(ed) this digest: why not again


@dataclass(frozen=True)
class PushDispatch:
    """What a push dispatches: the state's output, and the apps among its errors whose
    broken config lost the push, which the step files in their history (not in the output)."""

    output: Dispatch
    broken: list[BrokenConfig]


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


def _unwanted(event: EcrImageActionEvent) -> Ignored | None:
    """Why no app deploys the event, whatever the configs say; None: a push of a tag."""
    detail = event.detail
    if not event.is_successful_push:
        return Ignored(reason=f"not a successful push: {detail.action_type} {detail.result}")
    if detail.image_tag is None:
        return Ignored(
            reason=f"{detail.repository_name}@{detail.image_digest}: untagged: {_UNTAGGED}"
        )
    if not re.fullmatch(IMAGE_TAG_PATTERN, detail.image_tag):
        shown = detail.image_tag if len(detail.image_tag) <= 40 else f"{detail.image_tag[:40]}..."
        return Ignored(
            reason=f"{detail.repository_name}@{detail.image_digest}: the tag '{shown}' is not a "
            "Docker tag (at most 128 of A-Z a-z 0-9 _ . -, not starting with . or -): deploy "
            "the image by its digest"
        )
    return None


def _config_wanting(
    app: str, text: str | ConfigError, repository: str, configs: ConfigStore
) -> AppConfig | str | None:
    """The app's config if it deploys pushes to ``repository``; or why a parameter that may
    want them cannot deploy them; None for one that does not want them."""
    if isinstance(text, ConfigError):  # unreadable (a SecureString): it may want the push
        return str(text)
    wants = repository in raw_trigger_repositories(text)
    if not _APP_NAME.fullmatch(app):
        problem = (
            f"parameter {configs.parameter_name(app)}: '{app}' is not a valid app name (up to "
            "40 letters, digits, '-' and '_', starting with a letter or digit): rename it"
        )
        return problem if wants else None
    try:
        config = configs.parse(app, text).config
    except ConfigError as exc:
        return str(exc) if wants else None
    trigger = config.trigger
    return config if trigger is not None and repository in trigger.repositories else None


def _passed_over(
    app: str, config: AppConfig, event: EcrImageActionEvent, home_account: str
) -> str | None:
    """Why an app that deploys the pushed repository does not deploy this push."""
    trigger = config.trigger
    registry = (trigger.registry if trigger is not None else None) or home_account
    if registry != event.account:
        return (
            f"app '{app}' deploys {event.detail.repository_name} of the registry in account "
            f"{registry}; this push is in account {event.account}"
        )
    tag = event.detail.image_tag
    if trigger is not None and not trigger.accepts_tag(tag):
        filters = ", ".join(describe_tag_filter(tag_filter) for tag_filter in trigger.tags)
        return f"app '{app}' deploys tags matching {filters}; '{tag}' does not match"
    return None


def _texts_for(
    repository: str, configs: ConfigStore, index: ConfigIndexTable | None
) -> dict[str, str | ConfigError]:
    """The configs that may want a push to ``repository``, by app."""
    apps = index.apps_to_read(repository) if index is not None else None
    return configs.load_all_texts() if apps is None else configs.load_texts(apps)


def dispatch(
    event: EcrImageActionEvent,
    configs: ConfigStore,
    table: DeploymentsTable,
    home_account: str,
    index: ConfigIndexTable | None = None,
) -> Ignored | PushDispatch:
    """``home_account``: the deployer's account, the registry of an app whose trigger names
    none; a push deploys the apps whose registry is the account it happened in."""
    if (unwanted := _unwanted(event)) is not None:
        return unwanted
    detail = event.detail
    repository, tag = detail.repository_name, detail.image_tag
    shown = f"{repository}:{tag}" + (
        f" (replica from {detail.source_region or 'another registry'})" if event.is_replica else ""
    )
    targets: list[DispatchTarget] = []
    ignored: list[str] = []
    errors: list[str] = []
    duplicates: list[str] = []
    broken: list[BrokenConfig] = []

    def as_request(app: str, environment: str | None = None) -> ManualRequest:
        """The push, as a request to deploy it to ``app`` (in ``environment``)."""
        return ManualRequest(
            app=app,
            environment=environment,
            repository=repository,
            image_digest=detail.image_digest,
            image_tag=tag,
            trigger=Trigger(kind="ecr-push", event_id=event.id, pushed_at=event.time),
        )

    for app, text in sorted(_texts_for(repository, configs, index).items()):
        config = _config_wanting(app, text, repository, configs)
        if config is None:
            continue
        if isinstance(config, str):
            errors.append(config)
            if _APP_NAME.fullmatch(app):
                broken.append(BrokenConfig(request=as_request(app), message=config))
            continue
        if (reason := _passed_over(app, config, event, home_account)) is not None:
            ignored.append(reason)
            continue
        # A chain's push deploys its first environment; the later ones are promotions.
        first = config.environments[0].name if config.environments else None
        records = table.records_of_digest(app, detail.image_digest)
        attempt = push_attempt((r for r in records if r.environment == first), event.time)
        if attempt.attempt is None:
            duplicates.append(f"app '{app}': {attempt.reason}")
            continue
        targets.append(
            DispatchTarget(
                app=app,
                execution_name=child_execution_name(app, detail.image_digest, attempt.attempt),
                input=encode(as_request(app, first)),
                reason=attempt.reason,
            )
        )
    if not targets and not errors:
        reasons = ignored + duplicates
        reason = "; ".join(reasons) or f"no app config under {configs.prefix} deploys {repository}"
        return Ignored(reason=f"{shown}: {reason}")
    logger.info("dispatching push", extra={"image": shown, "apps": [t.app for t in targets]})
    output = Dispatch(targets=targets, ignored=ignored, errors=errors, duplicates=duplicates)
    return PushDispatch(output=output, broken=broken)
