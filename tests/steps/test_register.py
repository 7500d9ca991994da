from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

import boto3
import pytest

from ecs_deployer.aws.clients import ecs_client
from ecs_deployer.document import Deployment
from ecs_deployer.domain.register import plan_deployment
from ecs_deployer.errors import ConfigError, ResourceNotFound
from ecs_deployer.steps.register import register_task_definitions
from ecs_deployer.steps.resolve import resolve
from ecs_deployer.structs import encode
from ecs_deployer_tools.demo import sample_app
from ecs_deployer_tools.operator.configs import push_config
from tests.aws_fixtures import PREFIX, STARTED, accepted, context

if TYPE_CHECKING:
    from collections.abc import Callable

    from mypy_boto3_ecs.literals import DeploymentControllerTypeType

    from ecs_deployer.aws.dynamodb import DeploymentsTable
    from ecs_deployer.aws.ecs import EcsGateway
    from ecs_deployer.domain.admission import AdmissionDeps
    from ecs_deployer_tools.localcloud.ecs_sim import EcsSimulation


def _again(deps: AdmissionDeps) -> Deployment:
    """A second request for the image already pushed."""
    result = resolve({"app": "shop", "image_tag": "v2.0.0"}, context("again"), deps, STARTED)
    assert isinstance(result, Deployment), result
    return result


def _families() -> dict[str, int]:
    ecs = boto3.client("ecs")
    arns = ecs.list_task_definitions()["taskDefinitionArns"]
    counts: dict[str, int] = {}
    for arn in arns:
        family = arn.rsplit("/", 1)[-1].rsplit(":", 1)[0]
        counts[family] = counts.get(family, 0) + 1
    return counts


def _reconfigure(seeded: sample_app.SeededApp, **overrides: Any) -> None:
    config = sample_app.app_config(seeded.subnet, seeded.security_group, **overrides)
    push_config(boto3.client("ssm"), PREFIX, "shop", config)


def test_clones_every_family_with_the_new_image_only_in_named_containers(
    seeded: sample_app.SeededApp, deps: AdmissionDeps, ecs: EcsGateway, table: DeploymentsTable
) -> None:
    deployment = register_task_definitions(accepted(deps), ecs, table, deps.scope, STARTED)
    image = deployment.image.uri
    web, worker = deployment.services
    assert web.task_definition_before == seeded.task_definitions["shop-web"]
    assert web.task_definition_after
    assert web.task_definition_after.endswith("shop-web:2")
    assert web.images_after == {
        "app": image,
        "log-router": "public.ecr.aws/aws-observability/aws-for-fluent-bit:2.34.3",
    }
    assert worker.task_definition_after
    assert worker.task_definition_after.endswith("shop-worker:2")
    migrate, smoke = deployment.pre_tasks[0], deployment.post_tasks[0]
    assert migrate.task_definition
    assert migrate.task_definition.endswith("shop-migrate:2")
    assert migrate.watch_containers == ["app"]
    assert smoke.task_definition
    assert smoke.task_definition.endswith("shop-smoke-test:2")
    registered = boto3.client("ecs").describe_task_definition(
        taskDefinition=web.task_definition_after, include=["TAGS"]
    )
    containers = {c["name"]: c for c in registered["taskDefinition"]["containerDefinitions"]}
    assert containers["app"]["image"] == image
    assert containers["app"]["secrets"][0]["name"] == "DATABASE_URL"
    assert registered["taskDefinition"]["runtimePlatform"]["cpuArchitecture"] == "ARM64"
    # Its own tags kept, and the mark that lets housekeeping deregister it one day.
    assert registered["tags"] == [
        {"key": "app", "value": "shop"},
        {"key": "ecs-deployer:registered", "value": "true"},
    ]
    [record] = table.history("shop")
    assert [s.task_definition_after for s in record.services] == [
        web.task_definition_after,
        worker.task_definition_after,
    ]


def test_nothing_changed_registers_nothing(
    seeded: sample_app.SeededApp, deps: AdmissionDeps, ecs: EcsGateway, table: DeploymentsTable
) -> None:
    result = resolve({"app": "shop", "image_tag": sample_app.INITIAL_TAG}, context(), deps, STARTED)
    assert isinstance(result, Deployment)
    deployment = register_task_definitions(result, ecs, table, deps.scope, STARTED)
    assert all(not service.changed for service in deployment.services)
    assert _families() == {"shop-web": 1, "shop-worker": 1, "shop-migrate": 1, "shop-smoke-test": 1}


