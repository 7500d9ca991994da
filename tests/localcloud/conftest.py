"""Fixtures of the local cloud's tests: the mini fixture stack, deployed once per module."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from ecs_deployer_tools.localcloud.cloud import LocalCloud

if TYPE_CHECKING:
    from collections.abc import Iterator

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
