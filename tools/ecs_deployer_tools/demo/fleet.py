"""The sample app grown to S services, each of its own family, for the limits test and the
benchmark: one push deploys them all, with the sample's pre-deploy migration.

`deploy_fleet` runs that on a fresh local cloud and counts what it cost: the Lambdas' API
calls, and the executions' state transitions and Lambda invocations.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ecs_deployer.aws.dynamodb import DeploymentsTable
from ecs_deployer.config.models import AppConfig, app_config
from ecs_deployer.structs import encode
from ecs_deployer_tools.demo import runner, sample_app
from ecs_deployer_tools.localcloud import images
from ecs_deployer_tools.localcloud.cloud import LocalCloud
from ecs_deployer_tools.localcloud.ecs_sim import EcsFaults, EcsSimulation, TaskFault
from ecs_deployer_tools.localcloud.runtime import FunctionOutput
from ecs_deployer_tools.operator.configs import ADVANCED_TIER_LIMIT, canonical_text, push_config

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from mypy_boto3_stepfunctions.type_defs import HistoryEventTypeDef

    from ecs_deployer.history import HistoryRecord

SIDECARS = 9  # each service's task definition: the app and nine sidecars
NEW_TAG = "v2.0.0"


def service_name(index: int) -> str:
    """The name of a fleet's ``index``-th service, and of its family."""
    return f"{sample_app.FAMILY_PREFIX}s{index:03d}"


def fleet_config(
    base: AppConfig, services: int | None, poll_seconds: int | None = None
) -> AppConfig:
    """``base`` with ``services`` services (``shop-s000``...), or as many as the 8 KB config
    parameter holds when None; pre-deploy tasks kept, post-deploy tasks dropped; polling
    every ``poll_seconds`` if given."""
    document = json.loads(canonical_text(base))
    document["tasks"] = {"pre": document.get("tasks", {}).get("pre", []), "post": []}
    if poll_seconds is not None:
        document["poll_seconds"] = poll_seconds

    def named(count: int) -> AppConfig:
        listed = [{"name": service_name(index), "containers": ["app"]} for index in range(count)]
        return app_config({**document, "services": listed})

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
    seconds: float  # simulated time from the push to the end of the last execution

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
def fleet_cloud(
    services: int | None,
    faults: EcsFaults | None = None,
    poll_seconds: int | None = None,
    repositories: Sequence[str] = (),
) -> Iterator[Fleet]:
    """The sample app grown to ``services`` services (as many as a config holds when None)
    on a fresh local cloud, its config stored (polling every ``poll_seconds`` if given, else
    the sample's second) and the deployer's stack deployed; with ``repositories``, those too
    are created in ECR and deploy on a push."""
    with LocalCloud(runner.TEMPLATE, extensions=[EcsSimulation(faults)]) as cloud:
        cloud.runtime.output = FunctionOutput()  # the functions' logs go nowhere
        seeded = sample_app.seed(sample_app.Clients.of(cloud.client), runner.CONFIG_PREFIX)
        stored = cloud.client("ssm").get_parameter(Name=f"{runner.CONFIG_PREFIX}/shop")
        base = app_config(json.loads(stored["Parameter"]["Value"]))
        config = fleet_config(base, services, poll_seconds)
        create_services(cloud, config, seeded.initial_image)
        push_config(cloud.client("ssm"), runner.CONFIG_PREFIX, sample_app.APP, config)
        for repository in repositories:
            cloud.client("ecr").create_repository(repositoryName=repository)
        names = ",".join([sample_app.REPOSITORY, *repositories])
        cloud.deploy_stack(
            {
                **runner.STACK_PARAMETERS,
                **seeded.network_parameters,
                "RepositoryNames": names,
                "LogLevel": "ERROR",
            }
        )
        yield Fleet(cloud, config, seeded.registry)


def deploy_fleet(
    services: int | None, faults: EcsFaults | None = None, poll_seconds: int | None = None
) -> FleetDeployment:
    """One push of a new image to a fleet (`fleet_cloud`), run until everything is idle."""
    with fleet_cloud(services, faults, poll_seconds) as fleet:
        cloud, config = fleet.cloud, fleet.config
        cloud.reset_api_calls()
        pushed = cloud.clock.now()
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
            seconds=(cloud.clock.now() - pushed).total_seconds(),
        )


def _store_app(cloud: LocalCloud, base: AppConfig, app: str, **fields: Any) -> AppConfig:
    """Store ``app``'s config: ``base`` with ``fields`` changed."""
    config = app_config({**encode(base), "app": app, **fields})
    push_config(cloud.client("ssm"), runner.CONFIG_PREFIX, app, config)
    return config


