from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from typer.testing import CliRunner

from ecs_deployer.document import Deployment
from ecs_deployer.domain.taskdef import REGISTERED_BY_US, registration_input
from ecs_deployer.steps.register import register_task_definitions
from ecs_deployer.steps.resolve import resolve
from ecs_deployer_tools.cli import app
from tests.aws_fixtures import STARTED, context, push
from tests.support import EVENTS_DIR, load_event

if TYPE_CHECKING:
    from pathlib import Path

    from ecs_deployer.aws.dynamodb import DeploymentsTable
    from ecs_deployer.aws.ecs import EcsGateway
    from ecs_deployer.domain.admission import AdmissionDeps
    from ecs_deployer_tools.demo import sample_app

runner = CliRunner()
CONFIGS = EVENTS_DIR.parent / "configs"


def test_config_validate_accepts_a_valid_file() -> None:
    result = runner.invoke(app, ["config", "validate", str(CONFIGS / "ecs_toolkit_rails.yml")])
    assert result.exit_code == 0, result.output
    assert "is valid" in result.output
    assert "3 service(s), 2 pre and 0 post task(s)" in result.output


@pytest.mark.parametrize(
    ("service", "task", "path", "message"),
    [
        # One error a document: validation stops at the first.
        (
            "max_wiat: 3",
            "count: 1",
            "services[0].max_wiat",
            "unknown field; did you mean `max_wait`?",
        ),
        ("max_wait: 3", "count: 0", "tasks.pre[0].count", "expected `int` >= 1"),
    ],
)
def test_config_validate_prints_the_error_with_its_path(
    tmp_path: Path, service: str, task: str, path: str, message: str
) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "version: v1\ncluster: demo\n"
        f"services:\n  - name: web\n    containers: [app]\n    {service}\n"
        f"tasks:\n  pre:\n    - {{family: m, containers: [app], {task}}}\n"
    )
    result = runner.invoke(app, ["config", "validate", str(broken)])
    assert result.exit_code == 1
    assert f"{path}: {message}\n" in result.output
    as_json = runner.invoke(app, ["config", "validate", str(broken), "--json"])
    assert as_json.exit_code == 1
    document = json.loads(as_json.stdout.strip().splitlines()[-1])
    assert document["valid"] is False
    assert {"path": path, "message": message} in document["errors"]


def test_config_validate_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    assert runner.invoke(app, ["config", "validate", str(tmp_path / "nope.yml")]).exit_code == 2


def test_taskdef_render_prints_the_register_input(tmp_path: Path) -> None:
    image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/shop@sha256:" + "b" * 64
    result = runner.invoke(
        app,
        [
            "taskdef",
            "render",
            "--described",
            str(EVENTS_DIR / "describe_task_definition_web.json"),
            "--image",
            f"app={image}",
        ],
    )
    assert result.exit_code == 0, result.output
    rendered = json.loads(result.stdout)
    assert [c["image"] for c in rendered["containerDefinitions"]] == [
        image,
        "public.ecr.aws/aws-observability/aws-for-fluent-bit:2.34.3",
    ]
    assert "registeredAt" not in rendered
    assert "compatibilities" not in rendered
    assert rendered["tags"] == [
        {"key": "app", "value": "shop"},
        {"key": "team", "value": "commerce"},
        REGISTERED_BY_US,
    ]


def test_taskdef_render_accepts_epoch_timestamps_and_a_bare_definition(tmp_path: Path) -> None:
    described: dict[str, Any] = load_event("describe_task_definition_web")["taskDefinition"]
    described["registeredAt"] = 1763630000.123
    path = tmp_path / "bare.json"
    path.write_text(json.dumps(described))
    result = runner.invoke(
        app, ["taskdef", "render", "--described", str(path), "--image", "app=x/y:1"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["tags"] == [REGISTERED_BY_US]


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--image", "nginx=x"], 1, "container(s) nginx not in task definition family 'shop-web'"),
        (["--image", "app"], 2, "'app' is not CONTAINER=IMAGE"),
    ],
)
def test_taskdef_render_errors(args: list[str], code: int, message: str) -> None:
    result = runner.invoke(
        app,
        [
            "taskdef",
            "render",
            "--described",
            str(EVENTS_DIR / "describe_task_definition_web.json"),
            *args,
        ],
    )
    assert result.exit_code == code
    assert message in " ".join(result.output.split())


def test_taskdef_render_is_exactly_what_the_register_step_registers(
    seeded: sample_app.SeededApp,
    deps: AdmissionDeps,
    ecs: EcsGateway,
    table: DeploymentsTable,
    tmp_path: Path,
) -> None:
    ecs_client = boto3.client("ecs")
    described = ecs_client.describe_task_definition(taskDefinition="shop-web", include=["TAGS"])
    printed = {"taskDefinition": described["taskDefinition"], "tags": described.get("tags", [])}
    path = tmp_path / "web.json"
    path.write_text(json.dumps(printed, default=str))  # timestamps as ISO strings, like the CLI

    push("v2.0.0")
    deployment = resolve({"app": "shop", "image_tag": "v2.0.0"}, context(), deps, STARTED)
    assert isinstance(deployment, Deployment)
    register_task_definitions(deployment, ecs, table, deps.scope, STARTED)
    result = runner.invoke(
        app,
        [
            *("taskdef", "render", "--described", str(path)),
            *("--image", f"app={deployment.image.uri}", "--show-values"),
        ],
    )
    assert result.exit_code == 0, result.output

    registered = ecs_client.describe_task_definition(
        taskDefinition=deployment.services[0].task_definition_after or "", include=["TAGS"]
    )
    assert json.loads(result.stdout) == registration_input(
        registered["taskDefinition"], registered.get("tags", [])
    )
