"""`ecs-deployer config push | show | diff` against the stack's config store."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import yaml

from ecs_deployer_tools.demo import runner
from ecs_deployer_tools.operator.configs import STANDARD_TIER_LIMIT
from tests.cli.conftest import no_traceback

if TYPE_CHECKING:
    from pathlib import Path

    from tests.cli.conftest import Local


def _config(app: str | None, services: int = 1, **extra: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "version": "v1",
        "cluster": "shop-demo",
        "services": [{"name": f"service-{n:03}", "containers": ["app"]} for n in range(services)],
        **extra,
    }
    if app is not None:
        document["app"] = app
    return document


def _write(path: Path, document: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(document))
    return path


def _tier(local: Local, app: str) -> str:
    name = f"{runner.CONFIG_PREFIX}/{app}"
    described = local.cloud.client("ssm").describe_parameters(
        ParameterFilters=[{"Key": "Name", "Values": [name]}]
    )
    return str(described["Parameters"][0]["Tier"])


def test_push_then_show_then_diff(local: Local, tmp_path: Path) -> None:
    file = _write(tmp_path / "web.yml", _config("web", poll_seconds=5))
    code, pushed = local.json("config", "push", str(file))  # the app from the file's `app` key
    assert code == 0
    assert pushed == {
        "app": "web",
        "parameter": f"{runner.CONFIG_PREFIX}/web",
        "tier": "Standard",
        "bytes": pushed["bytes"],
        # A config without a trigger is stored, and said to deploy on no push.
        "warnings": [
            "no `trigger`: pushes never deploy this app; deploy it by hand with "
            "`ecs-deployer deploy web --repository REPOSITORY --tag TAG`"
        ],
    }
    assert _tier(local, "web") == "Standard"

    shown = local.run("config", "show", "web")
    assert shown.exit_code == 0, shown.output
    assert yaml.safe_load(shown.stdout) == _config("web", poll_seconds=5)  # YAML, as pushed
    code, document = local.json("config", "show", "web")
    assert (document["tier"], document["valid"], document["config"]["poll_seconds"]) == (
        "Standard",
        True,
        5,
    )

    same = local.run("config", "diff", str(file))
    assert same.exit_code == 0, same.output
    assert "is what /ecs-deployer/apps/web holds" in same.stdout

    _write(file, _config("web", poll_seconds=30))
    changed = local.run("config", "diff", str(file), "--app", "web")
    assert changed.exit_code == 1
    assert "-poll_seconds: 5" in changed.stdout.splitlines()
    assert "+poll_seconds: 30" in changed.stdout.splitlines()


def test_diff_against_nothing_stored(local: Local, tmp_path: Path) -> None:
    file = _write(tmp_path / "new.yml", _config(None))
    code, document = local.json("config", "diff", str(file), "--app", "brand-new")
    assert code == 1
    assert (document["stored"], document["equal"]) == (False, False)
    assert document["diff"].startswith("--- /dev/null\n")
    assert "+version: v1" in document["diff"].splitlines()


def test_a_large_config_goes_to_the_advanced_tier(local: Local, tmp_path: Path) -> None:
    file = _write(tmp_path / "big.yml", _config("big", services=120))
    code, pushed = local.json("config", "push", str(file))
    assert code == 0
    assert pushed["bytes"] > STANDARD_TIER_LIMIT
    assert pushed["tier"] == _tier(local, "big") == "Advanced"


def test_an_invalid_config_is_not_pushed(local: Local, tmp_path: Path) -> None:
    file = _write(tmp_path / "bad.yml", {**_config("bad"), "poll_seconds": 0})
    result = local.run("config", "push", str(file))
    assert result.exit_code == 1
    assert "poll_seconds: expected `int` >= 1" in result.stderr
    assert "Traceback" not in result.output
    no_traceback(local.run("config", "show", "bad"))


def test_the_app_must_be_named(local: Local, tmp_path: Path) -> None:
    file = _write(tmp_path / "anonymous.yml", _config(None))
    result = local.run("config", "push", str(file))
    no_traceback(result)
    assert "pass --app" in result.stderr
    mismatch = local.run("config", "push", str(_write(file, _config("one"))), "--app", "two")
    assert mismatch.exit_code == 1
    assert "app: 'one' does not match the parameter name 'two'" in mismatch.stderr


def test_push_refuses_what_the_stack_will_refuse(local: Local, tmp_path: Path) -> None:
    elsewhere = _config("elsewhere", cluster="production", trigger={"repositories": ["other"]})
    code, document = local.json("config", "push", str(_write(tmp_path / "e.yml", elsewhere)))
    assert (code, document["error"]) == (1, "ConfigError")
    assert {field["path"] for field in document["fields"]} == {
        "cluster",
        "trigger.repositories[0]",
    }
    result = local.run("config", "push", str(tmp_path / "e.yml"))
    no_traceback(result)
    assert "cluster: 'production' is not a cluster this stack may deploy to" in result.stderr
    assert (
        "trigger.repositories[0]: 'other' is not a repository whose pushes reach this stack "
        "(RepositoryNames: shop)"
    ) in result.stderr
    no_traceback(local.run("config", "show", "elsewhere"))  # nothing was stored
