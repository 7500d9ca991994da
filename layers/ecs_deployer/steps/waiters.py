"""Event-driven waits: register a waiting deployment's token (ECS's events wake it:
``steps/notify_waiters.py``); the approval gate's token, which an operator's answer ends.

ECS delivers its events on a best-effort basis, and one may come before the token is stored
(the rollout ended between the check and the wait): the wait's timeout, the safety poll,
covers both. A wake only ends the wait early; the check that follows judges.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from msgspec.structs import replace

from ecs_deployer.domain import lifecycle
from ecs_deployer.domain.waiters import approval_key, awaited_keys
from ecs_deployer.history import ApprovalRecord, RecordUpdate, iso

if TYPE_CHECKING:
    from datetime import datetime

    from ecs_deployer.aws.dynamodb import DeploymentsTable
    from ecs_deployer.document import Deployment, PausedHook, ServiceRollout
    from ecs_deployer.domain.lifecycle import LifecyclePublisher

# A waiter outlives its wait (at most the longest safety poll) by this much, then expires.
_WAITER_HOURS = 24


def register_waiter(
    table: DeploymentsTable, deployment: Deployment, token: str, now: datetime
) -> list[str]:
    """Store `token` under every resource the deployment awaits; the keys stored."""
    keys = awaited_keys(deployment)
    expires_at = int(now.timestamp()) + _WAITER_HOURS * 3600
    table.waiter_items.store_waiter(
        keys, deployment.app, deployment.deployment_id, token, expires_at
    )
    return keys


def request_approval(
    table: DeploymentsTable,
    deployment: Deployment,
    token: str,
    now: datetime,
    events: LifecyclePublisher,
) -> datetime:
    """Store the gate's `token` under the app's approval key, note the pending approval on
    the record, and announce it; the deadline (the state's TimeoutSecondsPath ends it then)."""
    deadline = now + timedelta(minutes=deployment.approval_timeout_minutes)
    expires_at = int(deadline.timestamp()) + _WAITER_HOURS * 3600
    table.waiter_items.store_waiter(
        [approval_key(deployment.app)], deployment.app, deployment.deployment_id, token, expires_at
    )
    pending = ApprovalRecord(status="PENDING", requested_at=iso(now), deadline=iso(deadline))
    asked = replace(RecordUpdate.progress(deployment, now), approval=pending)
    table.update_record(deployment, asked)  # with what the pre tasks did
    events.publish(lifecycle.awaiting_approval(deployment, deadline))
    return deadline


def awaited_answer(table: DeploymentsTable, deployment: Deployment) -> ApprovalRecord | None:
    """The approval on the deployment's record, read only while one of its services waits
    at an announced PAUSE hook nobody answered yet: the operator's answer is written there
    (``ecs-deployer approve``/``reject``), in whichever account the app runs."""
    awaiting = any(
        s.paused is not None
        and s.paused.announced
        and not (s.paused.continued or s.paused.rejected)
        for s in deployment.services
        if s.state == "IN_PROGRESS"
    )
    return table.read_approval(deployment) if awaiting else None


def announce_pauses(
    table: DeploymentsTable, deployment: Deployment, now: datetime, events: LifecyclePublisher
) -> Deployment:
    """Each service deployment newly paused at a PAUSE hook: its approval on the record, and
    "Waiting For Approval" announced, once; answered by ContinueServiceDeployment.

    The record holds one approval. While an announced hook awaits its answer, the new
    request replaces only the pending one (it covers both hooks); an answer the operator
    recorded meanwhile stays until the next check sends it, and that check announces."""
    if not any(map(_unannounced, deployment.services)):
        return deployment  # the usual check, a pause or none: no record to read
    timeout = timedelta(minutes=deployment.approval_timeout_minutes)
    awaited = awaited_answer(table, deployment)
    if awaited is not None and awaited.status != "PENDING":
        return deployment
    while_pending = awaited.requested_at if awaited is not None else None
    for service in deployment.services:
        paused = _unannounced(service)
        if paused is None:
            continue
        deadline = paused.since + timeout
        pending = ApprovalRecord(
            status="PENDING",
            requested_at=iso(paused.since),
            deadline=iso(deadline),
            service=service.name,
            stage=paused.stage,
        )
        asked = replace(RecordUpdate.progress(deployment, now), approval=pending)
        if not table.update_record(deployment, asked, while_pending=while_pending):
            return deployment  # answered meanwhile, or final: the next check announces
        events.publish(lifecycle.awaiting_approval(deployment, deadline, service))
        paused.announced = True
        while_pending = pending.requested_at
    return deployment


def _unannounced(service: ServiceRollout) -> PausedHook | None:
    """The service's PAUSE hook, if it waits and was not announced yet."""
    paused = service.paused
    return paused if paused is not None and not paused.announced and not paused.rejected else None
