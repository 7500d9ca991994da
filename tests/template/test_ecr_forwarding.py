"""templates/ecr-forwarding.yaml: a central registry's account forwards its pushes.

Linted as the main template is (cfn-lint here, checkov in `make checkov`). Its rule sends
only the successful pushes (and replicas) to the listed repositories, and only to the
deployer's default bus; its role may put events on that bus alone, for that rule alone.
"""

from __future__ import annotations

import copy
import json
from typing import TYPE_CHECKING, Any, cast

import pytest
from moto.events.models import EventPattern

from ecs_deployer_tools.localcloud.sam_template import load_template
from tests.support import load_event
from tests.template.cfn import ACCOUNT_ID, REGION, REPO_ROOT, STACK_NAME, Resolver
from tests.template.test_lint import lint_errors

if TYPE_CHECKING:
    from moto.events.utils import EventMessageType

FORWARDING_PATH = REPO_ROOT / "templates" / "ecr-forwarding.yaml"
DEPLOYER_ACCOUNT = "222222222222"
DEPLOYER_BUS = f"arn:aws:events:eu-west-1:{DEPLOYER_ACCOUNT}:event-bus/default"
PARAMETERS = {
    "DeployerAccountId": DEPLOYER_ACCOUNT,
    "DeployerRegion": "eu-west-1",
    "RepositoryNames": "shop,team/shop-worker",
}


@pytest.fixture(scope="module")
def resolved() -> dict[str, Any]:
    template = load_template(FORWARDING_PATH)
    result: dict[str, Any] = Resolver(template, PARAMETERS).resolve(template)
    return result


def test_the_forwarding_template_is_lint_clean() -> None:
    assert lint_errors(FORWARDING_PATH.read_text()) == []


def test_the_rule_targets_the_deployer_bus_through_its_role(resolved: dict[str, Any]) -> None:
    (target,) = resolved["Resources"]["ForwardingRule"]["Properties"]["Targets"]

    assert target["Arn"] == DEPLOYER_BUS
    assert target["RoleArn"] == "<ForwardingRole.Arn>"


def test_the_role_puts_events_on_the_deployer_bus_only(resolved: dict[str, Any]) -> None:
    role = resolved["Resources"]["ForwardingRole"]["Properties"]
    (policy,) = role["Policies"]

    assert policy["PolicyDocument"]["Statement"] == [
        {
            "Sid": "PutOnDeployerBus",
            "Effect": "Allow",
            "Action": "events:PutEvents",
            "Resource": DEPLOYER_BUS,
        }
    ]
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "events.amazonaws.com"}
    assert trust["Condition"] == {
        "StringEquals": {"aws:SourceAccount": ACCOUNT_ID},
        "ArnEquals": {
            "aws:SourceArn": f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/{STACK_NAME}-ecr-forward"
        },
    }
    assert resolved["Resources"]["ForwardingRule"]["Properties"]["Name"] == (
        f"{STACK_NAME}-ecr-forward"
    )


def _event(name: str, **detail: Any) -> EventMessageType:
    loaded: dict[str, Any] = copy.deepcopy(load_event(name))
    loaded["detail"] |= {key.replace("_", "-"): value for key, value in detail.items()}
    return cast("EventMessageType", loaded)


@pytest.mark.parametrize(
    ("name", "detail", "forwarded"),
    [
        pytest.param("ecr_push", {}, True, id="push"),
        pytest.param("ecr_push", {"repository_name": "team/shop-worker"}, True, id="other repo"),
        pytest.param("ecr_replication", {}, True, id="replica"),
        pytest.param("ecr_push", {"repository_name": "billing"}, False, id="unlisted repo"),
        pytest.param("ecr_push_failed", {}, False, id="failed push"),
        pytest.param("ecr_delete", {}, False, id="delete"),
        pytest.param("ecr_image_scan", {}, False, id="scan"),
    ],
)
def test_only_successful_pushes_to_the_listed_repositories_are_forwarded(
    resolved: dict[str, Any], name: str, detail: dict[str, Any], forwarded: bool
) -> None:
    pattern = resolved["Resources"]["ForwardingRule"]["Properties"]["EventPattern"]

    assert EventPattern.load(json.dumps(pattern)).matches_event(_event(name, **detail)) is (
        forwarded
    )
