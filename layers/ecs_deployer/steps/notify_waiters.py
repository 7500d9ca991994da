"""Wake the waits an ECS event ends (``steps/waiters.py`` registers them)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ecs_deployer.domain.waiters import woken_keys

if TYPE_CHECKING:
    from collections.abc import Collection, Mapping

    from ecs_deployer.aws.stepfunctions import TaskTokens
    from ecs_deployer.aws.waiter_items import WaiterItems


def notify_waiters(
    waiters: WaiterItems,
    tokens: TaskTokens,
    event: Mapping[str, Any],
    clusters: Collection[str],
) -> int:
    """Wake every wait on a resource of an ECS `event` in one of `clusters`, and forget it;
    the waits woken."""
    woken = 0
    for key in woken_keys(event, clusters):
        for waiter, token in waiters.waiters(key):
            woken += tokens.wake(token)
            waiters.delete_waiter(key, waiter, token)
    return woken