def test_a_retried_or_repeated_registration_reuses_the_latest_revision(
    seeded: sample_app.SeededApp, deps: AdmissionDeps, ecs: EcsGateway, table: DeploymentsTable
) -> None:
    first = register_task_definitions(accepted(deps), ecs, table, deps.scope, STARTED)
    again = register_task_definitions(_again(deps), ecs, table, deps.scope, STARTED)
    assert [s.task_definition_after for s in again.services] == [
        s.task_definition_after for s in first.services
    ]
    assert _families() == {"shop-web": 2, "shop-worker": 2, "shop-migrate": 2, "shop-smoke-test": 2}


def test_unknown_containers_services_and_families_are_all_named_before_anything_is_registered(
    seeded: sample_app.SeededApp, deps: AdmissionDeps, ecs: EcsGateway, table: DeploymentsTable
) -> None:
    _reconfigure(
        seeded,
        services=[
            {"name": "shop-web", "containers": ["app", "nginx"]},
            {"name": "shop-worker", "containers": ["app"]},
        ],
        tasks={
            "pre": [
                {"family": "shop-seed", "containers": ["app"]},
                {"family": "shop-migrate", "containers": ["app"], "watch_containers": ["db"]},
            ]
        },
    )
    with pytest.raises(ResourceNotFound) as caught:
        register_task_definitions(accepted(deps), ecs, table, deps.scope, STARTED)
    message = str(caught.value)
    assert (
        "service 'shop-web': container(s) nginx not in task definition family 'shop-web'" in message
    )
    assert "task definition 'shop-seed' not found" in message
    assert "task family 'shop-migrate': watched container(s) db not in it" in message
    assert _families() == {"shop-web": 1, "shop-worker": 1, "shop-migrate": 1, "shop-smoke-test": 1}


def test_missing_service_is_named(
    seeded: sample_app.SeededApp, deps: AdmissionDeps, ecs: EcsGateway, table: DeploymentsTable
) -> None:
    _reconfigure(
        seeded,
        services=[
            {"name": "shop-web", "containers": ["app"]},
            {"name": "shop-api", "containers": ["app"]},
        ],
    )
    with pytest.raises(
        ResourceNotFound, match="service 'shop-api' not found in cluster 'shop-demo'"
    ):
        register_task_definitions(accepted(deps), ecs, table, deps.scope, STARTED)
    assert _families()["shop-web"] == 1


# A group the stack lists (`scope_of`): only the service's controller is at fault.
_CODEDEPLOY = {
    "application": sample_app.CODEDEPLOY_APPLICATION,
    "deployment_group": sample_app.CODEDEPLOY_GROUP,
}


@pytest.mark.parametrize(
    ("controller", "codedeploy", "why"),
    [
        ("CODE_DEPLOY", None, "its config names the CodeDeploy application and deployment group"),
        ("CODE_DEPLOY", _CODEDEPLOY, "no load balancer naming a container and port"),
        ("EXTERNAL", None, "a controller outside ECS, which alone knows how to deploy it"),
        ("EXTERNAL", _CODEDEPLOY, "a controller outside ECS"),
        ("ECS", _CODEDEPLOY, "CodeDeploy does not deploy it: remove its codedeploy settings"),
    ],
)
def test_a_service_whose_controller_the_config_does_not_fit_is_refused_saying_why(
    seeded: sample_app.SeededApp,
    deps: AdmissionDeps,
    ecs: EcsGateway,
    table: DeploymentsTable,
    controller: DeploymentControllerTypeType,
    codedeploy: dict[str, str] | None,
    why: str,
) -> None:
    boto3.client("ecs").create_service(
        cluster=sample_app.CLUSTER,
        serviceName="shop-blue-green",
        taskDefinition=seeded.task_definitions["shop-web"],
        desiredCount=1,
        deploymentController={"type": controller},
    )
    service: dict[str, object] = {"name": "shop-blue-green", "containers": ["app"]}
    if codedeploy is not None:
        service["codedeploy"] = codedeploy
    _reconfigure(seeded, services=[service])
    with pytest.raises(ConfigError) as refused:
        register_task_definitions(accepted(deps), ecs, table, deps.scope, STARTED)
    message = str(refused.value)
    assert f"services[0]: 'shop-blue-green' uses the {controller} deployment controller" in message
    assert why in message


