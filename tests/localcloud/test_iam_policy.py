"""The local cloud's IAM evaluator: IAM's evaluation logic on the constructs it models, and a
loud refusal of those it does not."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from ecs_deployer_tools.localcloud.iam.policy import (
    AuthorizationRequest,
    ContextValue,
    Grant,
    UnsupportedPolicyError,
    arn_like,
    evaluate,
    parse_policy,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

SERVICE = "arn:aws:ecs:us-east-1:123456789012:service/blue/web"


def decide(
    *statements: dict[str, Any],
    action: str = "ecs:UpdateService",
    resource: str = SERVICE,
    context: Mapping[str, ContextValue] | None = None,
) -> bool:
    parsed = parse_policy("policy", {"Version": "2012-10-17", "Statement": list(statements)})
    return evaluate(parsed, AuthorizationRequest(action, resource, context or {})).allowed


def allow(**extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": "ecs:UpdateService", "Resource": "*", **extra}


def test_nothing_allows_by_default() -> None:
    assert not decide()
    assert not decide(allow(Action="ecs:DescribeServices"))


def test_an_explicit_deny_wins_over_any_allow() -> None:
    deny = {"Effect": "Deny", "Action": "ecs:*", "Resource": SERVICE}

    assert decide(allow())
    assert not decide(allow(), deny)
    assert not decide(deny, allow())


def test_actions_match_case_insensitively_with_wildcards() -> None:
    assert decide(allow(Action="ECS:updateservice"))
    assert decide(allow(Action="ecs:Update*"))
    assert decide(allow(Action="ecs:UpdateServic?"))
    assert not decide(allow(Action="ecs:Update?"))
    assert not decide(allow(Action="ec2:UpdateService"))


def test_not_action_allows_everything_else() -> None:
    not_action = {"Effect": "Allow", "NotAction": "ecs:Describe*", "Resource": "*"}

    assert decide(not_action)
    assert not decide(not_action, action="ecs:DescribeServices")


def test_resources_match_component_by_component() -> None:
    assert decide(allow(Resource="arn:*:ecs:*:*:service/blue/*"))
    assert not decide(allow(Resource="arn:*:ecs:*:*:service/green/*"))
    # A wildcard never reaches across the colons before the resource part.
    assert not arn_like("arn:aws:ecs:*", SERVICE)
    # The short ARN of a service created before 2021 is not under its cluster's name.
    short = "arn:aws:ecs:us-east-1:123456789012:service/web"
    assert not decide(allow(Resource="arn:*:ecs:*:*:service/blue/*"), resource=short)


def test_brackets_are_no_wildcards() -> None:
    assert not decide(allow(Resource="arn:aws:ecs:us-east-1:123456789012:service/[bg]lue/web"))


def test_an_action_without_resource_type_is_covered_only_by_star() -> None:
    assert decide(allow(), resource="*")
    assert not decide(allow(Resource="arn:aws:ecs:*:*:*"), resource="*")


def test_not_resource_allows_every_other_resource() -> None:
    other = {"Effect": "Allow", "Action": "ecs:UpdateService", "NotResource": SERVICE}

    assert not decide(other)
    assert decide(other, resource=SERVICE.replace("web", "api"))


@pytest.mark.parametrize(
    ("operator", "wanted", "actual", "expected"),
    [
        ("StringEquals", "ecs-tasks.amazonaws.com", "ecs-tasks.amazonaws.com", True),
        ("StringEquals", "ecs-tasks.amazonaws.com", "ECS-tasks.amazonaws.com", False),
        ("StringEqualsIgnoreCase", "ecs-tasks.amazonaws.com", "ECS-tasks.amazonaws.com", True),
        ("StringLike", "ecs-*", "ecs-tasks.amazonaws.com", True),
        ("StringLike", "lambda.*", "ecs-tasks.amazonaws.com", False),
        ("ArnLike", "arn:*:ecs:*:*:cluster/blue", "arn:aws:ecs:us-east-1:1:cluster/blue", True),
        ("ArnEquals", "arn:*:ecs:*:*:cluster/blue", "arn:aws:ecs:us-east-1:1:cluster/green", False),
        ("Bool", "true", "True", True),
        ("Bool", "false", "true", False),
    ],
)
def test_condition_operators(operator: str, wanted: str, actual: str, expected: bool) -> None:
    assert (
        decide(allow(Condition={operator: {"k:key": wanted}}), context={"k:key": actual})
        is expected
    )


def test_a_condition_on_an_absent_key_does_not_match() -> None:
    assert not decide(allow(Condition={"StringEquals": {"ecs:cluster": "blue"}}))
    assert not decide(allow(Condition={"ArnLike": {"ecs:cluster": "arn:*"}}))


def test_if_exists_holds_when_the_key_is_absent_and_checks_it_when_present() -> None:
    statement = allow(Condition={"StringEqualsIfExists": {"ecs:cluster": "blue"}})

    assert decide(statement)
    assert decide(statement, context={"ecs:cluster": "blue"})
    assert not decide(statement, context={"ecs:cluster": "green"})


def test_null_tests_presence() -> None:
    absent = allow(Condition={"Null": {"aws:TagKeys": "true"}})
    present = allow(Condition={"Null": {"aws:TagKeys": "false"}})

    assert decide(absent)
    assert not decide(absent, context={"aws:TagKeys": ("team",)})
    assert decide(present, context={"aws:TagKeys": ("team",)})
    assert not decide(present)


def test_set_qualifiers_over_multivalued_keys() -> None:
    any_value = allow(Condition={"ForAnyValue:StringEquals": {"aws:TagKeys": ["team", "app"]}})
    all_values = allow(Condition={"ForAllValues:StringEquals": {"aws:TagKeys": ["team", "app"]}})

    assert decide(any_value, context={"aws:TagKeys": ("team", "cost")})
    assert not decide(any_value, context={"aws:TagKeys": ("cost",)})
    assert not decide(any_value)  # nothing to match
    assert decide(all_values, context={"aws:TagKeys": ("team", "app")})
    assert not decide(all_values, context={"aws:TagKeys": ("team", "cost")})
    assert decide(all_values)  # holds over no values
    # AWS: ForAnyValue with IfExists still fails on an absent key.
    assert not decide(allow(Condition={"ForAnyValue:StringEqualsIfExists": {"aws:TagKeys": "x"}}))


def test_every_condition_must_hold_any_of_a_keys_values_may_match() -> None:
    statement = allow(
        Condition={
            "StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"},
            "ArnLike": {
                "ecs:cluster": ["arn:*:ecs:*:*:cluster/blue", "arn:*:ecs:*:*:cluster/green"]
            },
        }
    )
    green = "arn:aws:ecs:us-east-1:1:cluster/green"

    assert decide(
        statement,
        context={"iam:PassedToService": "ecs-tasks.amazonaws.com", "ecs:cluster": green},
    )
    assert not decide(statement, context={"ecs:cluster": green})


def test_condition_key_names_are_case_insensitive() -> None:
    statement = allow(Condition={"StringEquals": {"aws:requestedregion": "us-east-1"}})

    assert decide(statement, context={"aws:RequestedRegion": "us-east-1"})


def test_a_plain_operator_on_a_multivalued_key_is_refused() -> None:
    statement = allow(Condition={"StringEquals": {"aws:TagKeys": "team"}})

    with pytest.raises(UnsupportedPolicyError, match="multivalued"):
        decide(statement, context={"aws:TagKeys": ("team",)})


@pytest.mark.parametrize(
    "statement",
    [
        allow(Condition={"StringNotEquals": {"ecs:cluster": "blue"}}),
        allow(Condition={"NumericLessThan": {"ecs:task-cpu": "256"}}),
        allow(Condition={"ForAnyValue:Null": {"aws:TagKeys": "true"}}),
        allow(Resource="arn:aws:ecs:*:*:service/${aws:username}/*"),
        allow(Principal={"AWS": "*"}),
        {"Effect": "Audit", "Action": "ecs:*", "Resource": "*"},
        {"Effect": "Allow", "Action": "ecs:*"},
    ],
)
def test_what_the_evaluator_does_not_model_is_refused_when_read(statement: dict[str, Any]) -> None:
    with pytest.raises(UnsupportedPolicyError):
        decide(statement)


def test_a_decision_names_the_grants_that_allowed_it() -> None:
    statements = parse_policy(
        "RolePolicy0",
        {
            "Statement": [
                {
                    "Sid": "Update",
                    "Effect": "Allow",
                    "Action": ["ecs:UpdateService", "ecs:Describe*"],
                    "Resource": "*",
                },
                {"Effect": "Allow", "Action": "ecs:*", "Resource": SERVICE},
            ]
        },
    )

    decision = evaluate(statements, AuthorizationRequest("ecs:UpdateService", SERVICE, {}))

    assert decision.grants == (
        Grant("RolePolicy0", "Update", "ecs:UpdateService"),
        Grant("RolePolicy0", "1", "ecs:*"),
    )
