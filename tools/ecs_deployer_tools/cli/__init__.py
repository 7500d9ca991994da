"""The ``ecs-deployer`` command line."""

from __future__ import annotations

import typer

from ecs_deployer_tools.cli import (
    approval_commands,
    config_commands,
    deploy_commands,
    history_commands,
    local_commands,
    plan_commands,
    rule_commands,
    taskdef_commands,
)
from ecs_deployer_tools.cli.common import takes_aws_options

app = typer.Typer(
    name="ecs-deployer",
    help="Deploy ECS apps when their image is pushed to ECR: configure, plan, deploy, inspect.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)


@app.callback()
@takes_aws_options
def aws_options(ctx: typer.Context) -> None:
    """Takes the AWS options before the command's name (takes_aws_options records them).
    Nothing connects here: a command connects when it needs AWS, so the offline ones (config
    validate, taskdef, local) run with none configured."""


app.command()(deploy_commands.deploy)
app.command()(plan_commands.plan)
app.command()(history_commands.status)
app.command()(history_commands.history)
app.command()(deploy_commands.rollback)
app.command()(deploy_commands.follow)
app.command()(approval_commands.approve)
app.command()(approval_commands.reject)
app.add_typer(config_commands.app, name="config")
app.add_typer(rule_commands.app, name="rule")
app.add_typer(taskdef_commands.app, name="taskdef")
app.add_typer(local_commands.app, name="local")


def main() -> None:
    app()
