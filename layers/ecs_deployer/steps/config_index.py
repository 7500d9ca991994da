"""Keep the config index (``domain/config_index.py``) current: from Parameter Store's change
events, one app at a time, and by a scheduled reconcile from a full read.

Parameter Store emits "Parameter Store Change" (source ``aws.ssm``; ``detail.operation``
Create, Update, Delete or LabelParameterVersion; ``detail.name``; ``detail.type``) on a best
effort basis (AWS Systems Manager User Guide, "Setting up notifications or triggering actions
based on Parameter Store events"), and in no promised order. So an event is only a hint of
which app changed: its config is read again, and what it says now is indexed. The reconcile
heals whatever a lost event left behind, and says how much (the ConfigIndexDrift metric).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aws_lambda_powertools import Logger

from ecs_deployer.aws import metrics
from ecs_deployer.domain import measures
from ecs_deployer.domain.config_index import app_update, drift, index_of, wanted_repositories
from ecs_deployer.structs import Tolerant, decode

if TYPE_CHECKING:
    from datetime import datetime

    from ecs_deployer.aws.dynamodb import ConfigIndexTable
    from ecs_deployer.aws.ssm import ConfigStore

logger = Logger(child=True)


class ParameterChange(Tolerant, kw_only=True, frozen=True):
    operation: str  # Create, Update, Delete, LabelParameterVersion
    name: str


# Told apart by their detail-type.
class ParameterStoreChangeEvent(
    Tolerant, kw_only=True, frozen=True, tag_field="detail-type", tag="Parameter Store Change"
):
    """The EventBridge event of a changed parameter (only what the indexer reads)."""

    detail: ParameterChange


class ScheduledEvent(
    Tolerant, kw_only=True, frozen=True, tag_field="detail-type", tag="Scheduled Event"
):
    """EventBridge's event of a schedule rule: time to reconcile."""


def reconcile(configs: ConfigStore, index: ConfigIndexTable, now: datetime) -> int:
    """Rebuild the index from every config; emit and return how many items had drifted."""
    wanted = index_of(configs.load_all_texts())
    stored, listed = index.read()
    updates = drift(stored, listed, wanted)
    for update in updates:
        index.apply(update)
    index.mark_built(now)
    fixes = sum(update.fixes for update in updates)
    metrics.emit(measures.of_reconcile(fixes))
    logger.info(
        "config index reconciled",
        extra={"apps": len(wanted.repositories), "fixes": fixes, "fixed": [u.app for u in updates]},
    )
    return fixes


def on_parameter_change(
    change: ParameterChange, configs: ConfigStore, index: ConfigIndexTable, now: datetime
) -> None:
    """Index the changed parameter's config as it is now; before the index was ever built,
    build it (so a fresh stack's first config push starts it)."""
    app = change.name.removeprefix(f"{configs.prefix}/")
    if app == change.name or "/" in app:
        logger.info("not an app config", extra={"parameter": change.name})
        return
    stored = index.entry(app)
    if stored is None:
        reconcile(configs, index, now)
        return
    text = configs.load_texts([app]).get(app)
    wanted = frozenset() if text is None else wanted_repositories(text)
    update = app_update(app, stored, wanted)
    index.apply(update)
    logger.info(
        "config indexed",
        extra={
            "app": app,
            "operation": change.operation,
            "repositories": sorted(wanted) if wanted is not None else "unreadable",
        },
    )


def handle(payload: object, configs: ConfigStore, index: ConfigIndexTable, now: datetime) -> None:
    """The indexer's event: a parameter changed, or the schedule's time to reconcile."""
    event: ParameterStoreChangeEvent | ScheduledEvent
    event = decode(payload, ParameterStoreChangeEvent | ScheduledEvent)
    if isinstance(event, ScheduledEvent):
        reconcile(configs, index, now)
    else:
        on_parameter_change(event.detail, configs, index, now)
