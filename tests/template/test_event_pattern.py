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
from tests.template.cfn import ACCOUNT_ID, REQUIRED_PARAMETERS, Resolver

if TYPE_CHECKING:
    from moto.events.utils import EventMessageType

REPOSITORIES = "shop,team/shop-worker"


def rule_pattern(
    transformed: dict[str, Any], tag_prefix: str, ecr_source_accounts: str = ""
) -> EventPattern:
    rule = transformed["Resources"]["DeployStateMachineEcrPush"]
    resolver = Resolver(
        transformed,
        REQUIRED_PARAMETERS
        | {
            "RepositoryNames": REPOSITORIES,
            "TagPrefix": tag_prefix,
            "EcrSourceAccounts": ecr_source_accounts,
        },
    )
    pattern = resolver.resolve(rule["Properties"]["EventPattern"])
    return EventPattern.load(json.dumps(pattern))


def event(name: str, account: str | None = None, **detail: Any) -> EventMessageType:
    """A fixture event with some detail fields replaced (None removes the field), from
    ``account`` if given."""
    loaded: dict[str, Any] = copy.deepcopy(load_event(name))
    if account is not None:
        loaded["account"] = account
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


CENTRAL_REGISTRY = "333333333333"


@pytest.mark.parametrize(
    ("sources", "account", "matches"),
    [
        pytest.param("", ACCOUNT_ID, True, id="own push, no sources"),
        pytest.param("", CENTRAL_REGISTRY, False, id="unlisted account"),
        pytest.param(CENTRAL_REGISTRY, CENTRAL_REGISTRY, True, id="listed source"),
        pytest.param(CENTRAL_REGISTRY, ACCOUNT_ID, True, id="own push with sources"),
        pytest.param(CENTRAL_REGISTRY, "444444444444", False, id="another account"),
    ],
)
def test_pushes_from_this_account_or_a_listed_source(
    transformed: dict[str, Any], sources: str, account: str, matches: bool
) -> None:
    pattern = rule_pattern(transformed, tag_prefix="", ecr_source_accounts=sources)

    assert pattern.matches_event(event("ecr_push", account=account)) is matches


def test_the_bus_takes_events_from_the_listed_sources_only(transformed: dict[str, Any]) -> None:
    def bus_policy(sources: str) -> dict[str, Any] | None:
        resolver = Resolver(transformed, REQUIRED_PARAMETERS | {"EcrSourceAccounts": sources})
        policy: dict[str, Any] = transformed["Resources"]["EcrSourceAccountsBusPolicy"]
        return resolver.resolve(policy) if resolver.condition(policy["Condition"]) else None

    assert bus_policy("") is None
    policy = bus_policy(f"{CENTRAL_REGISTRY},444444444444")
    assert policy is not None
    assert policy["Properties"]["Statement"] == {
        "Effect": "Allow",
        "Principal": {"AWS": [CENTRAL_REGISTRY, "444444444444"]},
        "Action": "events:PutEvents",
        "Resource": f"arn:aws:events:us-east-1:{ACCOUNT_ID}:event-bus/default",
    }
