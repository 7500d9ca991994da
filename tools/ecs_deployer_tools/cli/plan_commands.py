"""``ecs-deployer plan``: a dry run of a deployment on the operator's credentials."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from rich.markup import escape

from ecs_deployer.taskdef import Change
from ecs_deployer_tools.cli.common import (
    AppArgument,
    DigestOption,
    EndpointOption,
    JsonOption,
    ProfileOption,
    RegionOption,
    RepositoryOption,
    StackOption,
    TagOption,
    connect,
    require_image,
    user_errors,
)
from ecs_deployer_tools.cli.live import short
from ecs_deployer_tools.cli.output import console, emit_json
from ecs_deployer_tools.operator.dry_run import DryRun, dry_run
from ecs_deployer_tools.operator.executions import manual_request


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


def _print_plan(plan: DryRun) -> None:
    tag = f" (tag {plan.tag})" if plan.tag else ""
    console.print(f"[bold]plan[/] for {plan.app} on cluster {plan.cluster}: {plan.image}{tag}")
    for service in plan.services:
        console.print(f"  service [bold]{service.name}[/], running {short(service.current)}")
        _print_changes(service.changes, service.registers)
        console.print(
            "    UpdateService "
            + ("to the new revision" if service.registers else "on the same revision")
            + (" with forceNewDeployment (fresh tasks)" if service.forced else "")
        )
    for task in plan.tasks:
        placement = task.launch_type or ", ".join(task.capacity_providers) or "cluster default"
        console.print(
            f"  {task.phase} task [bold]{task.family}[/]: {task.count} x {placement}, "
            f"from {short(task.source)}"
        )
        _print_changes(task.changes, task.registers)
    console.print("[dim]dry run: nothing was registered, updated or run[/]")


def plan(
    app: AppArgument,
    *,
    tag: TagOption = None,
    digest: DigestOption = None,
    repository: RepositoryOption = None,
    as_json: JsonOption = False,
    profile: ProfileOption = None,
    region: RegionOption = None,
    endpoint_url: EndpointOption = None,
    stack: StackOption = None,
) -> None:
    """Show what deploying an image would register, update and run: a dry run.

    Checks the request as the deployer does (config, cluster, image, services, families,
    containers) and diffs each task definition against the one it would replace.

    Example: [bold]ecs-deployer plan shop --tag v1.4.2[/]
    """
    require_image(tag, digest)
    with user_errors():
        deployer = connect(profile, region, endpoint_url, stack)
        request = manual_request(app, tag=tag, digest=digest, repository=repository)
        result = dry_run(deployer, request, datetime.now(UTC))
    if as_json:
        emit_json(result.to_json())
    else:
        _print_plan(result)
