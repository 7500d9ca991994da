"""Fixtures of the local cloud's tests: the mini fixture stack, deployed once per module; the
ECS simulation on a clock the test moves."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from ecs_deployer_tools.localcloud.cloud import LocalCloud
from ecs_deployer_tools.localcloud.ecs_sim import EcsFaults, EcsSimulation

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from tests.aws_fixtures import SimClock

FIXTURES = Path(__file__).parent / "fixtures"
MINI_TEMPLATE = FIXTURES / "template.yaml"


@pytest.fixture(scope="module")
def mini_cloud() -> Iterator[LocalCloud]:
    """The fixture template deployed on a fresh emulator, shared by one test module."""
    with LocalCloud(MINI_TEMPLATE, stack_name="mini") as cloud:
        cloud.deploy_stack({"Greeting": "bonjour"})
        yield cloud


@pytest.fixture
def cloud(mini_cloud: LocalCloud) -> LocalCloud:
    """The module's cloud with no API calls counted and no fault pending."""
    mini_cloud.reset_api_calls()
    mini_cloud.lambda_faults.clear()
    return mini_cloud


@pytest.fixture
def simulate(aws: None, sim_clock: SimClock) -> Iterator[Callable[..., EcsSimulation]]:
    """Installs a simulation of `faults` (default: none) on `sim_clock` for the test;
    uninstalled even when the test fails. Unlike the step tests' `simulate`, every describe
    sees every change at once: the tests of eventual consistency install their own."""
    started: list[EcsSimulation] = []

    def start(faults: EcsFaults | None = None) -> EcsSimulation:
        consistent = dataclasses.replace(
            faults or EcsFaults(), describe_lag=0, service_describe_lag=0
        )
        simulation = EcsSimulation(consistent, clock=sim_clock)
        simulation.install()
        started.append(simulation)
        return simulation

    yield start
    for simulation in started:
        simulation.uninstall()
