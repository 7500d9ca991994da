from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import yaml

from ecs_deployer.config.parsing import parse_app_config, raw_trigger_repositories
from ecs_deployer.errors import ConfigError
from ecs_deployer_tools.operator.configs import canonical_text

if TYPE_CHECKING:
    from ecs_deployer.config.models import AppConfig

CONFIGS = Path(__file__).parent.parent / "configs"


def _parse(document: dict[str, object]) -> AppConfig:
    return parse_app_config(yaml.safe_dump(document), "test config")


def _errors(document: dict[str, object]) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        _parse(document)
    return [str(error) for error in caught.value.errors]


def _minimal(**extra: object) -> dict[str, object]:
    return {
        "version": "v1",
        "cluster": "demo",
        "services": [{"name": "web", "containers": ["app"]}],
        **extra,
    }


@pytest.mark.parametrize("name", ["ecs_toolkit_rails.yml", "ecs_toolkit_minimal.yml"])
def test_ecs_toolkit_files_are_accepted_as_is(name: str) -> None:
    config = parse_app_config((CONFIGS / name).read_text(), name)
    assert config.cluster == "example"
    assert config.phase_tasks("post") == []
    assert config.services[0].max_wait == 15  # ECS Toolkit's default


def test_ecs_toolkit_example_keeps_every_task_option() -> None:
    config = parse_app_config((CONFIGS / "ecs_toolkit_rails.yml").read_text(), "rails")
    sync, migrate = config.phase_tasks("pre")
    assert sync.launch_type == "fargate"
    assert sync.network_configuration is not None
    assert sync.network_configuration.vpc_configuration.assign_public_ip is True
    assert sync.network_configuration.vpc_configuration.subnets == ["subnet-0123456789abcdef0"]
    assert migrate.launch_type == "ec2"
    assert [s.containers for s in config.services] == [["rails"], ["resque"], ["resque-scheduler"]]


def test_deployer_keys_are_understood() -> None:
    config = parse_app_config((CONFIGS / "shop.yml").read_text(), "shop", app="shop")
    assert config.trigger is not None
    assert config.trigger.accepts_tag("v1.2.3")
    assert config.trigger.accepts_tag("release-42")
    assert not config.trigger.accepts_tag("release-42b")
    assert not config.trigger.accepts_tag("main-abc")
    assert not config.trigger.accepts_tag(None)
    assert (config.poll_seconds, config.rollback, config.concurrency, config.keep_revisions) == (
        15,
        "auto",
        "supersede",
        5,
    )
    migrate = config.phase_tasks("pre")[0]
    assert migrate.watch_containers == ["app"]
    assert migrate.max_wait == 20
    assert config.phase_tasks("post")[0].family == "shop-smoke-test:3"


@pytest.mark.parametrize(
    ("key", "written", "value"),
    [
        ("launch_type", "FARGATE", "fargate"),
        ("launch_type", "Ec2", "ec2"),
        ("rollback", "NONE", "none"),
        ("concurrency", "Supersede", "supersede"),
    ],
)
def test_enum_values_are_accepted_in_any_case(key: str, written: str, value: str) -> None:
    """ECS Toolkit users write launch types as ECS spells them (FARGATE)."""
    task = {"family": "migrate", "containers": ["app"]}
    if key == "launch_type":
        config = _parse(_minimal(tasks={"pre": [{**task, key: written}]}))
        assert config.phase_tasks("pre")[0].launch_type == value
    else:
        assert getattr(_parse(_minimal(**{key: written})), key) == value


def test_defaults() -> None:
    config = _parse(_minimal())
    assert config.tasks is None
    assert (config.poll_seconds, config.rollback, config.concurrency, config.keep_revisions) == (
        60,  # the safety poll of event-driven waits
        "auto",
        "queue",
        10,
    )
    assert config.services[0].force is False


def test_approval_is_off_by_default_and_answers_wait_a_day() -> None:
    config = _parse(_minimal())
    assert (config.approval, config.approval_timeout) == ("none", 24 * 60)
    gated = _parse(_minimal(approval="Required", approval_timeout=90))
    assert (gated.approval, gated.approval_timeout) == ("required", 90)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"approval": "maybe"}, "approval: invalid enum value 'maybe'"),
        ({"approval_timeout": 0}, "approval_timeout: expected `int` >= 1"),
        ({"approval_timeout": 2 * 24 * 60 + 1}, "approval_timeout: expected `int` <= 2880"),
        ({"approval_timeout": "1h"}, "approval_timeout: expected `int`, got `str`"),
    ],
)
def test_approval_settings_are_validated_naming_the_field(
    extra: dict[str, object], message: str
) -> None:
    assert message in _errors(_minimal(**extra))


def test_untagged_pushes_deploy_only_without_tag_filters() -> None:
    config = _parse(_minimal(trigger={"repositories": ["shop"]}))
    assert config.trigger is not None
    assert config.trigger.accepts_tag(None)
    assert config.trigger.accepts_tag("anything")


def test_unknown_field_is_named_with_its_path() -> None:
    document = _minimal()
    document["services"] = [{"name": "web", "containers": ["app"], "max_wiat": 3}]
    assert _errors(document) == ["services[0].max_wiat: unknown field"]