@dataclass(frozen=True)
class DispatchCost:
    """What dispatching one push cost Resolve, with ``apps`` app configs stored."""

    apps: int
    indexed: bool  # whether the config index was built (False: every config is read)
    status: str  # the pushed app's deployment
    calls: dict[str, int]  # ResolveFunction's calls, by "service.Operation"


def dispatch_cost(apps: int, *, indexed: bool = True) -> DispatchCost:
    """One push to the app of a fleet of one service, with ``apps`` - 1 other apps' configs
    stored beside its own (each deploying a repository of its own): what the dispatching
    Resolve calls. Not ``indexed``: the config change events never reach the indexer, as
    on a stack whose index was never built."""
    with fleet_cloud(1) as fleet:
        cloud = fleet.cloud
        if not indexed:
            rules = cloud.stack_resources("AWS::Events::Rule")
            cloud.client("events").disable_rule(Name=rules["IndexConfigsFunctionConfigChanged"])
        for index in range(1, apps):
            _store_app(
                cloud, fleet.config, f"app{index:03d}", trigger={"repositories": [f"r{index}"]}
            )
        cloud.run_until_idle()
        cloud.reset_api_calls()
        cloud.push_image(sample_app.REPOSITORY, NEW_TAG, sample_app.image_manifest(NEW_TAG))
        cloud.run_until_idle()
        table = DeploymentsTable(cloud.client("dynamodb"), cloud.outputs["DeploymentsTableName"])
        [record] = table.history(sample_app.APP)
        calls = cloud.api_recorder.counts("ResolveFunction")
        return DispatchCost(apps, indexed, record.status, calls)


@dataclass(frozen=True)
class DispatchBurst:
    """``pushes`` pushes, each to another app's repository, within ``seconds`` (virtual),
    with ``apps`` app configs stored and the config index built."""

    apps: int
    pushes: int
    seconds: float
    calls: dict[str, int]  # every function's calls, by "service.Operation"
    statuses: dict[str, int]  # the pushed apps' deployments, by status
    on_their_image: int  # pushed apps whose service runs the image pushed for it

    def per_push(self, service: str) -> float:
        made = sum(n for call, n in self.calls.items() if call.startswith(f"{service}."))
        return made / self.pushes


def dispatch_burst(apps: int, pushes: int, seconds: float) -> DispatchBurst:
    """``pushes`` apps of a service each (of a family and a repository of their own) among
    ``apps`` configs; one push to each, evenly within ``seconds``; run until all are done."""
    burst = [f"burst{index:03d}" for index in range(pushes)]
    repositories = {app: f"shop-{app}" for app in burst}
    with fleet_cloud(1, repositories=list(repositories.values())) as fleet:
        cloud = fleet.cloud
        for app, repository in repositories.items():
            service = {"name": f"{sample_app.FAMILY_PREFIX}{app}", "containers": ["app"]}
            config = _store_app(
                cloud,
                fleet.config,
                app,
                services=[service],
                tasks={"pre": [], "post": []},
                trigger={"repositories": [repository]},
            )
            create_services(cloud, config, f"{fleet.registry}/{repository}:v1.0.0")
        for index in range(pushes + 1, apps):
            _store_app(
                cloud, fleet.config, f"app{index:03d}", trigger={"repositories": [f"r{index}"]}
            )
        cloud.run_until_idle()
        cloud.reset_api_calls()
        for repository in repositories.values():
            cloud.push_image(repository, NEW_TAG, images.image_manifest(f"{repository} {NEW_TAG}"))
            cloud.advance(seconds / pushes)
        cloud.run_until_idle()
        calls = cloud.api_calls
        table = DeploymentsTable(cloud.client("dynamodb"), cloud.outputs["DeploymentsTableName"])
        records = [record for app in burst for record in table.history(app)]
        running = _images_running(cloud, [f"{sample_app.FAMILY_PREFIX}{app}" for app in burst])
        on_their_image = sum(
            1
            for record in records
            if record.status == "SUCCEEDED"
            and running.get(f"{sample_app.FAMILY_PREFIX}{record.app}") == record.image
        )
        return DispatchBurst(
            apps=apps,
            pushes=pushes,
            seconds=seconds,
            calls=calls,
            statuses=dict(Counter(record.status for record in records)),
            on_their_image=on_their_image,
        )


def _images_running(cloud: LocalCloud, services: list[str]) -> dict[str, str]:
    """Each service's "app" container image, in the task definition its service runs."""
    ecs = cloud.client("ecs")
    running: dict[str, str] = {}
    for start in range(0, len(services), 10):
        described = ecs.describe_services(
            cluster=sample_app.CLUSTER, services=services[start : start + 10]
        )
        for service in described["services"]:
            definition = ecs.describe_task_definition(taskDefinition=service["taskDefinition"])
            containers = definition["taskDefinition"]["containerDefinitions"]
            running[service["serviceName"]] = next(
                c["image"] for c in containers if c["name"] == "app"
            )
    return running
