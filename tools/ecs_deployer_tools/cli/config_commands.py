"""``ecs-deployer config``: app configs, offline and in the stack's config store."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, NoReturn

import typer
import yaml
from rich.markup import escape

from ecs_deployer.config.models import AppConfig
from ecs_deployer.config.parsing import parse_app_config
from ecs_deployer.errors import ConfigError, FieldError
from ecs_deployer_tools.cli.common import (
    AppArgument,
    JsonOption,
    connected,
    takes_aws_options,
)
from ecs_deployer_tools.cli.output import EXIT_FAILED, console, emit_json, errors, fail
from ecs_deployer_tools.operator.configs import (
    as_yaml,
    canonical_text,
    check_against_stack,
    config_diff,
    config_warnings,
    push_config,
    stored_config,
    with_suggestion,
)

app = typer.Typer(help="Validate and manage app configs.", no_args_is_help=True)

FileArgument = Annotated[
    Path, typer.Argument(exists=True, dir_okay=False, help="YAML or JSON config.")
]
_DIFF_STYLE = {"+": "green", "-": "red", "@": "cyan"}
AppOption = Annotated[
    str | None, typer.Option("--app", help="The app (default: the file's `app` key).")
]


def _problems(file: Path, exc: ConfigError) -> list[FieldError]:
    """What is wrong, for people: a YAML syntax error at file:line:column (where editors
    jump to), an unknown key with the known key it nearly is."""
    cause = exc.__cause__
    if isinstance(cause, yaml.MarkedYAMLError) and cause.problem_mark is not None:
        mark = cause.problem_mark
        context = f" ({cause.context})" if cause.context else ""
        where = f"{file}:{mark.line + 1}:{mark.column + 1}"
        return [FieldError("", f"{where}: {cause.problem}{context}")]
    return [with_suggestion(error) for error in exc.errors] or [FieldError("", str(exc))]


def _invalid(file: Path, exc: ConfigError, as_json: bool) -> NoReturn:
    problems = _problems(file, exc)
    if as_json:
        emit_json(
            {
                "valid": False,
                "errors": [{"path": e.path, "message": e.message} for e in problems],
            }
        )
    else:
        errors.print(f"[bold red]{escape(str(file))} is invalid[/]")
        for problem in problems:
            errors.print(f"  {escape(str(problem))}")
    raise typer.Exit(EXIT_FAILED)


def _warn(warnings: list[str]) -> None:
    for warning in warnings:
        errors.print(f"[yellow]warning:[/] {escape(warning)}")


def _parsed(file: Path, as_json: bool, app_name: str | None = None) -> AppConfig:
    """The file's config, valid (for ``app_name``, when given), or exit 1 with its first error."""
    try:
        return parse_app_config(file.read_text(), str(file), app_name)
    except ConfigError as exc:
        _invalid(file, exc, as_json)


def _app_config(file: Path, app_name: str | None, as_json: bool) -> tuple[str, AppConfig]:
    """The app (--app, else the file's `app` key) and the file's config, valid for it."""
    config = _parsed(file, as_json, app_name)
    name = app_name or config.app
    if name is None:
        fail("the config has no `app` key: pass --app", as_json=as_json, error="ConfigError")
    return name, config


@app.command()
def validate(file: FileArgument, as_json: JsonOption = False) -> None:
    """Check a config file; print its first error with its field path.

    Example: [bold]ecs-deployer config validate .ecs-toolkit.yml[/]
    """
    config = _parsed(file, as_json)
    tasks = {phase: len(config.phase_tasks(phase)) for phase in ("pre", "post")}
    warnings = config_warnings(config)
    if as_json:
        emit_json(
            {
                "valid": True,
                "errors": [],
                "warnings": warnings,
                "app": config.app,
                "cluster": config.cluster,
            }
        )
        return
    console.print(
        f"[green]{escape(str(file))} is valid[/]: cluster {escape(config.cluster)}, "
        f"{len(config.services)} service(s), {tasks['pre']} pre and {tasks['post']} post task(s)"
    )
    _warn(warnings)


