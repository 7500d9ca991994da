"""The sample app grown to S services, each of its own family, for the limits test and the
benchmark: one push deploys them all, with the sample's pre-deploy migration.

`deploy_fleet` runs that on a fresh local cloud and counts what it cost: the Lambdas' API
calls, and the executions' state transitions and Lambda invocations.
"""

from __future__ import annotations

import json
import math
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ecs_deployer.aws.dynamodb import DeploymentsTable
from ecs_deployer.config.models import AppConfig
from ecs_deployer_tools.demo import runner, sample_app
from ecs_deployer_tools.localcloud.cloud import LocalCloud
from ecs_deployer_tools.localcloud.ecs_sim import EcsFaults, EcsSimulation, TaskFault
from ecs_deployer_tools.localcloud.runtime import FunctionOutput
from ecs_deployer_tools.operator.configs import ADVANCED_TIER_LIMIT, canonical_text, push_config

if TYPE_CHECKING:
    from collections.abc import Iterator

    from mypy_boto3_stepfunctions.type_defs import HistoryEventTypeDef

    from ecs_deployer.history import HistoryRecord

SIDECARS = 9  # each service's task definition: the app and nine sidecars
NEW_TAG = "v2.0.0"


def service_name(index: int) -> str:
    """The name of a fleet's ``index``-th service, and of its family."""
    return f"{sample_app.FAMILY_PREFIX}s{index:03d}"


def fleet_config(base: AppConfig, services: int | None) -> AppConfig:
    """``base`` with ``services`` services (``shop-s000``...), or as many as the 8 KB config
    parameter holds when None; pre-deploy tasks kept, post-deploy tasks dropped."""
    document = json.loads(canonical_text(base))
    document["tasks"] = {"pre": document.get("tasks", {}).get("pre", []), "post": []}

    def named(count: int) -> AppConfig:
        listed = [{"name": service_name(index), "containers": ["app"]} for index in range(count)]
        return AppConfig.model_validate({**document, "services": listed})

    if services is not None:
        return named(services)
    count = 1
    while len(canonical_text(named(count + 1)).encode()) <= ADVANCED_TIER_LIMIT:
        count += 1
    return named(count)


def create_services(cloud: LocalCloud, config: AppConfig, image: str) -> None:
    """Each of ``config``'s services, running a family of its own (named as the service) of
    the sample web service's shape plus ``SIDECARS`` sidecars, on ``image``."""
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


@dataclass(frozen=True)
class FleetDeployment:
    """What one push cost, deploying a fleet of ``services``."""

    services: int
    tasks: int  # one-off tasks run
    poll_seconds: int  # the app's poll interval
    record: HistoryRecord
    api_calls: dict[str, int]  # the Lambdas' calls, by "service.Operation"
    state_transitions: int
    lambda_invocations: int
    histories: list[list[HistoryEventTypeDef]]  # each execution's history events

    @property
    def ecs_calls(self) -> int:
        return sum(n for call, n in self.api_calls.items() if call.startswith("ecs."))


def minimum_ecs_calls(services: int, tasks: int, rollout_polls: int, task_polls: int) -> int:
    """The fewest ECS calls that deploy ``services`` services (a family each) and run
    ``tasks`` one-off tasks of one family (none: no family), when a rollout takes
    ``rollout_polls`` describes to finish and a task ``task_polls``: describe and register
    each family, update each service, describe the services (ten a call) once before and
    ``rollout_polls`` times after, run the tasks (ten a call) and describe them (a hundred
    a call) ``task_polls`` times."""
    families = services + (1 if tasks else 0)
    return (
        2 * families
        + services
        + math.ceil(services / 10) * (rollout_polls + 1)
        + math.ceil(tasks / 10)
        + math.ceil(tasks / 100) * task_polls
    )


def polls_to_finish(faults: EcsFaults, poll_seconds: float) -> tuple[int, int]:
    """Polls, every ``poll_seconds``, that see a fault-free rollout, and a fault-free task,
    finish in the simulation."""
    task = TaskFault()
    running = task.running_seconds
    task_seconds = task.pending_seconds + (max(running) if isinstance(running, tuple) else running)
    return (
        math.ceil(faults.seconds_to_complete / poll_seconds),
        math.ceil(task_seconds / poll_seconds),
    )


