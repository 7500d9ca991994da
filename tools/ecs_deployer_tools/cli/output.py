"""How commands speak: Rich for people, one JSON document for machines, meaningful exits.

Rich reads ``[...]`` as markup: text that comes from users, configs, AWS or the models (a
name, a path, a pattern like ``^sha256:[a-f0-9]{64}$``) goes through ``escape`` first.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ecs_deployer.errors import FieldError

# Exit codes every command keeps to: 0 ok; 1 the thing asked about is invalid, failed or was
# not found; 2 the command line itself is wrong (Typer's own code).
EXIT_FAILED = 1

# No hard wrapping: output stays greppable in pipes and logs.
console = Console(highlight=False, soft_wrap=True)
errors = Console(stderr=True, highlight=False, soft_wrap=True)


def emit_json(document: Any) -> None:
    """One JSON document on its own line, the last thing printed."""
    typer.echo(json.dumps(document, default=str, sort_keys=False))


def fail(
    message: str,
    *,
    as_json: bool = False,
    error: str = "Error",
    fields: Sequence[FieldError] = (),
    details: Sequence[str] = (),
) -> NoReturn:
    """A user error: a clear message on stderr, no traceback, exit 1. With ``as_json``
    (the command's --json), stdout gets one document too: ``{"error": NAME, "message":
    ..., "fields": [{"path", "message"}]}``, NAME being the deployer's error name (e.g.
    ImageNotFound) or the problem's."""
    errors.print(f"[bold red]error:[/] {escape(message)}")
    for line in details:
        errors.print(f"  - {escape(line)}")
    if as_json:
        emit_json(
            {
                "error": error,
                "message": message,
                "fields": [{"path": field.path, "message": field.message} for field in fields],
            }
        )
    raise typer.Exit(EXIT_FAILED)
