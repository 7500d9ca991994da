from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import msgspec
import pytest
import yaml

from ecs_deployer.config.models import app_config
from ecs_deployer.errors import InputError
from ecs_deployer.inputs import parse_execution_input
from ecs_deployer_tools.schemas import SCHEMA_DIR, render, schemas
from tests.support import EVENTS_DIR, load_event

CONFIGS = EVENTS_DIR.parent / "configs"


@pytest.mark.parametrize("name", sorted(schemas()))
def test_committed_schema_is_current(name: str) -> None:
    committed = SCHEMA_DIR / name
    assert committed.exists(), f"{committed} missing: run `make schema`"
    assert committed.read_text() == render(schemas()[name]), f"{name} is stale: run `make schema`"


def _validator(name: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(schemas()[name])


@pytest.mark.parametrize("config", sorted(path.name for path in CONFIGS.glob("*.yml")))
def test_example_configs_validate_against_the_schema(config: str) -> None:
    document: Any = yaml.safe_load((CONFIGS / config).read_text())
    assert list(_validator("app-config.schema.json").iter_errors(document)) == []


def test_schema_rejects_what_the_models_reject() -> None:
    validator = _validator("app-config.schema.json")
    document = {
        "version": "v1",
        "cluster": "demo",
        "services": [{"name": "web", "containers": ["app"], "max_wiat": 3}],
    }
    assert [error.message for error in validator.iter_errors(document)] == [
        "Additional properties are not allowed ('max_wiat' was unexpected)"
    ]


@pytest.mark.parametrize("event", ["manual_tag", "manual_digest"])
def test_manual_inputs_validate(event: str) -> None:
    assert list(_validator("manual-input.schema.json").iter_errors(load_event(event))) == []


def test_schema_dir_is_the_repository_schema_dir() -> None:
    assert Path(__file__).resolve().parents[2] / "schema" == SCHEMA_DIR


def test_the_schema_accepts_the_words_the_deployer_accepts_in_any_case() -> None:
    """ECS Toolkit files write launch types as ECS spells them (FARGATE): an editor or a CI
    validating against the schema must not refuse what the deployer takes."""
    task = {"family": "migrate", "containers": ["app"]}
    document = {
        "version": "v1",
        "cluster": "demo",
        "services": [{"name": "web", "containers": ["app"]}],
        "rollback": "NONE",
        "concurrency": "Supersede",
        "approval": "Required",
        "tasks": {
            "pre": [{**task, "launch_type": "FARGATE"}],
            "post": [{**task, "launch_type": "External"}],
        },
        "environments": [{"name": "staging", "approval": "None"}],
    }
    config = app_config(document)
    staging = config.environment("staging")
    assert (config.rollback, config.concurrency, config.approval, staging.approval) == (
        "none",
        "supersede",
        "required",
        "none",
    )
    assert [
        task.launch_type for task in config.phase_tasks("pre") + config.phase_tasks("post")
    ] == [
        "fargate",
        "external",
    ]
    assert list(_validator("app-config.schema.json").iter_errors(document)) == []
    # A word it does not know, in any case, both refuse.
    with pytest.raises(msgspec.ValidationError):
        app_config({**document, "rollback": "Maybe"})
    assert list(_validator("app-config.schema.json").iter_errors({**document, "rollback": "Maybe"}))


def test_a_manual_input_pushed_at_is_a_time_with_its_zone() -> None:
    validator = jsonschema.Draft202012Validator(
        schemas()["manual-input.schema.json"], format_checker=jsonschema.FormatChecker()
    )
    # A time without its zone: both refuse it.
    request = {**load_event("manual_tag"), "trigger": {"pushed_at": "2026-11-27T09:30:15"}}
    assert list(validator.iter_errors(request))
    with pytest.raises(InputError):
        parse_execution_input(request)
