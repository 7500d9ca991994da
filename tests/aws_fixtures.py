"""Fixtures for tests that run steps and commands against moto, with the sample app seeded."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from moto import mock_aws

from ecs_deployer.aws.clients import dynamodb_client, ecr_client, ecs_client, sfn_client
from ecs_deployer.aws.dynamodb import DeploymentsTable
from ecs_deployer.aws.ecr import EcrGateway
from ecs_deployer.aws.ecs import EcsGateway
from ecs_deployer.aws.ssm import ConfigStore
from ecs_deployer.aws.stepfunctions import Executions
from ecs_deployer.document import Deployment
from ecs_deployer.domain.admission import AdmissionDeps
from ecs_deployer.domain.scope import StackScope
from ecs_deployer.payloads import ExecutionContext
from ecs_deployer.steps.register import register_task_definitions
from ecs_deployer.steps.resolve import resolve
from ecs_deployer_tools.demo import sample_app
from ecs_deployer_tools.localcloud.ecs_sim import EcsFaults, EcsSimulation

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator


PREFIX = "/ecs-deployer/apps"
TABLE = "deployments"
STARTED = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


class AlwaysRunning:
    """Step Functions' DescribeExecution, faked: every execution still runs."""

    def is_running(self, execution_arn: str) -> bool:
        return True


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield


def create_table() -> DeploymentsTable:
    """The deployments table, keyed as in template.yaml."""
    boto3.client("dynamodb").create_table(
        TableName=TABLE,
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    return DeploymentsTable(dynamodb_client(), TABLE)


@pytest.fixture
def table(aws: None) -> DeploymentsTable:
    return create_table()


def clients() -> sample_app.Clients:
    return sample_app.Clients.of(boto3.client)


@pytest.fixture
def seeded(aws: None) -> sample_app.SeededApp:
    return sample_app.seed(clients(), PREFIX)


@pytest.fixture
def ecs(aws: None) -> EcsGateway:
    return EcsGateway(ecs_client())


@pytest.fixture
def executions(aws: None) -> Executions:
    return Executions(sfn_client)


def scope_of(seeded: sample_app.SeededApp) -> StackScope:
    """The scope of a stack deployed for the sample app (its stack parameters)."""
    return StackScope(
        clusters=frozenset({seeded.cluster}),
        family_prefixes=frozenset({sample_app.FAMILY_PREFIX}),
        subnets=frozenset({seeded.subnet}),
        security_groups=frozenset({seeded.security_group}),
        public_ip=False,
        codedeploy_groups=frozenset({sample_app.CODEDEPLOY_DEPLOYMENT_GROUP}),
    )


@pytest.fixture
def deps(seeded: sample_app.SeededApp, table: DeploymentsTable) -> AdmissionDeps:
    return AdmissionDeps(
        configs=ConfigStore(PREFIX),
        ecr=EcrGateway(ecr_client()),
        table=table,
        scope=scope_of(seeded),
        executions=Executions(sfn_client),
    )


def context(name: str = "manual-1") -> ExecutionContext:
    return ExecutionContext(
        Id=f"arn:aws:states:us-east-1:123456789012:execution:ecs-deployer-deploy:{name}",
        Name=name,
        StartTime=STARTED,
    )


def push(tag: str) -> str:
    """Push a new version of the sample app's image; returns its digest."""
    response = boto3.client("ecr").put_image(
        repositoryName=sample_app.REPOSITORY,
        imageManifest=sample_app.image_manifest(tag),
        imageTag=tag,
    )
    return response["image"]["imageId"]["imageDigest"]


POLL_SECONDS = 10  # the state machine's default wait between two checks


class SimClock:
    """The simulated ECS's time in a step test: it stands at ``STARTED`` until the test
    moves it, so what ECS shows (a describe that lags a change...) never depends on how fast
    the test runs. The steps get their own ``now``."""

    def __init__(self, now: datetime = STARTED) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def sim_clock() -> SimClock:
    return SimClock()


@pytest.fixture
def simulate(aws: None, sim_clock: SimClock) -> Iterator[Callable[..., EcsSimulation]]:
    """Install the ECS simulation with the faults a test names, ``simulate(tasks=..., ...)``,
    or those of an `EcsFaults` with some replaced, ``simulate(faults, describe_lag=0)``, on
    ``sim_clock``; uninstalled even when the test fails."""
    installed: list[EcsSimulation] = []

    def install(faults: EcsFaults | None = None, **named: Any) -> EcsSimulation:
        chosen = dataclasses.replace(faults, **named) if faults else EcsFaults(**named)
        simulation = EcsSimulation(chosen, clock=sim_clock)
        simulation.install()
        installed.append(simulation)
        return simulation

    yield install
    for simulation in installed:
        simulation.uninstall()


def drive(
    step: Callable[[Deployment], Deployment],
    deployment: Deployment,
    clock: SimClock,
    limit: int = 20,
) -> Deployment:
    """Call a check step until it stops saying WAIT, as the state machine's loop does: each
    check a poll interval (the default 10 s) after the last, on the simulated ECS's clock."""
    for _ in range(limit):
        clock.advance(POLL_SECONDS)
        deployment = step(deployment)
        if deployment.progress != "WAIT":
            return deployment
    raise AssertionError(f"still waiting after {limit} checks")


def accepted(deps: AdmissionDeps, tag: str = "v2.0.0", name: str = "manual-1") -> Deployment:
    """Push ``tag`` and resolve a manual request for it: a deployment ready to lock."""
    push(tag)
    deployment = resolve({"app": "shop", "image_tag": tag}, context(name), deps, STARTED)
    assert isinstance(deployment, Deployment), deployment
    return deployment


def registered(
    deps: AdmissionDeps, ecs: EcsGateway, table: DeploymentsTable, tag: str = "v2.0.0"
) -> Deployment:
    """A deployment whose task definitions are registered (the state machine's third step)."""
    return register_task_definitions(accepted(deps, tag), ecs, table, deps.scope, STARTED)
