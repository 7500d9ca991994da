"""What AWS evaluates for a call: actions and ARN formats from the Service Authorization
Reference, the extra authorizations (iam:PassRole, ecs:TagResource), resources named as AWS
names them."""

from __future__ import annotations

from typing import Any

import pytest

from ecs_deployer_tools.localcloud.iam import reference
from ecs_deployer_tools.localcloud.iam.policy import AuthorizationRequest
from ecs_deployer_tools.localcloud.iam.requests import Call, TaskRoles, requests

ACCOUNT = "123456789012"
TASK_ROLE = f"arn:aws:iam::{ACCOUNT}:role/shop-task"
EXECUTION_ROLE = f"arn:aws:iam::{ACCOUNT}:role/shop-execution"
WEB_7 = f"arn:aws:ecs:us-east-1:{ACCOUNT}:task-definition/shop-web:7"
CLUSTER = f"arn:aws:ecs:us-east-1:{ACCOUNT}:cluster/blue"
PASSED = {"aws:RequestedRegion": "us-east-1", "iam:PassedToService": "ecs-tasks.amazonaws.com"}


class FakeEcs:
    """shop-web:7 (both roles) exists; service blue/legacy has a short ARN."""

    def task_definition_arn(self, reference_: str) -> str | None:
        return WEB_7 if reference_.rsplit("/", 1)[-1] in ("shop-web", "shop-web:7") else None

    def task_definition_roles(self, reference_: str) -> TaskRoles:
        if self.task_definition_arn(reference_) is None:
            return TaskRoles()
        return TaskRoles(TASK_ROLE, EXECUTION_ROLE)

    def next_revision(self, family: str) -> int:
        return 8 if family == "shop-web" else 1

    def service_arn(self, cluster: str, service: str) -> str | None:
        if (cluster, service) == ("blue", "legacy"):
            return f"arn:aws:ecs:us-east-1:{ACCOUNT}:service/legacy"
        return None


class FakeCodeDeploy:
    """Deployment d-1 is of group shop/shop-web, which deploys all at once."""

    def deployment_group(self, deployment_id: str) -> tuple[str, str] | None:
        return ("shop", "shop-web") if deployment_id == "d-1" else None

    def deployment_config(self, application: str, deployment_group: str) -> str | None:
        known = (application, deployment_group) == ("shop", "shop-web")
        return "CodeDeployDefault.ECSAllAtOnce" if known else None


def requested(prefix: str, operation: str, /, **params: Any) -> list[AuthorizationRequest]:
    call = Call(prefix, operation, params, "aws", "us-east-1", ACCOUNT, FakeEcs(), FakeCodeDeploy())
    return requests(call)


def in_region(**context: Any) -> dict[str, Any]:
    return {"aws:RequestedRegion": "us-east-1", **context}


def test_register_with_tags_needs_tag_resource_and_passes_both_roles() -> None:
    created = f"arn:aws:ecs:us-east-1:{ACCOUNT}:task-definition/shop-web:8"
    tags = {"aws:RequestTag/ecs-deployer": "1", "aws:TagKeys": ("ecs-deployer",)}

    assert requested(
        "ecs",
        "RegisterTaskDefinition",
        family="shop-web",
        taskRoleArn=TASK_ROLE,
        executionRoleArn=EXECUTION_ROLE,
        tags=[{"key": "ecs-deployer", "value": "1"}],
    ) == [
        AuthorizationRequest("ecs:RegisterTaskDefinition", created, in_region(**tags)),
        AuthorizationRequest(
            "ecs:TagResource",
            created,
            in_region(**tags, **{"ecs:CreateAction": "RegisterTaskDefinition"}),
        ),
        AuthorizationRequest("iam:PassRole", TASK_ROLE, PASSED),
        AuthorizationRequest("iam:PassRole", EXECUTION_ROLE, PASSED),
    ]


def test_register_without_tags_or_roles_is_register_alone() -> None:
    [only] = requested("ecs", "RegisterTaskDefinition", family="other")

    assert only.action == "ecs:RegisterTaskDefinition"
    assert only.resource.endswith(":task-definition/other:1")


def test_update_service_onto_a_task_definition_passes_its_roles() -> None:
    service = f"arn:aws:ecs:us-east-1:{ACCOUNT}:service/blue/web"

    assert requested(
        "ecs", "UpdateService", cluster="blue", service="web", taskDefinition="shop-web:7"
    ) == [
        AuthorizationRequest(
            "ecs:UpdateService",
            service,
            in_region(**{"ecs:cluster": CLUSTER, "ecs:task-definition": WEB_7}),
        ),
        AuthorizationRequest("iam:PassRole", TASK_ROLE, PASSED),
        AuthorizationRequest("iam:PassRole", EXECUTION_ROLE, PASSED),
    ]
    # A forced redeployment without a task definition passes nothing.
    assert [r.action for r in requested("ecs", "UpdateService", cluster="blue", service="web")] == [
        "ecs:UpdateService"
    ]


def test_a_service_keeps_the_short_arn_ecs_gave_it() -> None:
    [legacy, web] = requested("ecs", "DescribeServices", cluster="blue", services=["legacy", "web"])

    assert legacy.resource == f"arn:aws:ecs:us-east-1:{ACCOUNT}:service/legacy"
    assert web.resource == f"arn:aws:ecs:us-east-1:{ACCOUNT}:service/blue/web"
    assert legacy.context["ecs:cluster"] == CLUSTER


