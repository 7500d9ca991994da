"""Where the deployer reads the time.

Each handler holds a module-level ``clock`` and passes ``clock.now()`` to the steps, which
never read the time themselves. The local cloud swaps the handlers' clock for its virtual
clock, so a scenario's minute-long ``max_wait`` passes in no time; nothing else changes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)
