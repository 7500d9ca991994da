"""``ecs-deployer rule``: the EventBridge rule that turns ECR pushes into executions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from ecs_deployer_tools.cli.common import (
    JsonOption,
    connected,
    read_json_object,
    takes_aws_options,
)
from ecs_deployer_tools.cli.output import EXIT_FAILED, console, emit_json
from ecs_deployer_tools.operator.rules import EventVerdict, judge_event, push_rule

app = typer.Typer(help="Inspect and test the ECR push rule.", no_args_is_help=True)


@app.command()
@takes_aws_options
def show(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Print the event pattern of the deployed rule, as EventBridge applies it.

    Example: [bold]ecs-deployer rule show[/]
    """
    with connected(ctx) as deployer:
        rule = push_rule(deployer)
    if as_json:
        emit_json(rule.to_json())
        return
    console.print(f"rule [bold]{escape(rule.name)}[/] ({escape(rule.state)})")
    console.print_json(rule.pattern)


def _print_verdict(verdict: EventVerdict) -> None:
    if verdict.matched:
        console.print(f"rule {escape(verdict.rule)} [bold]starts an execution[/] for this event")
    else:
        console.print(f"rule {escape(verdict.rule)} [bold]starts no execution[/] for this event")
    for target in verdict.targets:
        console.print(
            f"  [green]deploys[/] {escape(target.app)}: {escape(target.image)} "
            f"as {escape(target.execution_name)} ({escape(target.reason)})"
        )
    for reason in verdict.ignored:
        console.print(f"  [cyan]ignored[/]: {escape(reason)}")
    for error in verdict.errors:
        console.print(f"  [red]error[/]: {escape(error)}")
    if not verdict.matched:
        for item in verdict.fields:
            event, wants = json.dumps(item["event"]), json.dumps(item["wants"])
            line = f"{item['path']}: {event}, the rule wants {wants}"
            console.print(f"    {escape(line)}")


@app.command("test")
@takes_aws_options
def try_event(
    ctx: typer.Context,
    event: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="An EventBridge event (JSON).")
    ],
    *,
    as_json: JsonOption = False,
) -> None:
    """Say whether an event starts an execution, and which apps and images it deploys.

    Or why it is ignored: the rule's pattern, the apps' tag filters, a broken config.

    Exit 0 when the event deploys at least one app, 1 when it deploys nothing.

    Example: [bold]ecs-deployer rule test tests/events/ecr_push.json[/]
    """
    document = read_json_object(event, "an EventBridge event (a JSON object)", as_json=as_json)
    with connected(ctx) as deployer:
        verdict = judge_event(deployer, document)
    if as_json:
        emit_json(verdict.to_json())
    else:
        _print_verdict(verdict)
    if not verdict.deploys:
        raise typer.Exit(EXIT_FAILED)
