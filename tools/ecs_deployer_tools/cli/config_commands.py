"""``ecs-deployer config``: app configs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ecs_deployer.config.parsing import parse_app_config
from ecs_deployer.errors import ConfigError
from ecs_deployer_tools.cli.output import EXIT_FAILED, console, emit_json, errors

app = typer.Typer(help="Validate and manage app configs.", no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]


@app.command()
def validate(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="YAML or JSON config.")],
    as_json: JsonOption = False,
) -> None:
    """Check a config file; print every error with its field path.

    Example: [bold]ecs-deployer config validate .ecs-toolkit.yml[/]
    """
    try:
        config = parse_app_config(file.read_text(), str(file))
    except ConfigError as exc:
        if as_json:
            emit_json(
                {
                    "valid": False,
                    "errors": [{"path": e.path, "message": e.message} for e in exc.errors],
                }
                if exc.errors
                else {"valid": False, "errors": [{"path": "", "message": str(exc)}]}
            )
        else:
            errors.print(f"[bold red]{file} is invalid[/]")
            for error in exc.errors or [str(exc)]:
                errors.print(f"  {error}")
        raise typer.Exit(EXIT_FAILED) from None
    tasks = {phase: len(config.phase_tasks(phase)) for phase in ("pre", "post")}
    if as_json:
        emit_json({"valid": True, "errors": [], "app": config.app, "cluster": config.cluster})
        return
    console.print(
        f"[green]{file} is valid[/]: cluster {config.cluster}, "
        f"{len(config.services)} service(s), {tasks['pre']} pre and {tasks['post']} post task(s)"
    )
