"""The AWS options, declared once: given before the command's name or after its arguments,
shown in an AWS panel, and needed only by the commands that talk to AWS."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest
from typer.testing import CliRunner

from ecs_deployer_tools.cli import app
from tests.cli.conftest import no_traceback
from tests.support import EVENTS_DIR

if TYPE_CHECKING:
    from tests.cli.conftest import Local

AWS_OPTIONS = ("--profile", "--region", "--endpoint-url", "--stack")
CONFIG = str(EVENTS_DIR.parent / "configs" / "ecs_toolkit_rails.yml")


def test_the_options_go_before_the_command_s_name(local: Local) -> None:
    target = [
        *("--endpoint-url", local.endpoint, "--region", local.cloud.region),
        *("--stack", local.cloud.stack_name),
    ]
    result = CliRunner().invoke(app, [*target, "rule", "show", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["rule"] == local.cloud.outputs["EcrPushRuleName"]


def test_an_option_after_the_arguments_wins_over_the_same_before_the_name(local: Local) -> None:
    # local.run gives --endpoint-url, --region and --stack after the command's arguments.
    assert local.run("--stack", "no-such-stack", "rule", "show").exit_code == 0
    result = local.run("--stack", local.cloud.stack_name, "rule", "show", stack="no-such-stack")
    no_traceback(result)
    assert "stack 'no-such-stack' not found" in result.stderr


def test_a_command_without_aws_ignores_them() -> None:
    # An unknown profile fails as soon as a session is made: nothing connects here.
    result = CliRunner().invoke(app, ["--profile", "nobody", "config", "validate", CONFIG])
    assert result.exit_code == 0, result.output
    assert "is valid" in result.stdout


@pytest.mark.parametrize("command", [[], ["deploy"], ["config", "push"], ["rule", "show"]])
def test_help_shows_them_in_an_aws_panel(command: list[str]) -> None:
    result = CliRunner().invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    panel = result.stdout[result.stdout.index("─ AWS ─") :]
    assert all(option in panel for option in AWS_OPTIONS), result.stdout


def test_commands_without_aws_do_not_take_them() -> None:
    result = CliRunner().invoke(app, ["config", "validate", "--help"])
    assert result.exit_code == 0, result.output
    assert "─ AWS ─" not in result.stdout
    assert not any(option in result.stdout for option in AWS_OPTIONS)
