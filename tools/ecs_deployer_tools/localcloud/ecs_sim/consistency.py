"""Eventual consistency in the simulated ECS: describes that do not show a change yet.

"The Amazon ECS API follows an eventual consistency model" (RunTask's API reference): the
result of a call may not be visible to the calls that follow at once. A change (a task
RunTask started, a deployment UpdateService started) stays unseen by the next 1 to
`EcsFaults.describe_lag` (tasks) or `service_describe_lag` (services) describes that name
it, drawn from a seeded generator, and never longer than `EcsFaults.describe_lag_seconds`
after the change. AWS documents no bound (its
advice is to describe again with a backoff of up to about five minutes): these keep runs
short and repeatable, and well inside what the deployer tolerates.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

    from ecs_deployer_tools.localcloud.ecs_sim.faults import EcsFaults


@dataclass
class Unseen:
    """A change the next `describes` describes miss, until `until`."""

    describes: int
    until: datetime

    def hides(self, now: datetime) -> bool:
        """Whether the describe at hand misses the change (then it counts as one)."""
        if self.describes <= 0 or now >= self.until:
            return False
        self.describes -= 1
        return True


class DescribeLag:
    """Draws how long each change stays unseen."""

    def __init__(self, faults: Callable[[], EcsFaults], now: Callable[[], datetime]) -> None:
        self._faults = faults
        self._now = now
        # Simulations are not secrets: seeded, repeatable pseudo-randomness is the point.
        self._rng = random.Random(f"ecs-sim-lag:{faults().seed}")  # noqa: S311

    def change(self, bound: int) -> Unseen:
        """A change made now, missed by up to `bound` describes."""
        faults = self._faults()
        describes = self._rng.randint(1, bound) if bound else 0
        return Unseen(describes, self._now() + timedelta(seconds=faults.describe_lag_seconds))
