from __future__ import annotations

import copy
from typing import Any

import botocore.session
import pytest
from botocore.validate import ParamValidator

from ecs_deployer.domain import taskdef
from ecs_deployer.errors import ResourceNotFound
from tests.support import load_event

NEW_IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/shop@sha256:" + "a" * 64


def _valid_register_input(params: dict[str, Any]) -> None:
    shape = (
        botocore.session.get_session()
        .get_service_model("ecs")
        .operation_model("RegisterTaskDefinition")
        .input_shape
    )
    assert shape is not None
    report = ParamValidator().validate(params, shape)
    assert not report.has_errors(), report.generate_report()


def _described() -> tuple[dict[str, Any], list[dict[str, str]]]:
    response = load_event("describe_task_definition_web")
    return response["taskDefinition"], response["tags"]


def test_output_only_fields_never_leak_and_everything_else_is_kept() -> None:
    task_definition, tags = _described()
    registration = taskdef.registration_input(task_definition, tags)
    for output_only in (
        "taskDefinitionArn",
        "revision",
        "status",
        "requiresAttributes",
        "compatibilities",
        "registeredAt",
        "registeredBy",
    ):
        assert output_only not in registration
    assert registration["family"] == "shop-web"
    assert registration["runtimePlatform"] == {
        "cpuArchitecture": "ARM64",
        "operatingSystemFamily": "LINUX",
    }
    assert registration["enableFaultInjection"] is False
    assert registration["tags"] == tags
    app = registration["containerDefinitions"][0]
    assert app["secrets"] == task_definition["containerDefinitions"][0]["secrets"]
    assert app["healthCheck"]["command"][0] == "CMD-SHELL"
    assert app["versionConsistency"] == "enabled"
    _valid_register_input(registration)


def test_fields_unknown_to_botocore_are_dropped_at_every_depth() -> None:
    task_definition, _ = _described()
    task_definition = copy.deepcopy(task_definition)
    task_definition["someOutputFieldFrom2030"] = {"x": 1}
    task_definition["containerDefinitions"][0]["anotherOutputOnlyField"] = "y"
    registration = taskdef.registration_input(task_definition)
    assert "someOutputFieldFrom2030" not in registration
    assert "anotherOutputOnlyField" not in registration["containerDefinitions"][0]
    _valid_register_input(registration)


def test_fields_botocore_knows_carry_over_even_if_we_never_heard_of_them() -> None:
    # The filter is botocore's own input shape: every input member present in the
    # description survives, whatever its name.
    task_definition, _ = _described()
    shape = (
        botocore.session.get_session()
        .get_service_model("ecs")
        .operation_model("RegisterTaskDefinition")
        .input_shape
    )
    assert shape is not None
    registration = taskdef.registration_input(task_definition)
    expected = {key for key in task_definition if key in shape.members}
    assert set(registration) == expected


def test_tags_are_sent_only_when_there_are_some() -> None:
    task_definition, _ = _described()
    assert "tags" not in taskdef.registration_input(task_definition, [])
    assert "tags" not in taskdef.registration_input(task_definition)


def test_new_image_only_in_the_named_containers() -> None:
    task_definition, tags = _described()
    registration = taskdef.registration_input(task_definition, tags)
    clone = taskdef.with_image(registration, ["app"], NEW_IMAGE, "service 'web'")
    assert taskdef.container_images(clone) == {
        "app": NEW_IMAGE,
        "log-router": "public.ecr.aws/aws-observability/aws-for-fluent-bit:2.34.3",
    }
    changes = taskdef.diff(registration, clone)
    assert [(c.path, c.after) for c in changes] == [("containerDefinitions[app].image", NEW_IMAGE)]
    # The source is untouched.
    assert registration["containerDefinitions"][0]["image"].endswith(":v1.4.1")
    _valid_register_input(clone)


def test_unknown_container_names_the_owner_and_what_exists() -> None:
    task_definition, _ = _described()
    registration = taskdef.registration_input(task_definition)
    with pytest.raises(ResourceNotFound) as caught:
        taskdef.with_image(registration, ["app", "nginx"], NEW_IMAGE, "service 'web'")
    message = str(caught.value)
    assert "service 'web'" in message
    assert "nginx" in message
    assert "it has: app, log-router" in message


def test_essential_containers_default_to_essential() -> None:
    registration = {
        "containerDefinitions": [
            {"name": "a"},
            {"name": "b", "essential": False},
            {"name": "c", "essential": True},
        ]
    }
    assert taskdef.essential_containers(registration) == ["a", "c"]


def test_diff_is_empty_for_equal_definitions_and_names_other_changes() -> None:
    task_definition, _ = _described()
    registration = taskdef.registration_input(task_definition)
    assert taskdef.diff(registration, copy.deepcopy(registration)) == []
    changed = copy.deepcopy(registration)
    changed["memory"] = "2048"
    changed["containerDefinitions"][0]["environment"].append({"name": "NEW", "value": "1"})
    paths = {change.path for change in taskdef.diff(registration, changed)}
    assert paths == {"memory", "containerDefinitions[app].environment[NEW]"}
