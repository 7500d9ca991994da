"""``ecs-deployer status`` and ``history``: deployments as the history table records them,
reconciled with Step Functions on read."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from ecs_deployer.history import HistoryRecord
from ecs_deployer_tools.cli.common import (
    AppArgument,
    JsonOption,
    connected,
    takes_aws_options,
)
from ecs_deployer_tools.cli.live import short, short_image, styled
from ecs_deployer_tools.cli.output import console, emit_json
from ecs_deployer_tools.operator.aws import OperatorError
from ecs_deployer_tools.operator.configs import stored_text
from ecs_deployer_tools.operator.records import (
    AppStatus,
    PromotionChain,
    ShownRecord,
    app_statuses,
    approved_by,
    promotion_chains,
    reconcile,
)
from ecs_deployer_tools.operator.stack import Deployer

# Enough of an app's newest records to find what runs and how the last one ended.
STATUS_DEPTH = 20


def _require_known(deployer: Deployer, app: str) -> None:
    """An app without deployments is fine; one without a config either is a typo."""
    name = deployer.configs.parameter_name(app)
    if stored_text(deployer.aws.ssm, name) is None:
        raise OperatorError(f"unknown app '{app}': no deployments, and no config at {name}")


def _image(record: HistoryRecord) -> str:
    if record.image is None:
        return "-"
    image = short_image(record.image)
    return f"{image} ({record.tag})" if record.tag else image


def _trigger(record: HistoryRecord) -> str:
    trigger = record.trigger
    if record.rollback_of:
        trigger += f" to {record.rollback_of}"
    if record.undoes:
        trigger += f" undoing {record.undoes}"
    if record.actor:
        trigger += f" by {record.actor.rsplit('/', 1)[-1]}"
    approval = record.approval
    if approval is not None and approval.answered_by:
        trigger += f", {approval.status.lower()} by {approval.answered_by.rsplit('/', 1)[-1]}"
    elif approval is not None and not record.is_final:
        trigger += f", awaiting approval until {_when(approval.deadline)}"
    elif approval is not None:
        trigger += ", unanswered"  # rejected at its deadline (ApprovalTimedOut), or stopped
    return trigger


def _when(moment: str | None) -> str:
    """A recorded time (ISO, UTC) to the second, saying its timezone."""
    return f"{moment[:19].replace('T', ' ')} UTC" if moment else "-"


def _revisions(before: str | None, after: str | None) -> str:
    """family:1 -> :2 when the family stays the same, else both in full."""
    shown_before, shown_after = short(before), short(after)
    family, separator, revision = shown_after.rpartition(":")
    if separator and shown_before.rpartition(":")[0] == family:
        shown_after = f":{revision}"
    return f"{shown_before} -> {shown_after}"


def _line(shown: ShownRecord) -> str:
    """One deployment on one line (greppable): id, status, environment (of an app with
    environments), image, trigger, when."""
    record = shown.record
    environment = [escape(f"[{record.environment}]")] if record.environment else []
    return "  ".join(
        [
            escape(record.deployment_id),
            styled(shown.status),
            *environment,
            escape(_image(record)),
            escape(_trigger(record)),
            _when(record.requested_at),
        ]
    )


def chain_line(chain: PromotionChain) -> str:
    """A promotion chain on one line: each environment's deployment, in order, and where the
    chain stands."""
    steps = []
    for step in chain.steps:
        approver = approved_by(step.record)
        approved = f" approved by {escape(approver)}" if approver else ""
        steps.append(
            f"{escape(step.record.environment or '-')} {escape(step.record.deployment_id)} "
            f"{styled(step.status)}{approved}"
        )
    return f"chain {escape(chain.chain_id)}: " + " -> ".join(steps) + f"; {escape(chain.state)}"


STATUS_HEADER = (
    "APP",
    "ENVIRONMENT",
    "ROW",
    "DEPLOYMENT",
    "STATUS",
    "IMAGE",
    "TRIGGER",
    "REQUESTED",
)
_STATUS_COLUMN = STATUS_HEADER.index("STATUS")


def status_table(statuses: list[AppStatus]) -> list[tuple[str, ...]]:
    """The header, then per app and environment ("-" for an app without) a row for each
    deployment running ("running") and one for how the newest that ended ended ("latest"),
    as plain text."""
    rows: list[tuple[str, ...]] = [STATUS_HEADER]
    for item in statuses:
        labelled = [("running", shown) for shown in item.running]
        labelled += [("latest", item.latest)] if item.latest else []
        rows += [
            (
                item.app,
                item.environment or "-",
                label,
                shown.record.deployment_id,
                shown.status,
                _image(shown.record),
                _trigger(shown.record),
                _when(shown.record.requested_at),
            )
            for label, shown in labelled
        ]
    return rows


def _print_columns(rows: list[tuple[str, ...]], status_column: int) -> None:
    """Rows in aligned columns (one line each: greppable), the first one bold, statuses in
    their colours."""
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    for number, row in enumerate(rows):
        cells = [escape(cell.ljust(width)) for cell, width in zip(row, widths, strict=True)]
        if number == 0:
            console.print("[bold]" + "  ".join(cells).rstrip() + "[/]")
            continue
        cells[status_column] = styled(
            row[status_column], row[status_column].ljust(widths[status_column])
        )
        console.print("  ".join(cells).rstrip())


@takes_aws_options
def status(
    ctx: typer.Context,
    app: Annotated[str | None, typer.Argument(help="One app (default: every app).")] = None,
    *,
    as_json: JsonOption = False,
) -> None:
    """Show the deployments running now and how the latest one ended, per app and
    environment.

    One row per deployment, labelled "running" or "latest"; times are UTC. A deployment
    whose execution stopped without finishing its record shows as ABORTED.

    Examples: [bold]ecs-deployer status[/], [bold]ecs-deployer status shop --json[/]
    """
    with connected(ctx) as deployer:
        records = deployer.table.history(app, STATUS_DEPTH) if app else deployer.table.all_records()
        if app and not records:
            _require_known(deployer, app)
        statuses = app_statuses(reconcile(records, deployer.executions))
    if as_json:
        emit_json({"apps": [item.to_json() for item in statuses]})
        return
    if not statuses:
        console.print("no deployments yet")
        return
    _print_columns(status_table(statuses), _STATUS_COLUMN)


@takes_aws_options
def history(
    ctx: typer.Context,
    app: AppArgument,
    *,
    limit: Annotated[int, typer.Option("--limit", min=1, help="How many, newest first.")] = 20,
    as_json: JsonOption = False,
) -> None:
    """List an app's deployments, newest first.

    Each with its image, status, trigger, when, and each service's revision before -> after.
    An app with environments: each deployment's environment, then its promotion chains
    (each environment's deployment in order, who approved, and where the chain stopped).

    Example: [bold]ecs-deployer history shop --limit 5[/]
    """
    with connected(ctx) as deployer:
        records = deployer.table.history(app, limit)
        if not records:
            _require_known(deployer, app)
        shown = reconcile(records, deployer.executions)
    chains = promotion_chains(shown)
    if as_json:
        emit_json(
            {
                "app": app,
                "deployments": [item.to_json() for item in shown],
                "chains": [chain.to_json() for chain in chains],
            }
        )
        return
    if not shown:
        console.print(f"no deployments of {escape(app)} yet")
        return
    for item in shown:
        console.print(_line(item))
        for service in item.record.services:
            revisions = _revisions(service.task_definition_before, service.task_definition_after)
            console.print(f"  {escape(service.name)}: {escape(revisions)}")
    if chains:
        console.print("promotion chains, newest first:")
    for chain in chains:
        console.print(chain_line(chain))
