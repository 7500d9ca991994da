"""A resource-based policy's decision (`resource_policy_decision`): which principals its
statements name, an explicit Deny winning, a statement without Resource on the policy's."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ecs_deployer_tools.localcloud.iam.guard import resource_policy_decision
from ecs_deployer_tools.localcloud.iam.policy import AuthorizationRequest

CENTRAL = "333333333333"
CALLER_ACCOUNT = "123456789012"
CALLER_ROLE = f"arn:aws:iam::{CALLER_ACCOUNT}:role/resolve"
REPOSITORY = f"arn:aws:ecr:us-east-1:{CENTRAL}:repository/shop"
READ = AuthorizationRequest("ecr:DescribeImages", REPOSITORY, {})


def _policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def _allow(principal: Any, **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Principal": principal, "Action": "ecr:Describe*", **extra}


@pytest.mark.parametrize(
    ("principal", "caller", "allowed"),
    [
        ("*", CALLER_ROLE, True),
        ({"AWS": "*"}, CALLER_ROLE, True),
        ({"AWS": CALLER_ACCOUNT}, CALLER_ROLE, True),
        ({"AWS": f"arn:aws:iam::{CALLER_ACCOUNT}:root"}, CALLER_ROLE, True),
        ({"AWS": [CALLER_ROLE]}, CALLER_ROLE, True),
        ({"AWS": f"arn:aws:iam::{CALLER_ACCOUNT}:role/other"}, CALLER_ROLE, False),
        ({"AWS": f"arn:aws:iam::{CENTRAL}:root"}, CALLER_ROLE, False),
        ({"Service": "ecr.amazonaws.com"}, CALLER_ROLE, False),
        # Only the account known: a statement naming a principal of it may name the caller.
        ({"AWS": CALLER_ROLE}, CALLER_ACCOUNT, True),
        ({"AWS": f"arn:aws:iam::{CENTRAL}:role/resolve"}, CALLER_ACCOUNT, False),
    ],
)
def test_a_statement_applies_to_the_principals_it_names(
    principal: Any, caller: str, allowed: bool
) -> None:
    decision = resource_policy_decision(_policy(_allow(principal)), REPOSITORY, caller, READ)

    assert decision.allowed is allowed


def test_an_explicit_deny_wins_over_an_allow() -> None:
    deny = {"Effect": "Deny", "Principal": {"AWS": CALLER_ACCOUNT}, "Action": "ecr:DescribeImages"}
    policy = _policy(_allow("*"), deny)

    decision = resource_policy_decision(policy, REPOSITORY, CALLER_ROLE, READ)

    assert not decision.allowed
    assert decision.explicitly_denied


def test_a_statement_with_a_resource_applies_to_that_resource_only() -> None:
    other = f"arn:aws:ecr:us-east-1:{CENTRAL}:repository/other"
    policy = _policy(_allow("*", Resource=other))

    assert not resource_policy_decision(policy, REPOSITORY, CALLER_ROLE, READ).allowed
    elsewhere = AuthorizationRequest("ecr:DescribeImages", other, {})
    assert resource_policy_decision(policy, other, CALLER_ROLE, elsewhere).allowed
    but_other = _policy(_allow("*", NotResource=other))
    assert resource_policy_decision(but_other, REPOSITORY, CALLER_ROLE, READ).allowed
    assert not resource_policy_decision(but_other, other, CALLER_ROLE, elsewhere).allowed


def test_no_policy_allows_nothing() -> None:
    assert not resource_policy_decision(None, REPOSITORY, CALLER_ROLE, READ).allowed
