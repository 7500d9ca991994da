"""Fixtures of the CLI's tests: the real stack on the local cloud, served over HTTP, and a
runner that points the CLI at it with --endpoint-url, as an operator would `local up`."""

from __future__ import annotations

import json
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest
from typer.testing import CliRunner

from ecs_deployer.aws.dynamodb import DeploymentsTable
from ecs_deployer_tools.cli import app
from ecs_deployer_tools.demo import runner, sample_app
from ecs_deployer_tools.localcloud.cloud import LocalCloud
from ecs_deployer_tools.localcloud.ecs_sim import EcsSimulation

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from typer.testing import Result


@dataclass
class Local:
    cloud: LocalCloud
    simulation: EcsSimulation
    seeded: sample_app.SeededApp
    endpoint: str

    def run(self, *args: str, stack: str | None = None) -> Result:
        """``ecs-deployer ARGS`` against this cloud's endpoint, region and stack."""
        target = [
            *("--endpoint-url", self.endpoint, "--region", self.cloud.region),
            *("--stack", stack or self.cloud.stack_name),
        ]
        return CliRunner().invoke(app, [*args, *target])

    def json(self, *args: str, stack: str | None = None) -> tuple[int, Any]:
        """The exit code and the JSON document of ``ecs-deployer ARGS --json``."""
        result = self.run(*args, "--json", stack=stack)
        assert result.stdout.strip(), result.output
        return result.exit_code, json.loads(result.stdout.strip().splitlines()[-1])

    def push(self, tag: str) -> str:
        """Push a new image of the sample app; returns its URI, pinned by digest."""
        digest = self.cloud.push_image(sample_app.REPOSITORY, tag, sample_app.image_manifest(tag))
        self.wait_idle()  # the rule's execution for the push (tags not v*: it ignores it)
        return f"{self.seeded.registry}/{sample_app.REPOSITORY}@{digest}"

    def wait_idle(self) -> None:
        """Run every execution to its end on the cloud's virtual time (no polling)."""
        self.cloud.run_until_idle()

    def running(self) -> dict[str, str]:
        """The task definition each service of the sample app runs now."""
        described = self.cloud.client("ecs").describe_services(
            cluster=sample_app.CLUSTER, services=self.seeded.services
        )
        return {s["serviceName"]: s["taskDefinition"] for s in described["services"]}

    @property
    def table(self) -> DeploymentsTable:
        return DeploymentsTable(
            self.cloud.client("dynamodb"), self.cloud.outputs["DeploymentsTableName"]
        )


@contextmanager
def local_cloud(
    stack_parameters: Mapping[str, str] | None = None, **seed_options: Any
) -> Iterator[Local]:
    """The sample app seeded (with ``seed_options``: its web deployment, config keys), the
    real stack deployed (with ``stack_parameters`` besides the demo's), served on a free
    port."""
    simulation = EcsSimulation()
    with LocalCloud(
        runner.TEMPLATE, extensions=[simulation], time_scale=runner.TIME_SCALE
    ) as cloud:
        seeded = sample_app.seed(
            sample_app.Clients.of(cloud.client), runner.CONFIG_PREFIX, **seed_options
        )
        cloud.deploy_stack(
            {
                **runner.STACK_PARAMETERS,
                **seeded.network_parameters,
                "LogLevel": runner.DEMO_LOG_LEVEL,
                **(stack_parameters or {}),
            }
        )
        yield Local(cloud, simulation, seeded, cloud.start_server(0))


# The approval gate the CLI's approval tests deploy with.
GATE: dict[str, Any] = {"approval": "required", "approval_timeout": 30}


def start_until_it_asks(local: Local, tag: str) -> str:
    """Deploy ``tag`` of a gated app without waiting, and run until its approval is asked
    for (on virtual time, which does not reach the deadline); its deployment id."""
    local.push(tag)
    code, started = local.json("deploy", "shop", "--tag", tag, "--no-wait")
    assert code == 0, started
    name: str = started["name"]
    run_until_asked(local, name)
    return name


def run_until_asked(local: Local, deployment_id: str, service: str | None = None) -> None:
    """Run until the deployment's approval (the gate's, or ``service``'s PAUSE hook's) is
    asked for."""

    def asked() -> bool:
        record = local.table.find_record(sample_app.APP, deployment_id)
        approval = record.approval if record else None
        return approval is not None and (approval.status, approval.service) == (
            "PENDING",
            service,
        )

    local.cloud.scheduler.run_until(asked)


@pytest.fixture(scope="module")
def local() -> Iterator[Local]:
    """One local cloud per test module (moto's state is process-wide)."""
    with local_cloud() as cloud:
        yield cloud


def no_traceback(result: Result) -> None:
    """A user error: exit 1, said plainly on stderr."""
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    assert result.stderr.startswith("error: "), result.output


def deploy(local: Local, tag: str) -> dict[str, Any]:
    """Push ``tag`` and deploy it by hand (no one-off tasks: quicker); its outcome."""
    local.push(tag)
    code, outcome = local.json(
        "deploy", "shop", "--tag", tag, "--skip-pre-tasks", "--skip-post-tasks"
    )
    assert (code, outcome["status"]) == (0, "SUCCEEDED"), outcome
    document: dict[str, Any] = outcome
    return document
