"""Helpers shared by tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

EVENTS_DIR = Path(__file__).parent / "events"


def load_event(name: str) -> Any:
    """Load `tests/events/<name>.json`: the one way tests read JSON fixtures."""
    return json.loads((EVENTS_DIR / f"{name}.json").read_text())
