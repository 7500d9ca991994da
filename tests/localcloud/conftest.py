"""Fixtures of the local cloud's tests: the mini fixture stack, deployed once per module; the
ECS simulation on a clock the test moves."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from ecs_deployer_tools.localcloud.cloud import LocalCloud

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from ecs_deployer_tools.localcloud.ecs_sim import EcsFaults, EcsSimulation

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
def simulate(simulate: Callable[..., EcsSimulation]) -> Callable[..., EcsSimulation]:
    """Installs a simulation of `faults` (default: none), as the step tests' `simulate`
    does, except that every describe sees every change at once: the tests of eventual
    consistency install their own."""

    def start(faults: EcsFaults | None = None) -> EcsSimulation:
        return simulate(faults, describe_lag=0, service_describe_lag=0)

    return start
