"""``ecs-deployer plan``: a dry run of a deployment on the operator's credentials."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.markup import escape

from ecs_deployer.domain.taskdef import Change
from ecs_deployer.image import ImageRef
from ecs_deployer_tools.cli.common import (
    AppArgument,
    DigestOption,
    EnvironmentOption,
    ImageOption,
    JsonOption,
    RepositoryOption,
    ShowValuesOption,
    TagOption,
    chosen_image,
    connected,
    takes_aws_options,
)
from ecs_deployer_tools.cli.live import short
from ecs_deployer_tools.cli.masking import masked_change
from ecs_deployer_tools.cli.output import console, emit_json
from ecs_deployer_tools.operator.dry_run import DryRun, dry_run
from ecs_deployer_tools.operator.executions import manual_request
from ecs_deployer_tools.operator.records import default_rollback_target, rollback_to_request


def _value(value: Any) -> str:
    if value is None:
        return "(none)"
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def _print_changes(changes: list[Change], registers: bool) -> None:
    if not registers:
        console.print("    no new revision: the task definition stays as it is")
        return
    if not changes:
        console.print("    registers its revision again (it is no longer ACTIVE)")
        return
    console.print("    registers a new revision:")
    for change in changes:
        console.print(
            f"      {escape(change.path)}: [red]{escape(_value(change.before))}[/] -> "
            f"[green]{escape(_value(change.after))}[/]"
        )


def _masked(plan: DryRun) -> DryRun:
    """``plan`` with environment values and secret references masked in its diffs."""
    return replace(
        plan,
        services=[
            replace(service, changes=[masked_change(change) for change in service.changes])
            for service in plan.services
        ],
        tasks=[
            replace(task, changes=[masked_change(change) for change in task.changes])
            for task in plan.tasks
        ],
    )


def _print_plan(plan: DryRun, what: str) -> None:
    tag = f" (tag {plan.tag})" if plan.tag else ""
    console.print(
        f"[bold]plan[/] {escape(what)} for {escape(plan.app)} on cluster "
        f"{escape(plan.cluster)}: {escape(plan.image + tag)}"
    )
    for service in plan.services:
        console.print(
            f"  service [bold]{escape(service.name)}[/], running {escape(short(service.current))}"
        )
        _print_changes(service.changes, service.registers)
        console.print(
            "    UpdateService "
            + ("to the new revision" if service.registers else "on the same revision")
            + (" with forceNewDeployment (fresh tasks)" if service.forced else "")
        )
    for task in plan.tasks:
        placement = task.launch_type or ", ".join(task.capacity_providers) or "cluster default"
        console.print(
            f"  {task.phase} task [bold]{escape(task.family)}[/]: {task.count} x "
            f"{escape(placement)}, from {escape(short(task.source))}"
        )
        _print_changes(task.changes, task.registers)
    console.print("[dim]dry run: nothing was registered, updated or run[/]")


@takes_aws_options
def plan(
    ctx: typer.Context,
    app: AppArgument,
    *,
    tag: TagOption = None,
    digest: DigestOption = None,
    repository: RepositoryOption = None,
    image: ImageOption = None,
    rollback: Annotated[
        bool,
        typer.Option(
            "--rollback", help="Plan what `ecs-deployer rollback` would change (with --to)."
        ),
    ] = False,
    to: Annotated[
        str | None,
        typer.Option("--to", help="With --rollback: the deployment whose revisions to return to."),
    ] = None,
    environment: EnvironmentOption = None,
    show_values: ShowValuesOption = False,
    as_json: JsonOption = False,
) -> None:
    """Show what deploying an image (or a rollback) would register, update and run.

    Checks the request as the deployer does (config, cluster, image, services, families,
    containers) and diffs each task definition against the one it would replace. Environment
    values and secret references show as **** (a changed one as **** -> ****) unless
    [bold]--show-values[/].

    Examples: [bold]ecs-deployer plan shop --tag v1.4.2[/], [bold]ecs-deployer plan shop
    --rollback[/]
    """
    image_choice = None if rollback else chosen_image(tag, digest, repository, image)
    with connected(ctx) as deployer:
        if image_choice is not None:
            request = manual_request(
                app,
                tag=image_choice.tag,
                digest=image_choice.digest,
                repository=image_choice.repository,
                environment=environment,
            )
            what = "deploy"
        elif to is not None:
            request = rollback_to_request(deployer, app, to, environment)
            what = f"rollback to {to}"
        else:
            undone = default_rollback_target(deployer, app, environment)
            request = manual_request(app, undo=undone.deployment_id, environment=undone.environment)
            what = f"rollback undoing {undone.deployment_id}"
        result = dry_run(deployer, request, datetime.now(UTC))
        if image_choice is not None:
            image_choice.check_registry(ImageRef.from_uri(result.image).registry)
    shown = result if show_values else _masked(result)
    if as_json:
        emit_json(shown.to_json())
        return
    _print_plan(shown, what)
    if shown != result:
        console.print("[dim]environment values and secret references are masked: --show-values[/]")
