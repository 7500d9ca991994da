"""The README's quickstart holds together: samconfig.toml's environments give every parameter
the template requires, and the example config in docs/examples/ is valid and within what the
[default] environment allows, so `config push` and a push deploy it."""

from __future__ import annotations

import shlex
import tomllib
from pathlib import Path
from typing import Any

import pytest

from ecs_deployer.config.parsing import parse_app_config
from ecs_deployer.domain.scope import StackScope, names

ROOT = Path(__file__).parents[2]


def _overrides(environment: str) -> dict[str, str]:
    config = tomllib.loads((ROOT / "samconfig.toml").read_text())
    text = config[environment]["deploy"]["parameters"]["parameter_overrides"]
    return dict(item.split("=", 1) for item in shlex.split(text))


@pytest.mark.parametrize("environment", ["default", "prod"])
def test_each_environment_gives_every_required_parameter(
    sam_template: dict[str, Any], environment: str
) -> None:
    required = {name for name, spec in sam_template["Parameters"].items() if "Default" not in spec}
    assert required <= _overrides(environment).keys()


def test_the_example_config_is_valid_and_within_the_default_stack() -> None:
    config = parse_app_config((ROOT / "docs/examples/shop.yml").read_text(), "example", app="shop")
    parameters = _overrides("default")
    StackScope.from_parameters(parameters).check_config("shop", config)
    assert config.trigger is not None
    assert set(config.trigger.repositories) <= names(parameters["RepositoryNames"])
