"""templates/target-account-role.yaml: the deploy role of an account apps run in.

Linted as the main template is (cfn-lint here, checkov in `make checkov`), and held to
what the deployer's functions are granted in their own account: the same ECS, iam:PassRole,
task-log and CodeDeploy actions, no more, scoped to the account's clusters, families,
deployment groups and regions, and assumable only by the listed deployer roles presenting
the external id. An account without CodeDeploy groups gets no CodeDeploy grant.
"""

from __future__ import annotations

from typing import Any

import pytest

from ecs_deployer_tools.localcloud.sam_template import load_template
from tests.template.cfn import REPO_ROOT, REQUIRED_PARAMETERS, Resolver
from tests.template.iam import Statement, is_allowed, role_statements
from tests.template.test_lint import lint_errors

TARGET_ROLE_PATH = REPO_ROOT / "templates" / "target-account-role.yaml"
DEPLOYER_ROLES = [
    "arn:aws:iam::123456789012:role/ecs-deployer-RunTasksFunctionRole-1A2B",
    "arn:aws:iam::123456789012:role/ecs-deployer-UpdateServicesFunctionRole-3C4D",
]
ACCOUNT = "111111111111"
PARAMETERS = {
    "DeployerRoleArns": ",".join(DEPLOYER_ROLES),
    "ExternalId": "ecs-deployer-4f1c",
    "Regions": "eu-west-1",
    "ClusterNames": "staging",
    "TaskFamilyPrefixes": "shop-",
    "PassRoleArns": f"arn:aws:iam::{ACCOUNT}:role/shop-task",
}
CODEDEPLOY = {"CodeDeployApplications": "shop", "CodeDeployDeploymentGroups": "shop/shop-web"}
IN_REGION = {"aws:RequestedRegion": "eu-west-1"}
# What the deployer calls in an app's account (template.yaml grants the same to its roles).
IN_ACCOUNT_ACTIONS = ("ecs:", "iam:passrole", "logs:getlogevents", "codedeploy:")


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template(TARGET_ROLE_PATH)


@pytest.fixture(scope="module")
def resolved(template: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = Resolver(template, PARAMETERS | CODEDEPLOY).resolve(template)
    return result


@pytest.fixture(scope="module")
def statements(resolved: dict[str, Any]) -> list[Statement]:
    return role_statements(resolved)


def test_the_target_role_template_is_lint_clean() -> None:
    assert lint_errors(TARGET_ROLE_PATH.read_text()) == []


def test_only_the_deployer_roles_with_the_external_id_may_assume_it(
    resolved: dict[str, Any],
) -> None:
    trust = resolved["Resources"]["DeployRole"]["Properties"]["AssumeRolePolicyDocument"]

    assert trust["Statement"] == [
        {
            "Effect": "Allow",
            "Principal": {"AWS": DEPLOYER_ROLES},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"sts:ExternalId": "ecs-deployer-4f1c"}},
        }
    ]


def _in_account_actions(statements: list[Statement]) -> set[str]:
    return {
        action.lower()
        for statement in statements
        for action in statement.actions
        if action.lower().startswith(IN_ACCOUNT_ACTIONS)
    }


def test_it_grants_exactly_the_actions_the_functions_have_in_their_own_account(
    statements: list[Statement], transformed: dict[str, Any]
) -> None:
    main = [
        statement
        for statement in role_statements(
            Resolver(transformed, REQUIRED_PARAMETERS | CODEDEPLOY).resolve(transformed)
        )
        if statement.role.endswith("FunctionRole")
    ]

    assert _in_account_actions(statements) == _in_account_actions(main)
    assert {action.lower() for s in statements for action in s.actions} == (
        _in_account_actions(statements)
    )


def test_an_account_without_codedeploy_groups_gets_no_codedeploy_grant(
    template: dict[str, Any],
) -> None:
    statements = role_statements(Resolver(template, PARAMETERS).resolve(template))

    assert statements
    assert not [a for s in statements for a in s.actions if a.lower().startswith("codedeploy:")]


def test_no_wildcard_actions(statements: list[Statement]) -> None:
    assert all("*" not in action for s in statements for action in s.actions)


def _arn(resource: str, region: str = "eu-west-1") -> str:
    return f"arn:aws:ecs:{region}:{ACCOUNT}:{resource}"


@pytest.mark.parametrize(
    ("action", "resource", "context", "allowed"),
    [
        ("ecs:UpdateService", _arn("service/staging/shop-web"), IN_REGION, True),
        ("ecs:UpdateService", _arn("service/other/shop-web"), IN_REGION, False),
        (
            "ecs:UpdateService",
            _arn("service/staging/shop-web", "us-east-1"),
            {"aws:RequestedRegion": "us-east-1"},
            False,
        ),
        ("ecs:RegisterTaskDefinition", _arn("task-definition/shop-web:3"), IN_REGION, True),
        ("ecs:RegisterTaskDefinition", _arn("task-definition/admin:3"), IN_REGION, False),
        (
            "ecs:RunTask",
            _arn("task-definition/shop-migrate:3"),
            IN_REGION | {"ecs:cluster": _arn("cluster/staging")},
            True,
        ),
        (
            "ecs:RunTask",
            _arn("task-definition/shop-migrate:3"),
            IN_REGION | {"ecs:cluster": _arn("cluster/other")},
            False,
        ),
        (
            "iam:PassRole",
            f"arn:aws:iam::{ACCOUNT}:role/shop-task",
            {"iam:PassedToService": "ecs-tasks.amazonaws.com"},
            True,
        ),
        (
            "iam:PassRole",
            f"arn:aws:iam::{ACCOUNT}:role/admin",
            {"iam:PassedToService": "ecs-tasks.amazonaws.com"},
            False,
        ),
        (
            "logs:GetLogEvents",
            f"arn:aws:logs:eu-west-1:{ACCOUNT}:log-group:/ecs/shop:log-stream:app/1",
            IN_REGION,
            True,
        ),
        (
            "logs:GetLogEvents",
            f"arn:aws:logs:eu-west-1:{ACCOUNT}:log-group:/aws/lambda/x:log-stream:1",
            IN_REGION,
            False,
        ),
        (
            "codedeploy:CreateDeployment",
            f"arn:aws:codedeploy:eu-west-1:{ACCOUNT}:deploymentgroup:shop/shop-web",
            IN_REGION,
            True,
        ),
        (
            "codedeploy:CreateDeployment",
            f"arn:aws:codedeploy:eu-west-1:{ACCOUNT}:deploymentgroup:shop/shop-admin",
            IN_REGION,
            False,
        ),
        (
            "codedeploy:RegisterApplicationRevision",
            f"arn:aws:codedeploy:eu-west-1:{ACCOUNT}:application:shop",
            IN_REGION,
            True,
        ),
        (
            "codedeploy:GetDeploymentConfig",
            f"arn:aws:codedeploy:eu-west-1:{ACCOUNT}:deploymentconfig:CodeDeployDefault.ECSAllAtOnce",
            IN_REGION,
            True,
        ),
        (
            "codedeploy:StopDeployment",
            "*",
            {"aws:RequestedRegion": "us-east-1"},
            False,
        ),
    ],
)
def test_the_role_is_scoped_to_the_accounts_clusters_families_roles_groups_and_regions(
    statements: list[Statement],
    action: str,
    resource: str,
    context: dict[str, str],
    allowed: bool,
) -> None:
    assert is_allowed(statements, "DeployRole", action, resource, context) is allowed
