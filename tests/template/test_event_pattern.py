"""EventBridge filters ECR events before any execution starts.

The rule's pattern is taken from the transformed template, resolved for concrete parameter
values, and matched with moto's own EventBridge pattern matcher: the one the local cloud
uses to start executions.
"""

from __future__ import annotations

import copy
import json
from typing import TYPE_CHECKING, Any, cast

import pytest
from moto.events.models import EventPattern

from tests.support import load_event
from tests.template.cfn import REQUIRED_PARAMETERS, Resolver

if TYPE_CHECKING:
    from moto.events.utils import EventMessageType

REPOSITORIES = "shop,team/shop-worker"


def rule_pattern(transformed: dict[str, Any], tag_prefix: str) -> EventPattern:
    rule = transformed["Resources"]["DeployStateMachineEcrPush"]
    resolver = Resolver(
        transformed,
        REQUIRED_PARAMETERS | {"RepositoryNames": REPOSITORIES, "TagPrefix": tag_prefix},
    )
    pattern = resolver.resolve(rule["Properties"]["EventPattern"])
    return EventPattern.load(json.dumps(pattern))


def event(name: str, **detail: Any) -> EventMessageType:
    """A fixture event with some detail fields replaced (None removes the field)."""
    loaded: dict[str, Any] = copy.deepcopy(load_event(name))
    for key, value in detail.items():
        field = key.replace("_", "-")
        if value is None:
            loaded["detail"].pop(field, None)
        else:
            loaded["detail"][field] = value
    return cast("EventMessageType", loaded)


@pytest.mark.parametrize(
    ("name", "detail", "matches"),
    [
        pytest.param("ecr_push", {}, True, id="push"),
        pytest.param("ecr_push_untagged", {}, True, id="untagged push"),
        pytest.param("ecr_push", {"image_tag": ""}, True, id="push with an empty tag"),
        pytest.param("ecr_push", {"repository_name": "team/shop-worker"}, True, id="other repo"),
        pytest.param("ecr_replication", {}, True, id="replica"),
        pytest.param("ecr_replication", {"image_tag": None}, True, id="untagged replica"),
        pytest.param("ecr_replication", {"result": "FAILED"}, False, id="failed replication"),
        pytest.param("ecr_replication", {"repository_name": "billing"}, False, id="other replica"),
        pytest.param("ecr_delete", {}, False, id="delete"),
        pytest.param("ecr_push_failed", {}, False, id="failed push"),
        pytest.param("ecr_image_scan", {}, False, id="scan"),
        pytest.param("ecr_push", {"repository_name": "billing"}, False, id="unknown repo"),
        pytest.param("ecr_push", {"repository_name": "shop-worker"}, False, id="name suffix"),
    ],
)
def test_without_tag_prefix(
    transformed: dict[str, Any], name: str, detail: dict[str, Any], matches: bool
) -> None:
    pattern = rule_pattern(transformed, tag_prefix="")

    assert pattern.matches_event(event(name, **detail)) is matches


@pytest.mark.parametrize(
    ("name", "detail", "matches"),
    [
        pytest.param("ecr_push", {}, True, id="push v1.4.2"),
        pytest.param("ecr_push", {"image_tag": "v1."}, True, id="tag equals prefix"),
        pytest.param("ecr_push_untagged", {}, False, id="untagged push"),
        pytest.param("ecr_push", {"image_tag": ""}, False, id="push with an empty tag"),
        pytest.param("ecr_push", {"image_tag": "latest"}, False, id="tag without prefix"),
        pytest.param("ecr_replication", {}, True, id="replica v1.4.2"),
        pytest.param(
            "ecr_replication", {"image_tag": "latest"}, False, id="replica without prefix"
        ),
        pytest.param("ecr_push", {"image_tag": "v2.0.0"}, False, id="other version"),
        pytest.param("ecr_push", {"image_tag": "xv1.4"}, False, id="prefix not at start"),
        pytest.param("ecr_delete", {}, False, id="delete"),
        pytest.param("ecr_push_failed", {}, False, id="failed push"),
        pytest.param("ecr_image_scan", {}, False, id="scan"),
        pytest.param("ecr_push", {"repository_name": "billing"}, False, id="unknown repo"),
    ],
)
def test_with_tag_prefix(
    transformed: dict[str, Any], name: str, detail: dict[str, Any], matches: bool
) -> None:
    pattern = rule_pattern(transformed, tag_prefix="v1.")

    assert pattern.matches_event(event(name, **detail)) is matches


def test_tag_filter_only_with_a_prefix(transformed: dict[str, Any]) -> None:
    # An empty prefix must drop the filter: `{"prefix": ""}` would reject untagged pushes.
    assert "image-tag" not in rule_pattern(transformed, tag_prefix="").get_pattern()["detail"]
    assert rule_pattern(transformed, tag_prefix="rc-").get_pattern()["detail"]["image-tag"] == [
        {"prefix": "rc-"}
    ]
