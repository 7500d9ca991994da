"""At the limits a valid config allows, on the local cloud (which enforces Step Functions'
256 KiB of state data and 25,000 history events): the largest app deploys with small state,
and the longest wait at the fastest poll ends in a named timeout inside the history."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

from ecs_deployer.aws.dynamodb import DeploymentsTable
from ecs_deployer.config.models import AppConfig
from ecs_deployer_tools.demo import runner, sample_app
from ecs_deployer_tools.demo.scenarios import SCENARIOS
from ecs_deployer_tools.localcloud.cloud import LocalCloud
from ecs_deployer_tools.localcloud.ecs_sim import EcsSimulation
from ecs_deployer_tools.operator.configs import ADVANCED_TIER_LIMIT, canonical_text, push_config

if TYPE_CHECKING:
    from collections.abc import Iterator

    from mypy_boto3_stepfunctions.type_defs import HistoryEventTypeDef

pytestmark = pytest.mark.e2e

SIDECARS = 9  # each service's task definition: the app and nine sidecars
STATE_BUDGET = 64 * 1024
_DATA = (
    ("executionStartedEventDetails", "input"),
    ("executionSucceededEventDetails", "output"),
    ("stateEnteredEventDetails", "input"),
    ("stateExitedEventDetails", "output"),
    ("taskScheduledEventDetails", "parameters"),
    ("taskSucceededEventDetails", "output"),
)


def _largest_config(config: AppConfig) -> AppConfig:
    """The sample config with as many services as the 8 KB parameter holds."""
    document = json.loads(canonical_text(config))
    services: list[dict[str, Any]] = []
    while True:
        grown = [*services, {"name": f"s{len(services):03d}", "containers": ["app"]}]
        candidate = AppConfig.model_validate({**document, "services": grown})
        if len(canonical_text(candidate).encode()) > ADVANCED_TIER_LIMIT:
            return AppConfig.model_validate({**document, "services": services})
        services = grown


def _create_services(cloud: LocalCloud, config: AppConfig, image: str) -> None:
    ecs = cloud.client("ecs")
    web = ecs.describe_services(cluster=sample_app.CLUSTER, services=[sample_app.WEB])
    network = web["services"][0]["networkConfiguration"]
    template = ecs.describe_task_definition(taskDefinition=sample_app.WEB)["taskDefinition"]
    app = next(c for c in template["containerDefinitions"] if c["name"] == "app")
    sidecars = [
        {**app, "name": f"sidecar-{k}", "image": f"public.ecr.aws/sidecars/agent-{k}:1.0.{k}"}
        for k in range(SIDECARS)
    ]
    for service in config.services:
        arn = ecs.register_task_definition(
            family=service.name,
            containerDefinitions=[{**app, "image": image}, *sidecars],
            networkMode="awsvpc",
            requiresCompatibilities=["FARGATE"],
            cpu="512",
            memory="1024",
            executionRoleArn=template["executionRoleArn"],
        )["taskDefinition"]["taskDefinitionArn"]
        ecs.create_service(
            cluster=sample_app.CLUSTER,
            serviceName=service.name,
            taskDefinition=arn,
            desiredCount=1,
            launchType="FARGATE",
            networkConfiguration=network,
        )


def _data_sizes(history: Iterator[HistoryEventTypeDef]) -> list[int]:
    sizes = []
    for event in history:
        for details, field in _DATA:
            text = event.get(details, {}).get(field)  # type: ignore[attr-defined]
            if text:
                sizes.append(len(str(text).encode()))
    return sizes


def test_the_largest_app_a_config_can_describe_deploys_with_small_state() -> None:
    with LocalCloud(runner.TEMPLATE, extensions=[EcsSimulation()]) as cloud:
        seeded = sample_app.seed(sample_app.Clients.of(cloud.client), runner.CONFIG_PREFIX)
        table_name = "DeploymentsTableName"
        stored = cloud.client("ssm").get_parameter(Name=f"{runner.CONFIG_PREFIX}/shop")
        config = _largest_config(AppConfig.model_validate(json.loads(stored["Parameter"]["Value"])))
        _create_services(cloud, config, seeded.initial_image)
        push_config(cloud.client("ssm"), runner.CONFIG_PREFIX, sample_app.APP, config)
        cloud.deploy_stack(
            {
                **runner.STACK_PARAMETERS,
                **seeded.network_parameters,
                "TaskFamilyPrefixes": f"{sample_app.FAMILY_PREFIX},s",  # services s000...
                "LogLevel": "ERROR",
            }
        )

        cloud.push_image(sample_app.REPOSITORY, "v2.0.0", sample_app.image_manifest("v2.0.0"))
        cloud.run_until_idle()

        table = DeploymentsTable(cloud.client("dynamodb"), cloud.outputs[table_name])
        [record] = table.history(sample_app.APP)
        sfn = cloud.client("stepfunctions")
        executions = sfn.list_executions(stateMachineArn=cloud.state_machine_arn())
        sizes = [
            size
            for execution in executions["executions"]
            for size in _data_sizes(cloud.execution_history(execution["executionArn"]))
        ]
    services = len(config.services)
    print(f"\n{services} services of {SIDECARS + 1} containers; largest state {max(sizes)} B")
    assert services > 150
    assert (record.status, record.error) == ("SUCCEEDED", None)
    assert len(record.services) == services
    assert all(
        service.task_definition_after != service.task_definition_before
        for service in record.services
    )
    assert max(sizes) <= STATE_BUDGET


def test_the_longest_wait_at_the_fastest_poll_ends_in_a_named_timeout() -> None:
    scenario = SCENARIOS["never-stable-longest-wait"]
    histories: dict[str, int] = {}

    def count_events(cloud: LocalCloud, simulation: EcsSimulation) -> None:
        sfn = cloud.client("stepfunctions")
        for execution in sfn.list_executions(stateMachineArn=cloud.state_machine_arn())[
            "executions"
        ]:
            histories[execution["name"]] = sum(
                1 for _ in cloud.execution_history(execution["executionArn"])
            )

    result = runner.run(scenario, inspect=count_events)
    deployment = max(histories.values())
    print(f"\n{scenario.name}: {deployment} history events (the limit is 25,000)")
    assert (result.status, result.last.error) == ("ROLLED_BACK", "DeployTimeout")
    assert "not steady after 1440 min" in (result.last.cause or "")
    assert deployment < 25_000 // 4  # room for four such phases
