"""``ecs-deployer approve`` and ``reject``: answer the approval an app's deployment waits for."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.markup import escape

from ecs_deployer_tools.cli.common import (
    AppArgument,
    EnvironmentOption,
    JsonOption,
    connected,
    takes_aws_options,
)
from ecs_deployer_tools.cli.live import styled
from ecs_deployer_tools.cli.output import console, emit_json
from ecs_deployer_tools.operator.approvals import Answer, Answered, answer_approval


def _print(answered: Answered) -> None:
    if answered.service is not None:
        action = "continues" if answered.answer == "APPROVED" else "rolls back"
        what = (
            f"the answer is recorded and the deployment woken: it {action} "
            f"{escape(answered.service)} at its PAUSE hook"
        )
    elif answered.answer == "APPROVED":
        what = "it goes on to its services"
    else:
        what = "it ends, nothing changed"
    console.print(
        f"{styled(answered.answer)} {escape(answered.deployment_id)} of "
        f"{escape(answered.app)}: {what}"
    )


def _answer(
    ctx: typer.Context,
    app: str,
    answer: Answer,
    *,
    reason: str | None,
    environment: str | None,
    as_json: bool,
) -> None:
    with connected(ctx) as deployer:
        answered = answer_approval(
            deployer.table,
            deployer.aws.sfn,
            app,
            answer,
            actor=deployer.actor(),
            now=datetime.now(UTC),
            reason=reason,
            environment=environment,
        )
    if as_json:
        emit_json(answered.to_json())
    else:
        _print(answered)


@takes_aws_options
def approve(
    ctx: typer.Context,
    app: AppArgument,
    *,
    environment: EnvironmentOption = None,
    as_json: JsonOption = False,
) -> None:
    """Approve the deployment of APP that waits for an approval: it goes on.

    You are recorded as its approver (`history`). Of an app with environments, the newest
    pending approval is answered unless --environment names one. Exit 1 when nothing waits.

    Example: [bold]ecs-deployer approve shop[/]
    """
    _answer(ctx, app, "APPROVED", reason=None, environment=environment, as_json=as_json)


@takes_aws_options
def reject(
    ctx: typer.Context,
    app: AppArgument,
    *,
    reason: Annotated[
        str | None, typer.Option("--reason", help="Why: recorded, and the deployment's cause.")
    ] = None,
    environment: EnvironmentOption = None,
    as_json: JsonOption = False,
) -> None:
    """Reject the deployment of APP that waits for an approval: at its gate it ends
    REJECTED, no service changed; at a PAUSE hook ECS rolls that service back.

    Of an app with environments, the newest pending approval is answered unless
    --environment names one. Exit 1 when nothing waits.

    Example: [bold]ecs-deployer reject shop --reason "freeze until Monday"[/]
    """
    _answer(ctx, app, "REJECTED", reason=reason, environment=environment, as_json=as_json)