@app.command()
@takes_aws_options
def push(
    ctx: typer.Context,
    file: FileArgument,
    *,
    app_name: AppOption = None,
    as_json: JsonOption = False,
) -> None:
    """Validate a config and store it in the stack's config store.

    Refuses what the stack would refuse (a cluster, task family or network its parameters
    do not allow, a trigger repository its rule does not listen to). Standard tier up to
    4 KB, Advanced above. Deployments read it from then on.

    Example: [bold]ecs-deployer config push .ecs-toolkit.yml --app shop[/]
    """
    name, config = _app_config(file, app_name, as_json)
    with connected(ctx) as deployer:
        check_against_stack(deployer.stack, name, config)
        tier = push_config(deployer.aws.ssm, deployer.configs.prefix, name, config)
        parameter = deployer.configs.parameter_name(name)
    size = len(canonical_text(config).encode())
    warnings = config_warnings(config)
    if as_json:
        emit_json(
            {
                "app": name,
                "parameter": parameter,
                "tier": tier,
                "bytes": size,
                "warnings": warnings,
            }
        )
        return
    console.print(
        f"[green]pushed[/] config of {escape(name)} to {escape(parameter)} "
        f"({tier} tier, {size} bytes)"
    )
    _warn(warnings)


@app.command()
@takes_aws_options
def show(
    ctx: typer.Context,
    app_name: AppArgument,
    *,
    as_json: JsonOption = False,
) -> None:
    """Print an app's stored config (YAML), and whether the deployer accepts it.

    Example: [bold]ecs-deployer config show shop[/]
    """
    with connected(ctx) as deployer:
        stored = stored_config(deployer, app_name)
    if stored.text is None:
        fail(
            f"no config for app '{app_name}' at {stored.parameter}",
            as_json=as_json,
            error="ConfigError",
        )
    problems = stored.problems()
    if as_json:
        emit_json(
            {
                "app": app_name,
                "parameter": stored.parameter,
                "tier": stored.tier,
                "valid": not problems,
                "errors": problems,
                "config": stored.document(),
            }
        )
        return
    # Plain YAML (the header is a comment): `config show shop > shop.yml` is a config file.
    document = stored.document()
    console.out(f"# {stored.parameter} ({stored.tier} tier)")
    console.out(document if isinstance(document, str) else as_yaml(document), end="")
    for problem in problems:
        errors.print(f"[red]invalid[/]: {escape(problem)}")


@app.command()
@takes_aws_options
def diff(
    ctx: typer.Context,
    file: FileArgument,
    *,
    app_name: AppOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show what pushing a config would change.

    A unified diff of the stored config and the file, both rendered as the YAML a push
    stores (a missing config diffs against nothing).

    Exit 0 when they are equal, 1 when they differ (like diff(1)), so
    [bold]ecs-deployer config diff f.yml || ecs-deployer config push f.yml[/] pushes only
    changes. An invalid file exits 1 too, with its errors on stderr.

    Example: [bold]ecs-deployer config diff .ecs-toolkit.yml --app shop[/]
    """
    name, config = _app_config(file, app_name, as_json)
    with connected(ctx) as deployer:
        stored = stored_config(deployer, name)
    text = config_diff(stored, config, str(file))
    if as_json:
        emit_json(
            {
                "app": name,
                "parameter": stored.parameter,
                "stored": stored.text is not None,
                "equal": not text,
                "diff": text,
            }
        )
    elif text:
        for line in text.splitlines():
            console.out(line, style=_DIFF_STYLE.get(line[:1]))
    else:
        console.print(f"{escape(str(file))} is what {escape(stored.parameter)} holds")
    if text:
        raise typer.Exit(EXIT_FAILED)
