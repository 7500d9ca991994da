"""Least privilege: what each role of the deployed stack may and may not do.

Policies come from the transformed template resolved for concrete parameters (clusters
blue and green, repositories shop and team/api) and are evaluated by tests.template.iam.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.template.cfn import (
    ACCOUNT_ID,
    FUNCTION_DIRS,
    REGION,
    STACK_ID,
    STACK_NAME,
    STEP_FUNCTION_DIRS,
    Resolver,
)
from tests.template.iam import Statement, is_allowed, role_statements

PASS_ROLES = (
    f"arn:aws:iam::{ACCOUNT_ID}:role/shop-task,arn:aws:iam::{ACCOUNT_ID}:role/shop-execution"
)
PARAMETERS = {
    "ClusterNames": "blue,green",
    "RepositoryNames": "shop,team/api",
    "TaskFamilyPrefixes": "web,api-",
    "PassRoleArns": PASS_ROLES,
    "CodeDeployApplications": "shop",
    "CodeDeployDeploymentGroups": "shop/web,shop/api",
}

IN_REGION = {"aws:RequestedRegion": REGION}
TABLE = "<DeploymentsTable.Arn>"

# Actions whose Service Authorization Reference entry has no resource type: "*" is the only
# resource a statement can name for them. Everything else must be scoped.
STAR_ONLY_ACTIONS = {
    "ecs:DescribeTaskDefinition",
    "ecs:ListTaskDefinitions",
    "ecs:DeregisterTaskDefinition",
    "ecs:ListServices",
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
    "ssm:DescribeParameters",
    "codedeploy:StopDeployment",
    "codedeploy:ListDeploymentTargets",
    "codedeploy:BatchGetDeploymentTargets",
    "states:SendTaskSuccess",
    "states:SendTaskFailure",
}


def arn(service: str, resource: str, region: str = REGION) -> str:
    return f"arn:aws:{service}:{region}:{ACCOUNT_ID}:{resource}"


def group(name: str) -> str:
    """A CodeDeploy deployment group, APPLICATION/GROUP."""
    return arn("codedeploy", f"deploymentgroup:{name}")


def role_of(function: str) -> str:
    return f"{function}Role"


@pytest.fixture(scope="module")
def resolved(transformed: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = Resolver(transformed, PARAMETERS).resolve(transformed)
    return result


@pytest.fixture(scope="module")
def statements(resolved: dict[str, Any]) -> list[Statement]:
    return role_statements(resolved)


def test_every_function_and_the_state_machine_have_a_role(statements: list[Statement]) -> None:
    roles = {statement.role for statement in statements}

    assert roles >= {role_of(function) for function in FUNCTION_DIRS} | {"DeployStateMachineRole"}


def test_no_wildcard_actions(statements: list[Statement]) -> None:
    actions = {action for statement in statements for action in statement.actions}

    assert actions, "no statements found"
    assert not [action for action in actions if "*" in action]


def test_no_role_takes_an_aws_managed_policy(resolved: dict[str, Any]) -> None:
    """Every grant is in the template: SAM's roles came with AWSLambdaBasicExecutionRole
    (logs on every log group) and AWSXrayWriteOnlyAccess."""
    roles = [r for r in resolved["Resources"].values() if r["Type"] == "AWS::IAM::Role"]

    assert roles
    assert [role for role in roles if role["Properties"].get("ManagedPolicyArns")] == []


@pytest.mark.parametrize("function", sorted(FUNCTION_DIRS))
def test_each_function_writes_only_its_own_log_group(
    statements: list[Statement], function: str
) -> None:
    own = f"<{function}LogGroup.Arn>"
    others = [f"<{other}LogGroup.Arn>" for other in FUNCTION_DIRS if other != function]

    for action in ("logs:CreateLogStream", "logs:PutLogEvents"):
        assert is_allowed(statements, role_of(function), action, own)
        assert not [
            group for group in others if is_allowed(statements, role_of(function), action, group)
        ]
        assert not is_allowed(
            statements, role_of(function), action, arn("logs", "log-group:/aws/lambda/x:*")
        )
    # The group exists before the function: nothing creates groups.
    assert not is_allowed(statements, role_of(function), "logs:CreateLogGroup", "*")


@pytest.mark.parametrize("function", sorted(FUNCTION_DIRS))
def test_each_function_may_send_its_traces(statements: list[Statement], function: str) -> None:
    for action in ("xray:PutTraceSegments", "xray:PutTelemetryRecords"):
        assert is_allowed(statements, role_of(function), action, "*")
    assert not is_allowed(statements, role_of(function), "xray:GetTraceSummaries", "*")


def test_star_resource_only_where_the_service_offers_nothing_narrower(
    statements: list[Statement],
) -> None:
    unscoped = {
        action
        for statement in statements
        if "*" in statement.resources
        for action in statement.actions
    }

    assert unscoped <= STAR_ONLY_ACTIONS


def test_unscoped_ecs_listing_is_narrowed_by_cluster(statements: list[Statement]) -> None:
    for statement in statements:
        if "*" in statement.resources and {"ecs:ListServices"} & set(statement.actions):
            assert "ecs:cluster" in statement.conditions["ArnLike"]


def test_every_pass_role_is_limited_to_ecs_tasks(statements: list[Statement]) -> None:
    passing = [statement for statement in statements if "iam:PassRole" in statement.actions]

    assert {statement.role for statement in passing} == {
        role_of("RegisterTaskDefinitionsFunction"),
        role_of("RunTasksFunction"),
        role_of("UpdateServicesFunction"),
    }
    for statement in passing:
        assert statement.actions == ("iam:PassRole",)
        assert statement.conditions == {
            "StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}
        }


def test_pass_role_resources_are_the_parameter(statements: list[Statement]) -> None:
    resources = {
        statement.resources for statement in statements if "iam:PassRole" in statement.actions
    }

    assert resources == {tuple(PASS_ROLES.split(","))}


def test_ssm_only_under_the_config_prefix(transformed: dict[str, Any]) -> None:
    resolved = Resolver(transformed, PARAMETERS | {"ConfigPrefix": "/team/apps"}).resolve(
        transformed
    )
    ssm = [
        statement
        for statement in role_statements(resolved)
        if statement.role.endswith("FunctionRole")
        and any(action.startswith("ssm:") for action in statement.actions)
    ]

    # Resolve reads configs; so does closing a push whose dispatch failed (to know its apps),
    # and the indexer (one changed config; all of them for a rebuild).
    assert {statement.role for statement in ssm} == {
        role_of("CloseExecutionFunction"),
        role_of("IndexConfigsFunction"),
        role_of("ResolveFunction"),
    }
    actions: dict[str, set[str]] = {}
    for statement in ssm:
        actions.setdefault(statement.role, set()).update(statement.actions)
    # Only the calls the code makes: Resolve reads one app's config (GetParameter), those the
    # config index lists (GetParameters), or all before it is built (GetParametersByPath);
    # closing a failed dispatch reads all; the indexer, one by name, or all.
    assert actions == {
        role_of("ResolveFunction"): {
            "ssm:GetParameter",
            "ssm:GetParameters",
            "ssm:GetParametersByPath",
        },
        role_of("CloseExecutionFunction"): {"ssm:GetParametersByPath"},
        role_of("IndexConfigsFunction"): {"ssm:GetParameters", "ssm:GetParametersByPath"},
    }
    for statement in ssm:
        assert set(statement.resources) <= {
            arn("ssm", "parameter/team/apps"),
            arn("ssm", "parameter/team/apps/*"),
        }


def task(cluster: str, region: str = REGION) -> str:
    return arn("ecs", f"task/{cluster}/0f1e2d3c4b5a", region)


def service(cluster: str, region: str = REGION) -> str:
    return arn("ecs", f"service/{cluster}/web", region)


def cluster_arn(cluster: str) -> str:
    return arn("ecs", f"cluster/{cluster}")


TASK_DEFINITION = arn("ecs", "task-definition/web:7")
OTHER_FAMILY = arn("ecs", "task-definition/admin-tools:3")  # not under TaskFamilyPrefixes
STATE_MACHINE = arn("states", f"stateMachine:{STACK_NAME}-deploy")
OWN_EXECUTION = arn("states", f"execution:{STACK_NAME}-deploy:shop-0123abcd")
OTHER_EXECUTION = arn("states", "execution:billing-pipeline:run-1")
TASK_ROLE = f"arn:aws:iam::{ACCOUNT_ID}:role/shop-task"

# (function, action, resource, request context, allowed)
CASES: list[tuple[str, str, str, dict[str, str], bool]] = [
    # resolve
    (
        "ResolveFunction",
        "ssm:GetParameter",
        arn("ssm", "parameter/ecs-deployer/apps/shop"),
        {},
        True,
    ),
    (
        "ResolveFunction",
        "ssm:GetParametersByPath",
        arn("ssm", "parameter/ecs-deployer/apps"),
        {},
        True,
    ),
    (
        "ResolveFunction",
        "ssm:GetParameter",
        arn("ssm", "parameter/ecs-deployer/apps-x/a"),
        {},
        False,
    ),
    ("ResolveFunction", "ssm:GetParameter", arn("ssm", "parameter/other/shop"), {}, False),
    (
        "ResolveFunction",
        "ssm:PutParameter",
        arn("ssm", "parameter/ecs-deployer/apps/shop"),
        {},
        False,
    ),
    ("ResolveFunction", "ecr:DescribeImages", arn("ecr", "repository/shop"), IN_REGION, True),
    ("ResolveFunction", "ecr:DescribeImages", arn("ecr", "repository/team/api"), IN_REGION, True),
    ("ResolveFunction", "ecr:DescribeImages", arn("ecr", "repository/billing"), IN_REGION, False),
    (
        "ResolveFunction",
        "ecr:DescribeImages",
        arn("ecr", "repository/shop", "eu-west-1"),
        {"aws:RequestedRegion": "eu-west-1"},
        False,
    ),
    ("ResolveFunction", "ecr:DescribeRepositories", arn("ecr", "repository/shop"), IN_REGION, True),
    ("ResolveFunction", "ecr:BatchDeleteImage", arn("ecr", "repository/shop"), IN_REGION, False),
    ("ResolveFunction", "ecs:DescribeClusters", cluster_arn("green"), IN_REGION, False),
    (
        "RegisterTaskDefinitionsFunction",
        "ecs:DescribeClusters",
        cluster_arn("green"),
        IN_REGION,
        True,
    ),
    (
        "RegisterTaskDefinitionsFunction",
        "ecs:DescribeClusters",
        cluster_arn("red"),
        IN_REGION,
        False,
    ),
    ("ResolveFunction", "dynamodb:PutItem", TABLE, {}, True),
    ("ResolveFunction", "dynamodb:Query", TABLE, {}, True),
    ("ResolveFunction", "dynamodb:UpdateItem", TABLE, {}, False),
    ("ResolveFunction", "dynamodb:DeleteItem", TABLE, {}, False),
    ("ResolveFunction", "ecs:UpdateService", service("blue"), IN_REGION, False),
    ("ResolveFunction", "states:DescribeExecution", OWN_EXECUTION, {}, True),
    ("ResolveFunction", "states:DescribeExecution", OTHER_EXECUTION, {}, False),
    ("ResolveFunction", "states:StartExecution", STATE_MACHINE, {}, False),
    # lock
    ("LockFunction", "dynamodb:UpdateItem", TABLE, {}, True),
    ("LockFunction", "dynamodb:Scan", TABLE, {}, False),
    (
        "LockFunction",
        "states:DescribeExecution",
        arn("states", f"execution:{STACK_NAME}-deploy:shop-1a2b"),
        {},
        True,
    ),
    (
        "LockFunction",
        "states:DescribeExecution",
        arn("states", "execution:other:shop-1a2b"),
        {},
        False,
    ),
    (
        "LockFunction",
        "states:StopExecution",
        arn("states", f"execution:{STACK_NAME}-deploy:shop-1a2b"),
        {},
        False,
    ),
    # register_task_definitions
    ("RegisterTaskDefinitionsFunction", "ecs:DescribeServices", service("blue"), IN_REGION, True),
    ("RegisterTaskDefinitionsFunction", "ecs:DescribeServices", service("red"), IN_REGION, False),
    # A service created before 2021 (service/NAME): planning describes it to refuse it, in
    # an allowed cluster only.
    (
        "RegisterTaskDefinitionsFunction",
        "ecs:DescribeServices",
        arn("ecs", "service/web"),
        {**IN_REGION, "ecs:cluster": cluster_arn("blue")},
        True,
    ),
    (
        "RegisterTaskDefinitionsFunction",
        "ecs:DescribeServices",
        arn("ecs", "service/web"),
        {**IN_REGION, "ecs:cluster": cluster_arn("red")},
        False,
    ),
    (
        "RegisterTaskDefinitionsFunction",
        "ecs:UpdateService",
        arn("ecs", "service/web"),
        {**IN_REGION, "ecs:cluster": cluster_arn("blue")},
        False,
    ),
    ("RegisterTaskDefinitionsFunction", "ecs:DescribeTaskDefinition", "*", {}, True),
    ("RegisterTaskDefinitionsFunction", "ecs:RegisterTaskDefinition", TASK_DEFINITION, {}, True),
    ("RegisterTaskDefinitionsFunction", "ecs:RegisterTaskDefinition", OTHER_FAMILY, {}, False),
    (
        "RegisterTaskDefinitionsFunction",
        "ecs:RegisterTaskDefinition",
        arn("ecs", "task-definition/api-worker"),
        {},
        True,
    ),
    (
        "RegisterTaskDefinitionsFunction",
        "ecs:TagResource",
        OTHER_FAMILY,
        {"ecs:CreateAction": "RegisterTaskDefinition"},
        False,
    ),
    (
        "RegisterTaskDefinitionsFunction",
        "iam:PassRole",
        f"arn:aws:iam::{ACCOUNT_ID}:role/admin",
        {"iam:PassedToService": "ecs-tasks.amazonaws.com"},
        False,
    ),
    (
        "RegisterTaskDefinitionsFunction",
        "ecs:TagResource",
        TASK_DEFINITION,
        {"ecs:CreateAction": "RegisterTaskDefinition"},
        True,
    ),
    ("RegisterTaskDefinitionsFunction", "ecs:TagResource", TASK_DEFINITION, {}, False),
    (
        "RegisterTaskDefinitionsFunction",
        "iam:PassRole",
        TASK_ROLE,
        {"iam:PassedToService": "ecs-tasks.amazonaws.com"},
        True,
    ),
    (
        "RegisterTaskDefinitionsFunction",
        "iam:PassRole",
        TASK_ROLE,
        {"iam:PassedToService": "lambda.amazonaws.com"},
        False,
    ),
    (
        "RunTasksFunction",
        "iam:PassRole",
        TASK_ROLE,
        {"iam:PassedToService": "ecs-tasks.amazonaws.com"},
        True,
    ),
    # UpdateService onto a task definition passes its roles (public reports of AccessDenied).
    (
        "UpdateServicesFunction",
        "iam:PassRole",
        TASK_ROLE,
        {"iam:PassedToService": "ecs-tasks.amazonaws.com"},
        True,
    ),
    (
        "UpdateServicesFunction",
        "iam:PassRole",
        f"arn:aws:iam::{ACCOUNT_ID}:role/admin",
        {"iam:PassedToService": "ecs-tasks.amazonaws.com"},
        False,
    ),
    ("RegisterTaskDefinitionsFunction", "ecs:ListTaskDefinitions", "*", {}, False),
    ("RegisterTaskDefinitionsFunction", "dynamodb:UpdateItem", TABLE, {}, True),
    # Every step after Resolve loads and saves the deployment document.
    ("RegisterTaskDefinitionsFunction", "dynamodb:GetItem", TABLE, {}, True),
    ("RegisterTaskDefinitionsFunction", "dynamodb:PutItem", TABLE, {}, True),
    ("RegisterTaskDefinitionsFunction", "dynamodb:DeleteItem", TABLE, {}, False),
    ("RunTasksFunction", "dynamodb:GetItem", TABLE, {}, True),
    ("RunTasksFunction", "dynamodb:PutItem", TABLE, {}, True),
    ("RunTasksFunction", "dynamodb:UpdateItem", TABLE, {}, False),
    ("CheckServicesFunction", "dynamodb:GetItem", TABLE, {}, True),
    ("CheckServicesFunction", "dynamodb:PutItem", TABLE, {}, True),
    ("CheckServicesFunction", "dynamodb:Query", TABLE, {}, False),
    ("UpdateServicesFunction", "dynamodb:PutItem", TABLE, {}, True),
    ("RegisterTaskDefinitionsFunction", "ecs:UpdateService", service("blue"), IN_REGION, False),
    # Resolve and Finalize publish lifecycle events on the stack's bus, and only there.
    ("ResolveFunction", "events:PutEvents", arn("events", "event-bus/default"), {}, True),
    ("FinalizeFunction", "events:PutEvents", arn("events", "event-bus/default"), {}, True),
    ("FinalizeFunction", "events:PutEvents", arn("events", "event-bus/other"), {}, False),
    ("CloseExecutionFunction", "events:PutEvents", arn("events", "event-bus/default"), {}, True),
    # check_services: a PAUSE hook's "Waiting For Approval", on the stack's bus only
    ("CheckServicesFunction", "events:PutEvents", arn("events", "event-bus/default"), {}, True),
    ("CheckServicesFunction", "events:PutEvents", arn("events", "event-bus/other"), {}, False),
    # check_tasks: a failed task's last log lines, in the allowed log groups only
    (
        "CheckTasksFunction",
        "logs:GetLogEvents",
        arn("logs", "log-group:/ecs/shop:log-stream:app/app/0f1e2d3c"),
        IN_REGION,
        True,
    ),
    (
        "CheckTasksFunction",
        "logs:GetLogEvents",
        arn("logs", "log-group:/aws/lambda/billing:log-stream:2026/11/27/x"),
        IN_REGION,
        False,
    ),
    ("CheckTasksFunction", "ecs:DescribeTaskDefinition", "*", {}, True),
    # run_tasks
    (
        "RunTasksFunction",
        "ecs:RunTask",
        TASK_DEFINITION,
        {"ecs:cluster": cluster_arn("blue")},
        True,
    ),
    (
        "RunTasksFunction",
        "ecs:RunTask",
        TASK_DEFINITION,
        {"ecs:cluster": cluster_arn("red")},
        False,
    ),
    ("RunTasksFunction", "ecs:RunTask", TASK_DEFINITION, {}, False),
    (
        "RunTasksFunction",
        "ecs:RunTask",
        OTHER_FAMILY,
        {"ecs:cluster": cluster_arn("blue")},
        False,
    ),
    (
        "RunTasksFunction",
        "ecs:ListTasks",
        "*",
        {"ecs:cluster": cluster_arn("green")} | IN_REGION,
        False,
    ),
    (
        "RunTasksFunction",
        "ecs:ListTasks",
        "*",
        {"ecs:cluster": cluster_arn("red")} | IN_REGION,
        False,
    ),
    (
        "RunTasksFunction",
        "ecs:TagResource",
        task("blue"),
        {"ecs:CreateAction": "RunTask"} | IN_REGION,
        False,
    ),
    ("RunTasksFunction", "ecs:TagResource", task("blue"), IN_REGION, False),
    (
        "RunTasksFunction",
        "ecs:TagResource",
        task("red"),
        {"ecs:CreateAction": "RunTask"} | IN_REGION,
        False,
    ),
    ("RunTasksFunction", "ecs:StopTask", task("blue"), IN_REGION, False),
    # check_tasks
    ("CheckTasksFunction", "ecs:DescribeTasks", task("green"), IN_REGION, True),
    ("CheckTasksFunction", "ecs:StopTask", task("blue"), IN_REGION, True),
    ("CheckTasksFunction", "ecs:StopTask", task("red"), IN_REGION, False),
    (
        "CheckTasksFunction",
        "ecs:StopTask",
        task("blue", "eu-west-1"),
        {"aws:RequestedRegion": "eu-west-1"},
        False,
    ),
    (
        "CheckTasksFunction",
        "ecs:RunTask",
        TASK_DEFINITION,
        {"ecs:cluster": cluster_arn("blue")},
        False,
    ),
    ("CheckTasksFunction", "dynamodb:UpdateItem", TABLE, {}, False),
    ("CheckTasksFunction", "dynamodb:GetItem", TABLE, {}, True),
    # update_services
    ("UpdateServicesFunction", "ecs:UpdateService", service("blue"), IN_REGION, True),
    ("UpdateServicesFunction", "ecs:UpdateService", service("green"), IN_REGION, True),
    ("UpdateServicesFunction", "ecs:UpdateService", service("red"), IN_REGION, False),
    ("UpdateServicesFunction", "ecs:UpdateService", service("blue"), {}, False),
    ("UpdateServicesFunction", "ecs:DeleteService", service("blue"), IN_REGION, False),
    ("UpdateServicesFunction", "dynamodb:UpdateItem", TABLE, {}, True),
    # check_services
    ("CheckServicesFunction", "ecs:DescribeServices", service("green"), IN_REGION, True),
    ("CheckServicesFunction", "ecs:DescribeServices", service("red"), IN_REGION, False),
    ("CheckServicesFunction", "ecs:UpdateService", service("blue"), IN_REGION, False),
    # finalize
    ("FinalizeFunction", "dynamodb:PutItem", TABLE, {}, True),
    ("FinalizeFunction", "dynamodb:DeleteItem", TABLE, {}, False),
    ("FinalizeFunction", "ecs:DeregisterTaskDefinition", "*", {}, True),
    (
        "FinalizeFunction",
        "ecs:ListServices",
        "*",
        {"ecs:cluster": cluster_arn("blue")} | IN_REGION,
        True,
    ),
    (
        "FinalizeFunction",
        "ecs:ListServices",
        "*",
        {"ecs:cluster": cluster_arn("red")} | IN_REGION,
        False,
    ),
    ("FinalizeFunction", "ecs:DescribeServices", service("blue"), IN_REGION, True),
    ("FinalizeFunction", "ecs:UpdateService", service("blue"), IN_REGION, False),
    ("FinalizeFunction", "ecs:RegisterTaskDefinition", TASK_DEFINITION, {}, False),
    ("FinalizeFunction", "ecs:DescribeTaskDefinition", "*", {}, True),
    # close_execution: reads its own state machine's executions, closes records, releases
    # locks, reads configs and what services run; changes nothing in ECS.
    # The document is read from the table: the history itself is not read.
    ("CloseExecutionFunction", "states:GetExecutionHistory", OWN_EXECUTION, {}, False),
    ("CloseExecutionFunction", "states:DescribeExecution", OWN_EXECUTION, {}, True),
    ("CloseExecutionFunction", "states:GetExecutionHistory", OTHER_EXECUTION, {}, False),
    ("CloseExecutionFunction", "states:StopExecution", OWN_EXECUTION, {}, False),
    ("CloseExecutionFunction", "states:StartExecution", STATE_MACHINE, {}, False),
    ("CloseExecutionFunction", "dynamodb:UpdateItem", TABLE, {}, True),
    ("CloseExecutionFunction", "dynamodb:PutItem", TABLE, {}, True),
    ("CloseExecutionFunction", "dynamodb:Query", TABLE, {}, True),
    ("CloseExecutionFunction", "dynamodb:DeleteItem", TABLE, {}, False),
    ("CloseExecutionFunction", "dynamodb:Scan", TABLE, {}, False),
    (
        "CloseExecutionFunction",
        "ssm:GetParametersByPath",
        arn("ssm", "parameter/ecs-deployer/apps"),
        {},
        True,
    ),
    (
        "CloseExecutionFunction",
        "ssm:PutParameter",
        arn("ssm", "parameter/ecs-deployer/apps/shop"),
        {},
        False,
    ),
    ("CloseExecutionFunction", "ecs:DescribeServices", service("blue"), IN_REGION, True),
    ("CloseExecutionFunction", "ecs:DescribeServices", service("red"), IN_REGION, False),
    ("CloseExecutionFunction", "ecs:UpdateService", service("blue"), IN_REGION, False),
    ("CloseExecutionFunction", "ecs:StopTask", task("blue"), IN_REGION, False),
    # Services CodeDeploy deploys: only through the named deployment groups.
    ("UpdateServicesFunction", "codedeploy:CreateDeployment", group("shop/web"), IN_REGION, True),
    ("UpdateServicesFunction", "codedeploy:CreateDeployment", group("shop/db"), IN_REGION, False),
    ("UpdateServicesFunction", "codedeploy:CreateDeployment", group("other/web"), IN_REGION, False),
    (
        "UpdateServicesFunction",
        "codedeploy:BatchGetDeployments",
        group("shop/api"),
        IN_REGION,
        True,
    ),
    (
        "UpdateServicesFunction",
        "codedeploy:GetDeploymentConfig",
        arn("codedeploy", "deploymentconfig:CodeDeployDefault.ECSAllAtOnce"),
        IN_REGION,
        True,
    ),
    (
        "UpdateServicesFunction",
        "codedeploy:GetDeploymentConfig",
        arn("codedeploy", "deploymentconfig:CodeDeployDefault.OneAtATime"),
        IN_REGION,
        False,
    ),
    (
        "UpdateServicesFunction",
        "codedeploy:RegisterApplicationRevision",
        arn("codedeploy", "application:shop"),
        IN_REGION,
        True,
    ),
    ("UpdateServicesFunction", "codedeploy:StopDeployment", "*", IN_REGION, True),
    ("UpdateServicesFunction", "codedeploy:ListDeployments", group("shop/web"), IN_REGION, True),
    ("UpdateServicesFunction", "codedeploy:ListDeployments", group("shop/db"), IN_REGION, False),
    (
        "UpdateServicesFunction",
        "codedeploy:DeleteDeploymentGroup",
        group("shop/web"),
        IN_REGION,
        False,
    ),
    ("CheckServicesFunction", "codedeploy:BatchGetDeployments", group("shop/web"), IN_REGION, True),
    ("CheckServicesFunction", "codedeploy:CreateDeployment", group("shop/web"), IN_REGION, False),
    ("CheckServicesFunction", "codedeploy:BatchGetDeploymentTargets", "*", IN_REGION, True),
    ("CheckServicesFunction", "codedeploy:StopDeployment", "*", IN_REGION, False),
    ("RunTasksFunction", "codedeploy:CreateDeployment", group("shop/web"), IN_REGION, False),
]


@pytest.mark.parametrize(
    ("function", "action", "resource", "context", "allowed"),
    CASES,
    ids=[
        f"{case[0]}-{case[1]}-{'allow' if case[4] else 'deny'}-{i}" for i, case in enumerate(CASES)
    ],
)
def test_function_permissions(
    statements: list[Statement],
    function: str,
    action: str,
    resource: str,
    context: dict[str, str],
    allowed: bool,
) -> None:
    assert is_allowed(statements, role_of(function), action, resource, context) is allowed


@pytest.mark.parametrize(
    ("action", "resource", "allowed"),
    [
        # Dispatch starts child executions of this very state machine, and no other.
        ("states:StartExecution", STATE_MACHINE, True),
        ("states:StartExecution", arn("states", "stateMachine:other"), False),
        ("lambda:InvokeFunction", "<ResolveFunction.Arn>", True),
        ("lambda:InvokeFunction", "<FinalizeFunction.Arn>", True),
        # Not the function that closes executions: an event invokes it, never the machine.
        ("lambda:InvokeFunction", "<CloseExecutionFunction.Arn>", False),
        ("lambda:InvokeFunction", arn("lambda", "function:someone-else"), False),
        ("xray:PutTraceSegments", "*", True),
        ("ecs:UpdateService", service("blue"), False),
        ("logs:CreateLogDelivery", "*", True),
    ],
)
def test_state_machine_permissions(
    statements: list[Statement], action: str, resource: str, allowed: bool
) -> None:
    assert is_allowed(statements, "DeployStateMachineRole", action, resource) is allowed


def test_state_machine_invokes_each_step(statements: list[Statement]) -> None:
    for function in STEP_FUNCTION_DIRS:
        function_arn = f"<{function}.Arn>"
        assert is_allowed(
            statements, "DeployStateMachineRole", "lambda:InvokeFunction", function_arn
        )


def test_ecr_rule_may_only_start_the_state_machine(statements: list[Statement]) -> None:
    rule_statements = [s for s in statements if s.role == "DeployStateMachineEcrPushRole"]

    assert [(s.actions, s.resources) for s in rule_statements] == [
        (("states:StartExecution",), ("<Ref DeployStateMachine>",))
    ]


def trust_of(resolved: dict[str, Any], role: str) -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = resolved["Resources"][role]["Properties"][
        "AssumeRolePolicyDocument"
    ]["Statement"]
    return statements


def test_only_this_stacks_state_machine_may_assume_its_role(resolved: dict[str, Any]) -> None:
    (statement,) = trust_of(resolved, "DeployStateMachineRole")

    assert statement["Principal"] == {"Service": "states.amazonaws.com"}
    assert statement["Condition"] == {
        "StringEquals": {"aws:SourceAccount": ACCOUNT_ID},
        "ArnEquals": {"aws:SourceArn": STATE_MACHINE},
    }


def test_only_the_push_rule_may_assume_its_role(resolved: dict[str, Any]) -> None:
    (statement,) = trust_of(resolved, "DeployStateMachineEcrPushRole")
    rule = resolved["Resources"]["DeployStateMachineEcrPush"]["Properties"]

    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Condition"] == {
        "StringEquals": {"aws:SourceAccount": ACCOUNT_ID},
        "ArnEquals": {"aws:SourceArn": arn("events", f"rule/{rule['Name']}")},
    }
    assert [target["RoleArn"] for target in rule["Targets"]] == [
        "<DeployStateMachineEcrPushRole.Arn>"
    ]


@pytest.mark.parametrize("function", sorted(FUNCTION_DIRS))
def test_each_function_has_a_role_of_its_own_lambda_assumes(
    resolved: dict[str, Any], function: str
) -> None:
    # Lambda documents no source conditions for an execution role's trust (template.yaml).
    assert trust_of(resolved, role_of(function)) == [
        {
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ]
    roles = {resolved["Resources"][other]["Properties"]["Role"] for other in FUNCTION_DIRS}
    assert len(roles) == len(FUNCTION_DIRS)
    assert resolved["Resources"][function]["Properties"]["Role"] == f"<{role_of(function)}.Arn>"


# (policy, action, resource, request context, allowed): the operator policies reach this
# stack's own resources only.
OPERATOR_CASES: list[tuple[str, str, str, dict[str, str], bool]] = [
    ("ReadOnlyPolicy", "cloudformation:DescribeStacks", STACK_ID, {}, True),
    (
        "ReadOnlyPolicy",
        "cloudformation:DescribeStacks",
        arn("cloudformation", "stack/other/0f1e2d3c"),
        {},
        False,
    ),
    (
        "ReadOnlyPolicy",
        "ssm:GetParameter",
        arn("ssm", "parameter/ecs-deployer/apps/shop"),
        {},
        True,
    ),
    ("ReadOnlyPolicy", "ssm:GetParameter", arn("ssm", "parameter/other/shop"), {}, False),
    (
        "ReadOnlyPolicy",
        "ssm:PutParameter",
        arn("ssm", "parameter/ecs-deployer/apps/shop"),
        {},
        False,
    ),
    ("ReadOnlyPolicy", "dynamodb:Scan", TABLE, {}, True),
    ("ReadOnlyPolicy", "dynamodb:PutItem", TABLE, {}, False),
    ("ReadOnlyPolicy", "ecs:DescribeServices", service("blue"), IN_REGION, True),
    ("ReadOnlyPolicy", "ecs:DescribeServices", service("red"), IN_REGION, False),
    ("ReadOnlyPolicy", "ecr:DescribeImages", arn("ecr", "repository/billing"), IN_REGION, False),
    ("ReadOnlyPolicy", "states:StartExecution", STATE_MACHINE, {}, False),
    (
        "OperatorPolicy",
        "ssm:PutParameter",
        arn("ssm", "parameter/ecs-deployer/apps/shop"),
        {},
        True,
    ),
    ("OperatorPolicy", "ssm:PutParameter", arn("ssm", "parameter/ecs-deployer/other"), {}, False),
    (
        "OperatorPolicy",
        "ssm:DeleteParameter",
        arn("ssm", "parameter/ecs-deployer/apps/shop"),
        {},
        False,
    ),
    ("OperatorPolicy", "states:StartExecution", STATE_MACHINE, {}, True),
    ("OperatorPolicy", "states:StartExecution", arn("states", "stateMachine:other"), {}, False),
    ("OperatorPolicy", "states:GetExecutionHistory", OWN_EXECUTION, {}, True),
    ("OperatorPolicy", "states:GetExecutionHistory", OTHER_EXECUTION, {}, False),
    ("OperatorPolicy", "states:StopExecution", OWN_EXECUTION, {}, False),
    ("OperatorPolicy", "dynamodb:GetItem", TABLE, {}, True),
    ("OperatorPolicy", "dynamodb:UpdateItem", TABLE, {}, False),
    ("OperatorPolicy", "ecs:DescribeClusters", cluster_arn("green"), IN_REGION, True),
    ("OperatorPolicy", "ecs:DescribeClusters", cluster_arn("red"), IN_REGION, False),
    ("OperatorPolicy", "ecs:UpdateService", service("blue"), IN_REGION, False),
    ("OperatorPolicy", "iam:PassRole", TASK_ROLE, {}, False),
    # Deploying and approving are apart: an operator cannot answer an approval.
    ("OperatorPolicy", "states:SendTaskSuccess", "*", IN_REGION, False),
    ("ApproverPolicy", "states:SendTaskSuccess", "*", IN_REGION, True),
    ("ApproverPolicy", "states:SendTaskFailure", "*", IN_REGION, True),
    ("ApproverPolicy", "states:SendTaskSuccess", "*", {"aws:RequestedRegion": "eu-west-3"}, False),
    ("ApproverPolicy", "dynamodb:UpdateItem", TABLE, {}, True),
    ("ApproverPolicy", "dynamodb:PutItem", TABLE, {}, False),
    # A PAUSE hook's answer is recorded; CheckServices sends it, in the app's account.
    (
        "ApproverPolicy",
        "ecs:ContinueServiceDeployment",
        arn("ecs", "service-deployment/blue/web/abc"),
        IN_REGION,
        False,
    ),
    (
        "OperatorPolicy",
        "ecs:ContinueServiceDeployment",
        arn("ecs", "service-deployment/blue/web/abc"),
        IN_REGION,
        False,
    ),
    ("ApproverPolicy", "states:StartExecution", STATE_MACHINE, {}, False),
    (
        "ApproverPolicy",
        "ssm:PutParameter",
        arn("ssm", "parameter/ecs-deployer/apps/shop"),
        {},
        False,
    ),
]


@pytest.mark.parametrize(
    ("policy", "action", "resource", "context", "allowed"),
    OPERATOR_CASES,
    ids=[
        f"{case[0]}-{case[1]}-{'allow' if case[4] else 'deny'}-{i}"
        for i, case in enumerate(OPERATOR_CASES)
    ],
)
def test_operator_policies_reach_only_the_stacks_resources(
    statements: list[Statement],
    policy: str,
    action: str,
    resource: str,
    context: dict[str, str],
    allowed: bool,
) -> None:
    assert is_allowed(statements, policy, action, resource, context) is allowed


def test_operator_policies_are_outputs(resolved: dict[str, Any]) -> None:
    outputs = {name: output["Value"] for name, output in resolved["Outputs"].items()}

    assert outputs["ReadOnlyPolicyArn"] == "<Ref ReadOnlyPolicy>"
    assert outputs["OperatorPolicyArn"] == "<Ref OperatorPolicy>"
    assert outputs["ApproverPolicyArn"] == "<Ref ApproverPolicy>"
    for policy in ("ReadOnlyPolicy", "OperatorPolicy", "ApproverPolicy"):
        # Attached by the account's administrators to people, never by the stack.
        assert "Roles" not in resolved["Resources"][policy]["Properties"]


SUMMARY_TOPIC = arn("sns", "deployments")


@pytest.mark.parametrize("topic", ["", SUMMARY_TOPIC])
def test_only_the_functions_that_end_deployments_or_ask_approvals_may_publish_summaries(
    transformed: dict[str, Any], topic: str
) -> None:
    resolver = Resolver(transformed, PARAMETERS | {"SummaryTopicArn": topic})
    statements = role_statements(resolver.resolve(transformed))
    publishers = {
        statement.role
        for statement in statements
        if any(action.lower().startswith("sns:") for action in statement.actions)
    }

    enders = {
        "FinalizeFunctionRole",
        "CloseExecutionFunctionRole",
        "RegisterWaiterFunctionRole",  # the approval gate's Waiting For Approval
        "CheckServicesFunctionRole",  # a PAUSE hook's
    }
    assert publishers == (enders if topic else set())
    for role in publishers:
        assert is_allowed(statements, role, "sns:Publish", SUMMARY_TOPIC)
        assert not is_allowed(statements, role, "sns:Publish", arn("sns", "other"))


TARGET_ROLES = (
    "arn:aws:iam::111111111111:role/ecs-deployer-target,"
    "arn:aws:iam::222222222222:role/ecs-deployer-target"
)


@pytest.mark.parametrize("roles", ["", TARGET_ROLES])
def test_only_the_functions_that_act_in_ecs_may_assume_exactly_the_listed_deploy_roles(
    transformed: dict[str, Any], roles: str
) -> None:
    resolver = Resolver(transformed, PARAMETERS | {"TargetAccountRoleArns": roles})
    statements = role_statements(resolver.resolve(transformed))
    assumers = {
        statement.role
        for statement in statements
        if any(action.lower().startswith("sts:") for action in statement.actions)
    }

    in_ecs = {
        "RegisterTaskDefinitionsFunctionRole",
        "RunTasksFunctionRole",
        "CheckTasksFunctionRole",
        "UpdateServicesFunctionRole",
        "CheckServicesFunctionRole",
        "FinalizeFunctionRole",
        "CloseExecutionFunctionRole",
    }
    assert assumers == (in_ecs if roles else set())
    for role in assumers:
        for listed in roles.split(","):
            assert is_allowed(statements, role, "sts:AssumeRole", listed)
        other = "arn:aws:iam::333333333333:role/ecs-deployer-target"
        assert not is_allowed(statements, role, "sts:AssumeRole", other)