def test_run_task_is_on_the_revision_in_the_cluster_and_passes_its_roles() -> None:
    override = f"arn:aws:iam::{ACCOUNT}:role/shop-migrate"

    assert requested(
        "ecs",
        "RunTask",
        cluster="blue",
        taskDefinition="shop-web",
        overrides={"taskRoleArn": override},
    ) == [
        AuthorizationRequest("ecs:RunTask", WEB_7, in_region(**{"ecs:cluster": CLUSTER})),
        AuthorizationRequest("iam:PassRole", override, PASSED),
        AuthorizationRequest("iam:PassRole", EXECUTION_ROLE, PASSED),
    ]


def test_resources_of_the_other_services() -> None:
    def resources(service: str, operation: str, **params: Any) -> list[str]:
        return [r.resource for r in requested(service, operation, **params)]

    arn = f"us-east-1:{ACCOUNT}"
    assert resources("ssm", "GetParameter", Name="/apps/shop") == [
        f"arn:aws:ssm:{arn}:parameter/apps/shop"
    ]
    assert resources("ssm", "GetParametersByPath", Path="/apps") == [
        f"arn:aws:ssm:{arn}:parameter/apps"
    ]
    # GetParameters: each named parameter is authorized on its own.
    assert resources("ssm", "GetParameters", Names=["/apps/shop", "/apps/billing"]) == [
        f"arn:aws:ssm:{arn}:parameter/apps/shop",
        f"arn:aws:ssm:{arn}:parameter/apps/billing",
    ]
    assert resources("dynamodb", "Query", TableName="t") == [f"arn:aws:dynamodb:{arn}:table/t"]
    assert resources("ecr", "DescribeImages", repositoryName="team/api") == [
        f"arn:aws:ecr:{arn}:repository/team/api"
    ]
    assert resources("events", "PutEvents", Entries=[{"Source": "s", "DetailType": "d"}]) == [
        f"arn:aws:events:{arn}:event-bus/default"
    ]
    assert resources("logs", "GetLogEvents", logGroupName="/ecs/shop", logStreamName="a/b/c") == [
        f"arn:aws:logs:{arn}:log-group:/ecs/shop:log-stream:a/b/c"
    ]
    topic = f"arn:aws:sns:{arn}:deployments"
    assert resources("sns", "Publish", TopicArn=topic, Message="m") == [topic]
    assert resources("ecs", "StopTask", cluster="blue", task="0f1e") == [
        f"arn:aws:ecs:{arn}:task/blue/0f1e"
    ]
    [listing] = requested("ecs", "ListServices", cluster="blue")
    assert (listing.resource, listing.context["ecs:cluster"]) == ("*", CLUSTER)


def test_an_action_without_resource_type_or_own_condition_key_is_on_star() -> None:
    [describe] = requested("ecs", "DescribeTaskDefinition", taskDefinition="shop-web")

    assert (describe.action, describe.resource) == ("ecs:DescribeTaskDefinition", "*")


def test_an_unmodelled_operation_is_refused_loudly() -> None:
    with pytest.raises(NotImplementedError, match="ecs:CreateService"):
        requested("ecs", "CreateService", serviceName="web")


def test_actions_and_arn_formats_come_from_the_reference() -> None:
    with pytest.raises(LookupError):
        reference.action("ecs", "DeployEverything")
    run_task = reference.action("ecs", "RunTask")
    assert run_task.resource_types == ("task-definition",)
    assert "ecs:cluster" in run_task.condition_keys
    with pytest.raises(LookupError, match="no resource type service"):
        reference.arn(run_task, "service", partition="aws", region="r", account="a")
    with pytest.raises(ValueError, match="needs"):
        reference.arn(run_task, "task-definition", partition="aws", region="r", account="a")


CODEDEPLOY = f"arn:aws:codedeploy:us-east-1:{ACCOUNT}"
WEB_GROUP = f"{CODEDEPLOY}:deploymentgroup:shop/shop-web"


def test_create_deployment_also_reads_its_config_and_registers_its_revision() -> None:
    revision = {"revisionType": "AppSpecContent", "appSpecContent": {"content": "{}"}}
    assert requested(
        "codedeploy",
        "CreateDeployment",
        applicationName="shop",
        deploymentGroupName="shop-web",
        revision=revision,
    ) == [
        AuthorizationRequest("codedeploy:CreateDeployment", WEB_GROUP, in_region()),
        AuthorizationRequest(
            "codedeploy:GetDeploymentConfig",
            f"{CODEDEPLOY}:deploymentconfig:CodeDeployDefault.ECSAllAtOnce",
            in_region(),
        ),
        AuthorizationRequest(
            "codedeploy:RegisterApplicationRevision", f"{CODEDEPLOY}:application:shop", in_region()
        ),
    ]


def test_deployments_are_read_on_their_deployment_groups() -> None:
    assert requested("codedeploy", "BatchGetDeployments", deploymentIds=["d-1", "d-1", "d-9"]) == [
        AuthorizationRequest("codedeploy:BatchGetDeployments", WEB_GROUP, in_region()),
        AuthorizationRequest(
            "codedeploy:BatchGetDeployments", f"{CODEDEPLOY}:deploymentgroup:*/*", in_region()
        ),
    ]


def test_a_groups_deployments_are_listed_on_the_group() -> None:
    assert requested(
        "codedeploy", "ListDeployments", applicationName="shop", deploymentGroupName="shop-web"
    ) == [AuthorizationRequest("codedeploy:ListDeployments", WEB_GROUP, in_region())]


@pytest.mark.parametrize(
    "operation", ["StopDeployment", "ListDeploymentTargets", "BatchGetDeploymentTargets"]
)
def test_calls_on_deployments_that_name_no_resource_are_on_everything(operation: str) -> None:
    assert requested("codedeploy", operation, deploymentId="d-1") == [
        AuthorizationRequest(f"codedeploy:{operation}", "*", in_region())
    ]
