"""`ecs-deployer rule show | test`: the deployed ECR push rule and what an event starts."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

from tests.cli.conftest import deploy
from tests.support import EVENTS_DIR, load_event

if TYPE_CHECKING:
    from pathlib import Path

    from tests.cli.conftest import Local

PUSH = load_event("ecr_push")
DIGEST = PUSH["detail"]["image-digest"]


def test_rule_show_prints_the_deployed_pattern(local: Local) -> None:
    code, rule = local.json("rule", "show")
    assert code == 0
    assert (rule["rule"], rule["state"]) == (local.cloud.outputs["EcrPushRuleName"], "ENABLED")
    assert rule["pattern"] == {
        "source": ["aws.ecr"],
        "account": ["123456789012"],
        "detail-type": ["ECR Image Action", "ECR Replication Action"],
        "detail": {
            "action-type": ["PUSH", "REPLICATE"],
            "result": ["SUCCESS"],
            "repository-name": ["shop"],
        },
    }
    result = local.run("rule", "show")
    assert result.exit_code == 0, result.output
    assert '"repository-name": [' in result.stdout


def test_a_matching_push_resolves_to_the_app_and_image(local: Local) -> None:
    code, verdict = local.json("rule", "test", str(EVENTS_DIR / "ecr_push.json"))
    assert code == 0
    assert (verdict["matched"], verdict["deploys"], verdict["errors"]) == (True, True, [])
    image = f"{local.seeded.registry}/shop@{DIGEST}"
    assert [(t["app"], t["image"]) for t in verdict["targets"]] == [("shop", image)]
    result = local.run("rule", "test", str(EVENTS_DIR / "ecr_push.json"))
    assert f"deploys shop: {image}" in result.stdout


def _event(tmp_path: Path, **detail: Any) -> str:
    path = tmp_path / "event.json"
    path.write_text(json.dumps({**PUSH, "detail": {**PUSH["detail"], **detail}}))
    return str(path)


@pytest.mark.parametrize(
    ("detail", "matched", "reason"),
    [
        ({"action-type": "DELETE"}, False, "the rule's event pattern does not match the event"),
        ({"repository-name": "other"}, False, "the rule's event pattern does not match the event"),
        (
            {"image-tag": "main-3f2c1a"},
            True,
            "shop:main-3f2c1a: app 'shop' deploys tags matching v*; 'main-3f2c1a' does not match",
        ),
    ],
)
def test_an_event_that_deploys_nothing_says_why(
    local: Local, tmp_path: Path, detail: dict[str, str], matched: bool, reason: str
) -> None:
    code, verdict = local.json("rule", "test", _event(tmp_path, **detail))
    assert code == 1
    assert (verdict["matched"], verdict["targets"], verdict["ignored"]) == (matched, [], [reason])
    result = local.run("rule", "test", _event(tmp_path, **detail))
    assert result.exit_code == 1
    assert f"ignored: {reason}" in result.stdout


def test_the_fields_the_pattern_filters_on_are_shown(local: Local, tmp_path: Path) -> None:
    result = local.run("rule", "test", _event(tmp_path, **{"action-type": "DELETE"}))
    assert 'detail.action-type: "DELETE", the rule wants ["PUSH", "REPLICATE"]' in result.stdout


def test_a_replica_resolves_to_the_app_and_image_as_its_push(local: Local) -> None:
    code, verdict = local.json("rule", "test", str(EVENTS_DIR / "ecr_replication.json"))
    assert code == 0
    image = f"{local.seeded.registry}/shop@{DIGEST}"
    assert [(t["app"], t["image"]) for t in verdict["targets"]] == [("shop", image)]
    assert [t["execution_name"] for t in verdict["targets"]] == [f"shop-{DIGEST[7:39]}"]


@pytest.mark.parametrize("tag", [None, ""], ids=["without image-tag", "empty image-tag"])
def test_an_untagged_push_deploys_nothing_and_says_why(
    local: Local, tmp_path: Path, tag: str | None
) -> None:
    detail = {key: value for key, value in PUSH["detail"].items() if key != "image-tag"}
    path = tmp_path / "untagged.json"
    path.write_text(
        json.dumps({**PUSH, "detail": detail | ({} if tag is None else {"image-tag": tag})})
    )
    code, verdict = local.json("rule", "test", str(path))
    assert code == 1
    assert (verdict["matched"], verdict["targets"], verdict["errors"]) == (True, [], [])
    [reason] = verdict["ignored"]
    assert reason.startswith(f"shop@{DIGEST}: untagged: ")


def test_an_event_that_is_not_json_is_a_user_error(local: Local, tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text("{")
    result = local.run("rule", "test", str(path))
    assert result.exit_code == 1
    assert "is not JSON" in result.stderr


def test_rule_test_says_a_push_of_a_deployed_digest_is_a_duplicate(
    local: Local, tmp_path: Path
) -> None:
    deployed = deploy(local, "build-dup")
    digest = deployed["summary"]["image"].rsplit("@", 1)[-1]
    event = _event(tmp_path, **{"image-digest": digest, "image-tag": "v9.9.9"})
    code, verdict = local.json("rule", "test", event)
    assert code == 1  # it deploys nothing
    assert (verdict["matched"], verdict["deploys"]) == (True, False)
    [reason] = verdict["ignored"]
    assert f"duplicate of deployment {deployed['name']} (SUCCEEDED)" in reason
    # A first push of a digest says so, with the name its deployment will have.
    code, fresh = local.json("rule", "test", str(EVENTS_DIR / "ecr_push.json"))
    assert code == 0
    [target] = fresh["targets"]
    assert target["reason"] == "first deployment of this digest"
    assert target["execution_name"] == f"shop-{DIGEST[7:39]}"
