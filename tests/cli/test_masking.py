"""Container environment values and secret references stay off terminals, logs and CI output:
`plan` and `taskdef render` mask them (names stay visible) unless given --show-values."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest
from typer.testing import CliRunner

from ecs_deployer.domain.taskdef import Change
from ecs_deployer_tools.cli import app, plan_commands
from ecs_deployer_tools.operator.dry_run import DryRun, ServicePlan, TaskPlan
from tests.support import load_event

if TYPE_CHECKING:
    from pathlib import Path

MASK = "****"
SECRET_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:shop/secret-key-AbCdEf"
REGISTRY_SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:registry-XyZ"
LOG_SECRET = "arn:aws:ssm:us-east-1:123456789012:parameter/shop/log-token"
# Every value the fixture below holds that must not be printed by default.
HIDDEN = [
    "shop.settings.production",
    "s3cr3t-in-plain-env",
    SECRET_ARN,
    REGISTRY_SECRET,
    LOG_SECRET,
]


@pytest.fixture
def described(tmp_path: Path) -> Path:
    """The web task definition, with registry credentials and a log driver's secret too."""
    document: dict[str, Any] = load_event("describe_task_definition_web")
    app_container, log_router = document["taskDefinition"]["containerDefinitions"]
    app_container["logConfiguration"]["secretOptions"] = [
        {"name": "apikey", "valueFrom": LOG_SECRET}
    ]
    log_router["repositoryCredentials"] = {"credentialsParameter": REGISTRY_SECRET}
    path = tmp_path / "web.json"
    path.write_text(json.dumps(document))
    return path


def _render(described: Path, *args: str) -> tuple[str, dict[str, Any]]:
    result = CliRunner().invoke(
        app, ["taskdef", "render", "--described", str(described), "--image", "app=x/y:1", *args]
    )
    assert result.exit_code == 0, result.output
    rendered: dict[str, Any] = json.loads(result.stdout)
    return result.stdout, rendered


@pytest.mark.parametrize("json_option", [[], ["--json"]], ids=["pretty", "json"])
def test_taskdef_render_masks_values_and_keeps_names(
    described: Path, json_option: list[str]
) -> None:
    printed, rendered = _render(described, *json_option)
    app_container, log_router = rendered["containerDefinitions"]
    assert app_container["environment"] == [
        {"name": "DJANGO_SETTINGS_MODULE", "value": MASK},
        {"name": "DATABASE_URL", "value": MASK},
    ]
    assert app_container["secrets"] == [{"name": "SECRET_KEY", "valueFrom": MASK}]
    assert app_container["logConfiguration"]["secretOptions"] == [
        {"name": "apikey", "valueFrom": MASK}
    ]
    assert log_router["repositoryCredentials"] == {"credentialsParameter": MASK}
    assert log_router["environment"] == []
    assert not [value for value in HIDDEN if value in printed]
    # What is not a value of the environment or a secret stays as it is.
    assert app_container["image"] == "x/y:1"
    assert app_container["logConfiguration"]["options"]["log_group_name"] == "/ecs/shop-web"


@pytest.mark.parametrize("json_option", [[], ["--json"]], ids=["pretty", "json"])
def test_taskdef_render_shows_values_when_asked(described: Path, json_option: list[str]) -> None:
    printed, rendered = _render(described, "--show-values", *json_option)
    assert all(value in printed for value in HIDDEN)
    assert rendered["containerDefinitions"][0]["secrets"] == [
        {"name": "SECRET_KEY", "valueFrom": SECRET_ARN}
    ]


def _env(name: str) -> str:
    return f"containerDefinitions[app].environment[{name}]"


