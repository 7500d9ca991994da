"""`ecs-deployer config validate` says what to do: the key a near miss meant, where a YAML
syntax error is (file:line:column), and that a config without a trigger deploys on no push."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest
from typer.testing import CliRunner

from ecs_deployer_tools.cli import app
from ecs_deployer_tools.operator.configs import known_keys

if TYPE_CHECKING:
    from pathlib import Path

CONFIG = """version: v1
cluster: demo
trigger:
  repositories: [shop]
services:
  - name: web
    containers: [app]
"""


def _validate(tmp_path: Path, text: str, *options: str) -> tuple[int, str, str]:
    file = tmp_path / "shop.yml"
    file.write_text(text)
    result = CliRunner().invoke(app, ["config", "validate", str(file), *options])
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize(
    ("extra", "path", "message"),
    [
        # One error a document: validation stops at the first.
        ("    max_wiat: 3\n", "services[0].max_wiat", "unknown field; did you mean `max_wait`?"),
        ("poll_secs: 5\n", "poll_secs", "unknown field; did you mean `poll_seconds`?"),
        ("something_else: 1\n", "something_else", "unknown field"),  # nothing near it
    ],
)
def test_a_near_miss_key_says_which_key_it_meant(
    tmp_path: Path, extra: str, path: str, message: str
) -> None:
    text = CONFIG + extra
    code, _, stderr = _validate(tmp_path, text)
    assert code == 1
    assert f"{path}: {message}\n" in stderr
    code, stdout, _ = _validate(tmp_path, text, "--json")
    assert code == 1
    assert {"path": path, "message": message} in json.loads(stdout)["errors"]


@pytest.mark.parametrize(
    ("path", "keys"),
    [
        ("poll_secs", "poll_seconds"),
        ("services[3].max_wiat", "max_wait"),
        ("tasks.pre[0].network_configuration.vpc_configuration.subnet", "subnets"),
        ("nothing.here", None),
    ],
)
def test_the_keys_a_config_allows_where_a_path_ends(path: str, keys: str | None) -> None:
    allowed = known_keys(path)
    assert (keys in allowed) if keys else allowed == []


def test_a_yaml_syntax_error_names_the_file_line_and_column(tmp_path: Path) -> None:
    code, _, stderr = _validate(tmp_path, "version: v1\ncluster: [demo\nservices: []\n")
    assert code == 1
    assert f"{tmp_path / 'shop.yml'}:3:9: expected ',' or ']', but got ':'" in stderr
    assert "<unicode string>" not in stderr


def test_a_config_without_a_trigger_is_valid_but_warned_about(tmp_path: Path) -> None:
    untriggered = CONFIG.replace("trigger:\n  repositories: [shop]\n", "")
    code, stdout, stderr = _validate(tmp_path, untriggered)
    assert code == 0
    assert "is valid" in stdout
    assert "warning: no `trigger`: pushes never deploy this app" in stderr
    assert "--repository" in stderr  # how to deploy it by hand
    code, _, stderr = _validate(tmp_path, CONFIG)
    assert (code, stderr) == (0, "")
    code, stdout, _ = _validate(tmp_path, untriggered, "--json")
    assert json.loads(stdout)["warnings"] == [
        "no `trigger`: pushes never deploy this app; deploy it by hand with "
        "`ecs-deployer deploy APP --repository REPOSITORY --tag TAG`"
    ]