@pytest.mark.parametrize(
    ("document", "error"),
    [
        (_minimal(version="v2"), "version: invalid enum value 'v2'"),
        (
            {"version": "v1", "services": [{"name": "web", "containers": ["app"]}]},
            "cluster: required field is missing",
        ),
        (
            _minimal(services=[{"name": "web", "containers": []}]),
            "services[0].containers: expected `array` of length >= 1",
        ),
        (
            _minimal(tasks={"pre": [{"family": "migrate", "count": 11, "containers": ["app"]}]}),
            "tasks.pre[0].count: expected `int` <= 10",
        ),
        (_minimal(poll_seconds="10"), "poll_seconds: expected `int`, got `str`"),
    ],
)
def test_each_error_is_reported_naming_its_field(document: dict[str, object], error: str) -> None:
    """msgspec stops at a document's first error: one document per error."""
    assert _errors(document) == [error]


@pytest.mark.parametrize(
    ("task", "message"),
    [
        (
            {
                "launch_type": "fargate",
                "capacity_provider_strategies": [{"capacity_provider": "FARGATE"}],
            },
            "launch_type and capacity_provider_strategies are mutually exclusive",
        ),
        (
            {"capacity_provider_strategies": [{"capacity_provider": f"cp{i}"} for i in range(7)]},
            "capacity_provider_strategies: expected `array` of length <= 6",
        ),
        (
            {
                "capacity_provider_strategies": [
                    {"capacity_provider": "a", "base": 1},
                    {"capacity_provider": "b", "base": 2},
                ]
            },
            "only one capacity provider strategy may have a base",
        ),
        ({"launch_type": "spot"}, "launch_type: invalid enum value 'spot'"),
        (
            {
                "network_configuration": {
                    "vpc_configuration": {
                        "assign_public_ip": False,
                        "subnets": [],
                        "security_groups": [],
                    }
                }
            },
            "network_configuration.vpc_configuration.subnets: expected `array` of length >= 1",
        ),
        (
            {
                "network_configuration": {
                    "vpc_configuration": {
                        "assign_public_ip": False,
                        "subnets": ["s"],
                        "security_groups": [f"sg{i}" for i in range(6)],
                    }
                }
            },
            "network_configuration.vpc_configuration.security_groups: "
            "expected `array` of length <= 5",
        ),
        (
            {
                "network_configuration": {
                    "vpc_configuration": {
                        "assign_public_ip": False,
                        "subnets": [f"s{i}" for i in range(17)],
                    }
                }
            },
            "network_configuration.vpc_configuration.subnets: expected `array` of length <= 16",
        ),
        ({"containers": ["app", "app"]}, "containers: container 'app' is listed twice"),
        ({"family": "not a family!"}, "family: expected `str` matching regex"),
    ],
)
def test_task_rules(task: dict[str, object], message: str) -> None:
    document = _minimal(tasks={"pre": [{"family": "migrate", "containers": ["app"], **task}]})
    errors = _errors(document)
    assert any(message in error and error.startswith("tasks.pre[0]") for error in errors), errors


def test_tasks_and_phases_may_be_absent() -> None:
    assert _parse(_minimal(tasks={})).phase_tasks("pre") == []
    assert _parse(_minimal(tasks={"post": []})).phase_tasks("post") == []


def test_duplicate_services_are_rejected() -> None:
    document = _minimal()
    document["services"] = [{"name": "web", "containers": ["app"]}] * 2
    assert _errors(document) == ["services: service 'web' is listed twice"]


def test_wrong_types_are_rejected_not_coerced() -> None:
    document = _minimal()
    document["services"] = [{"name": "web", "containers": ["app"], "force": "yes"}]
    assert _errors(document) == ["services[0].force: expected `bool`, got `str`"]
    document["services"] = [{"name": "web", "containers": ["app"], "max_wait": "15"}]
    assert _errors(document) == ["services[0].max_wait: expected `int`, got `str`"]


def test_bad_regex_tag_filter_is_named() -> None:
    errors = _errors(_minimal(trigger={"repositories": ["shop"], "tags": [{"regex": "("}]}))
    assert len(errors) == 1
    assert errors[0].startswith("trigger.tags[0]: invalid regex")


def test_app_name_must_match_its_parameter() -> None:
    text = yaml.safe_dump(_minimal(app="shop"))
    with pytest.raises(ConfigError, match="app: 'shop' does not match the parameter name 'books'"):
        parse_app_config(text, "config", app="books")


@pytest.mark.parametrize("text", ["version: [", "- just\n- a list\n", ""])
def test_not_a_mapping_or_not_yaml(text: str) -> None:
    with pytest.raises(ConfigError):
        parse_app_config(text, "config")


def test_cluster_may_be_an_arn() -> None:
    config = _parse(_minimal(cluster="arn:aws:ecs:us-east-1:123456789012:cluster/prod"))
    assert config.cluster_name == "prod"


def test_raw_trigger_repositories_of_a_broken_config() -> None:
    assert raw_trigger_repositories("version: v9\ntrigger:\n  repositories: [shop, 3]\n") == [
        "shop"
    ]
    assert raw_trigger_repositories("[") == []


def test_stored_text_round_trips_in_the_written_forms() -> None:
    config = parse_app_config((CONFIGS / "shop.yml").read_text(), "shop")
    text = canonical_text(config)
    assert parse_app_config(text, "stored") == config
    stored = json.loads(text)
    assert stored["trigger"]["tags"] == ["v*", {"regex": "^release-\\d+$"}]
    assert stored["concurrency"] == "supersede"  # written by the author
    assert "max_wait" not in stored["services"][1]  # a default stays implicit
    assert "rollback" not in stored  # written at its default: implicit too (canonical_text)
