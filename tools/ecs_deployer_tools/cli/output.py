"""How commands speak: Rich for people, one JSON document for machines, meaningful exits."""

from __future__ import annotations

import json
from typing import Any, NoReturn

import typer
from rich.console import Console

# Exit codes every command keeps to: 0 ok; 1 the thing asked about is invalid, failed or was
# not found; 2 the command line itself is wrong (Typer's own code).
EXIT_FAILED = 1

# No hard wrapping: output stays greppable in pipes and logs.
console = Console(highlight=False, soft_wrap=True)
errors = Console(stderr=True, highlight=False, soft_wrap=True)


def emit_json(document: Any) -> None:
    """One JSON document on its own line, the last thing printed."""
    typer.echo(json.dumps(document, default=str, sort_keys=False))


def fail(message: str, *, details: list[str] | None = None) -> NoReturn:
    """A user error: a clear message, no traceback, exit 1."""
    errors.print(f"[bold red]error:[/] {message}")
    for line in details or []:
        errors.print(f"  - {line}")
    raise typer.Exit(EXIT_FAILED)