# A plan whose diff touches every kind of hidden value, as the deployer's diff names them.
CHANGES = [
    Change("containerDefinitions[app].image", "shop:v1", "shop:v2"),
    Change(f"{_env('LOG_LEVEL')}.value", "debug-token-1", "info-token-2"),
    Change(_env("API_TOKEN"), None, {"name": "API_TOKEN", "value": "tok-added"}),
    Change(_env("OLD_TOKEN"), {"name": "OLD_TOKEN", "value": "tok-removed"}, None),
    # An environment variable's name may hold any character, brackets and dots too.
    Change(f"{_env('odd].value.x')}.value", "odd-before", "odd-after"),
    Change("containerDefinitions[app].secrets[DB].valueFrom", "arn:db-old", "arn:db-new"),
    Change(
        "containerDefinitions[app].repositoryCredentials.credentialsParameter",
        "arn:registry-old",
        "arn:registry-new",
    ),
    Change(
        "containerDefinitions[sidecar]",
        None,
        {
            "name": "sidecar",
            "image": "sidecar:1",
            "environment": [{"name": "SIDECAR_KEY", "value": "sidecar-secret"}],
            "secrets": [{"name": "S", "valueFrom": "arn:sidecar-secret"}],
        },
    ),
]
SHOWN = ["shop:v1", "shop:v2", "sidecar:1"]
MASKED = [
    "debug-token-1",
    "info-token-2",
    "tok-added",
    "tok-removed",
    "odd-before",
    "odd-after",
    "arn:db-old",
    "arn:db-new",
    "arn:registry-old",
    "arn:registry-new",
    "sidecar-secret",
    "arn:sidecar-secret",
]


@pytest.fixture
def planned(monkeypatch: pytest.MonkeyPatch) -> None:
    """`plan shop --tag v2` plans CHANGES, for a service and a task, without AWS."""
    plan = DryRun(
        app="shop",
        cluster="shop-demo",
        image="123456789012.dkr.ecr.us-east-1.amazonaws.com/shop@sha256:" + "a" * 64,
        tag="v2",
        services=[ServicePlan("shop-web", "shop-web:1", True, CHANGES, False)],
        tasks=[TaskPlan("shop-migrate", "pre", "shop-migrate:1", True, CHANGES, 1, None, [])],
    )
    monkeypatch.setattr(plan_commands, "dry_run", lambda *_args: plan)


def _plan(*args: str) -> str:
    result = CliRunner().invoke(
        app, ["plan", "shop", "--tag", "v2", "--endpoint-url", "http://127.0.0.1:9", *args]
    )
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.mark.usefixtures("planned")
def test_plan_json_masks_changed_values_and_keeps_them_changed() -> None:
    document = json.loads(_plan("--json"))
    for changes in [document["services"][0]["changes"], document["tasks"][0]["changes"]]:
        by_path = {change["path"]: (change["before"], change["after"]) for change in changes}
        assert list(by_path) == [change.path for change in CHANGES]
        assert by_path["containerDefinitions[app].image"] == ("shop:v1", "shop:v2")
        assert by_path[f"{_env('LOG_LEVEL')}.value"] == (MASK, MASK)
        assert by_path[_env("API_TOKEN")] == (None, {"name": "API_TOKEN", "value": MASK})
        assert by_path[_env("OLD_TOKEN")] == ({"name": "OLD_TOKEN", "value": MASK}, None)
        assert by_path[f"{_env('odd].value.x')}.value"] == (MASK, MASK)
        assert by_path["containerDefinitions[app].secrets[DB].valueFrom"] == (MASK, MASK)
        sidecar = by_path["containerDefinitions[sidecar]"][1]
        assert sidecar["environment"] == [{"name": "SIDECAR_KEY", "value": MASK}]
        assert sidecar["secrets"] == [{"name": "S", "valueFrom": MASK}]
    printed = json.dumps(document)
    assert not [value for value in MASKED if value in printed]


@pytest.mark.usefixtures("planned")
def test_plan_output_shows_a_changed_value_as_changed_without_the_value() -> None:
    printed = _plan()
    assert f"{_env('LOG_LEVEL')}.value: {MASK} -> {MASK}" in printed
    assert "containerDefinitions[app].image: shop:v1 -> shop:v2" in printed
    assert all(value in printed for value in SHOWN)
    assert not [value for value in MASKED if value in printed]
    assert "--show-values" in printed


@pytest.mark.usefixtures("planned")
@pytest.mark.parametrize("json_option", [[], ["--json"]], ids=["pretty", "json"])
def test_plan_shows_values_when_asked(json_option: list[str]) -> None:
    printed = _plan("--show-values", *json_option)
    assert all(value in printed for value in [*SHOWN, *MASKED])
    assert "--show-values" not in printed
