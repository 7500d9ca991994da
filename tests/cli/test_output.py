"""How commands speak, whatever the command: --json prints one JSON document on stdout even
when the command fails, and what people read is printed as it is, never taken for markup."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from typer.testing import CliRunner

from ecs_deployer_tools.cli import app
from tests.cli.conftest import no_traceback
from tests.support import EVENTS_DIR

if TYPE_CHECKING:
    from pathlib import Path

WEB = str(EVENTS_DIR / "describe_task_definition_web.json")


def test_taskdef_render_is_indented_for_people_and_one_line_with_json() -> None:
    args = ["taskdef", "render", "--described", WEB, "--image", "app=x/y:1"]
    for_people = CliRunner().invoke(app, args)
    assert for_people.exit_code == 0, for_people.output
    assert for_people.stdout.startswith('{\n  "')  # indented
    for_machines = CliRunner().invoke(app, [*args, "--json"])
    assert for_machines.exit_code == 0, for_machines.output
    [line] = for_machines.stdout.splitlines()
    assert json.loads(line) == json.loads(for_people.stdout)


def test_a_failure_with_json_prints_its_document_on_stdout(tmp_path: Path) -> None:
    args = ["taskdef", "render", "--described", WEB, "--image", "nginx=x", "--json"]
    result = CliRunner().invoke(app, args)
    no_traceback(result)
    document = json.loads(result.stdout)
    assert document == {
        "error": "ResourceNotFound",
        "message": document["message"],
        "fields": [],
    }
    assert "container(s) nginx not in task definition family 'shop-web'" in document["message"]
    assert result.stderr == f"error: {document['message']}\n"

    not_json = tmp_path / "web.json"
    not_json.write_text("[1, 2]")
    result = CliRunner().invoke(
        app, ["taskdef", "render", "--described", str(not_json), "--image", "app=x", "--json"]
    )
    no_traceback(result)
    assert json.loads(result.stdout)["error"] == "InvalidFile"


def test_user_text_is_printed_as_it_is(tmp_path: Path) -> None:
    file = tmp_path / "[bold]x[red].json"
    file.write_text("[1, 2]")
    result = CliRunner().invoke(
        app, ["taskdef", "render", "--described", str(file), "--image", "app=x"]
    )
    no_traceback(result)
    assert f"{file} is not a DescribeTaskDefinition response" in result.stderr