def test_a_service_running_a_family_outside_the_stack_is_refused(
    seeded: sample_app.SeededApp, deps: AdmissionDeps, ecs: EcsGateway, table: DeploymentsTable
) -> None:
    client = boto3.client("ecs")
    admin = client.register_task_definition(
        family="admin-tools",
        containerDefinitions=[{"name": "app", "image": "busybox", "memory": 128}],
    )["taskDefinition"]["taskDefinitionArn"]
    client.create_service(
        cluster=sample_app.CLUSTER, serviceName="shop-admin", taskDefinition=admin, desiredCount=1
    )
    _reconfigure(seeded, services=[{"name": "shop-admin", "containers": ["app"]}])
    before = _families()
    with pytest.raises(
        ConfigError,
        match="services\\[0\\]: 'shop-admin': task definition "
        "family 'admin-tools' is not one this stack may register or run",
    ):
        register_task_definitions(accepted(deps), ecs, table, deps.scope, STARTED)
    assert _families() == before  # nothing registered


def test_pinned_task_revision_is_cloned(
    seeded: sample_app.SeededApp, deps: AdmissionDeps, ecs: EcsGateway, table: DeploymentsTable
) -> None:
    _reconfigure(seeded, tasks={"pre": [{"family": "shop-migrate:1", "containers": ["app"]}]})
    deployment = register_task_definitions(accepted(deps), ecs, table, deps.scope, STARTED)
    assert deployment.pre_tasks[0].task_definition
    assert deployment.pre_tasks[0].task_definition.endswith("shop-migrate:2")


def test_planning_changes_nothing_not_even_the_document(
    seeded: sample_app.SeededApp, deps: AdmissionDeps, ecs: EcsGateway
) -> None:
    deployment = accepted(deps)
    before = encode(deployment)
    families = _families()
    plan = plan_deployment(deployment, ecs, deps.scope)
    assert encode(deployment) == before
    assert _families() == families
    # What the register step will record comes with the plan instead.
    web = plan.services[0]
    assert (web.service.name, web.current.arn) == ("shop-web", seeded.task_definitions["shop-web"])
    assert all(task.watch_containers for task in plan.tasks)


def test_a_cluster_ecs_does_not_know_is_named_before_anything_is_registered(
    seeded: sample_app.SeededApp, deps: AdmissionDeps, ecs: EcsGateway, table: DeploymentsTable
) -> None:
    # (ECS refuses to delete a cluster that has services: the cluster never existed.)
    scope = replace(deps.scope, clusters=deps.scope.clusters | {"shop-gone"})
    deps = replace(deps, scope=scope)
    _reconfigure(seeded, cluster="shop-gone")
    deployment = accepted(deps)  # admission reads no ECS: planning finds no cluster

    with pytest.raises(ResourceNotFound, match="cluster 'shop-gone' does not exist"):
        register_task_definitions(deployment, ecs, table, scope, STARTED)
    assert _families() == {"shop-web": 1, "shop-worker": 1, "shop-migrate": 1, "shop-smoke-test": 1}


def test_each_family_is_read_once_when_its_services_run_its_newest_revision(
    seeded: sample_app.SeededApp, deps: AdmissionDeps, ecs: EcsGateway, table: DeploymentsTable
) -> None:
    deployment = accepted(deps)
    calls: list[str] = []
    events = ecs_client().meta.events
    events.register("before-call.ecs", lambda model, **_: calls.append(model.name))
    try:
        register_task_definitions(deployment, ecs, table, deps.scope, STARTED)
    finally:
        events.unregister("before-call.ecs")

    # shop-web, shop-worker, shop-migrate and shop-smoke-test: one read each, one register each.
    assert sorted(calls) == sorted(
        ["DescribeServices"] + ["DescribeTaskDefinition", "RegisterTaskDefinition"] * 4
    )


def test_a_service_whose_family_has_no_active_revision_is_still_cloned(
    seeded: sample_app.SeededApp,
    deps: AdmissionDeps,
    ecs: EcsGateway,
    table: DeploymentsTable,
    simulate: Callable[..., EcsSimulation],
) -> None:
    simulate()  # ECS's answer for a family without an ACTIVE revision: none (moto's: any)
    boto3.client("ecs").deregister_task_definition(
        taskDefinition=seeded.task_definitions["shop-web"]
    )

    deployment = register_task_definitions(accepted(deps), ecs, table, deps.scope, STARTED)

    web = deployment.services[0]
    assert web.task_definition_before == seeded.task_definitions["shop-web"]
    assert web.task_definition_after
    assert web.task_definition_after.endswith("shop-web:2")