@dataclass(frozen=True)
class Fleet:
    """A fresh local cloud with the sample app grown to a fleet, its stack deployed."""

    cloud: LocalCloud
    config: AppConfig
    registry: str


@contextmanager
def fleet_cloud(services: int | None, faults: EcsFaults | None = None) -> Iterator[Fleet]:
    """The sample app grown to ``services`` services (as many as a config holds when None)
    on a fresh local cloud, its config stored and the deployer's stack deployed."""
    with LocalCloud(runner.TEMPLATE, extensions=[EcsSimulation(faults)]) as cloud:
        cloud.runtime.output = FunctionOutput()  # the functions' logs go nowhere
        seeded = sample_app.seed(sample_app.Clients.of(cloud.client), runner.CONFIG_PREFIX)
        stored = cloud.client("ssm").get_parameter(Name=f"{runner.CONFIG_PREFIX}/shop")
        base = AppConfig.model_validate(json.loads(stored["Parameter"]["Value"]))
        config = fleet_config(base, services)
        create_services(cloud, config, seeded.initial_image)
        push_config(cloud.client("ssm"), runner.CONFIG_PREFIX, sample_app.APP, config)
        cloud.deploy_stack(
            {**runner.STACK_PARAMETERS, **seeded.network_parameters, "LogLevel": "ERROR"}
        )
        yield Fleet(cloud, config, seeded.registry)


def deploy_fleet(services: int | None, faults: EcsFaults | None = None) -> FleetDeployment:
    """One push of a new image to a fleet (`fleet_cloud`), run until everything is idle."""
    with fleet_cloud(services, faults) as fleet:
        cloud, config = fleet.cloud, fleet.config
        cloud.reset_api_calls()
        cloud.push_image(sample_app.REPOSITORY, NEW_TAG, sample_app.image_manifest(NEW_TAG))
        cloud.run_until_idle()

        table = DeploymentsTable(cloud.client("dynamodb"), cloud.outputs["DeploymentsTableName"])
        [record] = table.history(sample_app.APP)
        sfn = cloud.client("stepfunctions")
        executions = sfn.list_executions(stateMachineArn=cloud.state_machine_arn())["executions"]
        histories = [
            list(cloud.execution_history(execution["executionArn"])) for execution in executions
        ]
        events = [event for history in histories for event in history]
        return FleetDeployment(
            services=len(config.services),
            tasks=sum(task.count for task in config.tasks.pre) if config.tasks else 0,
            poll_seconds=config.poll_seconds,
            record=record,
            api_calls=cloud.api_calls,
            state_transitions=sum(1 for e in events if e["type"].endswith("StateEntered")),
            lambda_invocations=sum(
                1
                for e in events
                if e["type"] == "TaskScheduled"
                and e["taskScheduledEventDetails"]["resourceType"] == "lambda"
            ),
            histories=histories,
        )


@dataclass(frozen=True)
class DispatchCost:
    """What dispatching one push cost Resolve, with ``apps`` app configs stored."""

    apps: int
    status: str  # the pushed app's deployment
    calls: dict[str, int]  # ResolveFunction's calls, by "service.Operation"


def dispatch_cost(apps: int) -> DispatchCost:
    """One push to the app of a fleet of one service, with ``apps`` - 1 other apps' configs
    stored beside its own (each deploying a repository of its own): what the dispatching
    Resolve calls."""
    with fleet_cloud(1) as fleet:
        cloud, base = fleet.cloud, fleet.config.model_dump(mode="json", exclude_none=True)
        ssm = cloud.client("ssm")
        for index in range(1, apps):
            other = {**base, "app": f"app{index:03d}", "trigger": {"repositories": [f"r{index}"]}}
            push_config(ssm, runner.CONFIG_PREFIX, other["app"], AppConfig.model_validate(other))
        cloud.reset_api_calls()
        cloud.push_image(sample_app.REPOSITORY, NEW_TAG, sample_app.image_manifest(NEW_TAG))
        cloud.run_until_idle()
        table = DeploymentsTable(cloud.client("dynamodb"), cloud.outputs["DeploymentsTableName"])
        [record] = table.history(sample_app.APP)
        return DispatchCost(apps, record.status, cloud.api_recorder.counts("ResolveFunction"))
