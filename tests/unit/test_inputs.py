from __future__ import annotations

from typing import Any

import pytest

from ecs_deployer.errors import InputError
from ecs_deployer.inputs import EcrImageActionEvent, ManualRequest, parse_execution_input
from tests.support import load_event


def test_ecr_push_event_is_parsed_with_powertools_eventbridge_model() -> None:
    event = parse_execution_input(load_event("ecr_push"))
    assert isinstance(event, EcrImageActionEvent)
    assert event.detail_type == "ECR Image Action"
    assert event.detail.repository_name == "shop"
    assert event.detail.image_tag == "v1.4.2"
    assert event.detail.image_digest.startswith("sha256:9d2f")
    assert event.is_successful_push
    # Fields AWS adds to the detail are ignored, not refused.
    assert {"manifest-media-type", "artifact-media-type"} <= load_event("ecr_push")["detail"].keys()


def test_untagged_push() -> None:
    event = parse_execution_input(load_event("ecr_push_untagged"))
    assert isinstance(event, EcrImageActionEvent)
    assert event.detail.image_tag is None
    assert event.is_successful_push


def test_an_empty_tag_is_no_tag() -> None:
    raw = load_event("ecr_push")
    raw["detail"]["image-tag"] = ""  # how ECR may send an untagged push
    event = parse_execution_input(raw)
    assert isinstance(event, EcrImageActionEvent)
    assert event.detail.image_tag is None


def test_a_replica_is_a_successful_push() -> None:
    event = parse_execution_input(load_event("ecr_replication"))
    assert isinstance(event, EcrImageActionEvent)
    assert event.detail_type == "ECR Replication Action"
    assert (event.detail.repository_name, event.detail.image_tag) == ("shop", "v1.4.2")
    assert event.is_successful_push
    assert (event.is_replica, event.detail.source_region) == (True, "us-west-2")


def _event(name: str, **detail: str) -> dict[str, Any]:
    raw: dict[str, Any] = load_event(name)
    raw["detail"].update(detail)
    return raw


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(load_event("ecr_delete"), id="delete"),
        pytest.param(load_event("ecr_push_failed"), id="failed push"),
        pytest.param(_event("ecr_replication", result="FAILED"), id="failed replication"),
        # An action type under the other event's name is neither a push nor a replica.
        pytest.param(_event("ecr_replication", **{"action-type": "PUSH"}), id="PUSH replica"),
        pytest.param(_event("ecr_push", **{"action-type": "REPLICATE"}), id="REPLICATE push"),
    ],
)
def test_deletes_and_failures_are_not_successful_pushes(raw: dict[str, Any]) -> None:
    event = parse_execution_input(raw)
    assert isinstance(event, EcrImageActionEvent)
    assert not event.is_successful_push


def test_manual_inputs() -> None:
    by_tag = parse_execution_input(load_event("manual_tag"))
    assert isinstance(by_tag, ManualRequest)
    assert (by_tag.app, by_tag.image_tag, by_tag.image_digest, by_tag.force) == (
        "shop",
        "v1.4.2",
        None,
        False,
    )
    assert by_tag.trigger.kind == "manual"
    by_digest = parse_execution_input(load_event("manual_digest"))
    assert isinstance(by_digest, ManualRequest)
    assert (by_digest.repository, by_digest.skip_pre_tasks, by_digest.force) == ("shop", True, True)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"app": "shop"}, "give image_tag or image_digest (or rollback_to, or undo)"),
        ({"app": "shop", "image_tag": "v1", "forse": True}, "forse: unknown field"),
        (
            {"app": "shop", "image_tag": "v1", "force": "yes"},
            "force: expected `bool`, got `str`",
        ),
        (
            {"app": "shop", "image_digest": "sha256:abc"},
            "image_digest: expected `str` matching regex '^sha256:[a-f0-9]{64}$'",
        ),
        (
            {"app": "shop", "image_tag": "has space"},
            "image_tag: expected `str` matching regex '^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$'",
        ),
        (
            {"app": "shop!", "image_tag": "v1"},
            "app: expected `str` matching regex '^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$'",
        ),
        ({"image_tag": "v1"}, "app: required field is missing"),
        (
            {"app": "shop", "image_tag": "v1", "poll_seconds": 0},
            "poll_seconds: expected `int` >= 1",
        ),
        (
            {"app": "shop", "image_tag": "v1", "poll_seconds": "5"},
            "poll_seconds: expected `int | null`, got `str`",
        ),
        ([], "execution input must be a JSON object"),
        (
            {"source": "aws.ecr", "detail-type": "ECR Image Action"},
            "version: required field is missing",
        ),
        (
            {key: value for key, value in load_event("ecr_push").items() if key != "detail"},
            "detail: required field is missing",
        ),
    ],
)
def test_malformed_inputs_name_the_field(raw: Any, message: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_execution_input(raw)
    assert message in str(caught.value)
