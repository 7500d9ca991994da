"""At the limits a valid config allows, on the local cloud (which enforces Step Functions'
256 KiB of state data and 25,000 history events): the largest app deploys with small state,
and the longest wait at the fastest poll ends in a named timeout inside the history."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import pytest

from ecs_deployer_tools.demo import fleet, runner
from ecs_deployer_tools.demo.scenarios import SCENARIOS

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from mypy_boto3_stepfunctions.type_defs import HistoryEventTypeDef

    from ecs_deployer_tools.localcloud.cloud import LocalCloud
    from ecs_deployer_tools.localcloud.ecs_sim import EcsSimulation

pytestmark = pytest.mark.e2e

STATE_BUDGET = 64 * 1024
_DATA = (
    ("executionStartedEventDetails", "input"),
    ("executionSucceededEventDetails", "output"),
    ("stateEnteredEventDetails", "input"),
    ("stateExitedEventDetails", "output"),
    ("taskScheduledEventDetails", "parameters"),
    ("taskSucceededEventDetails", "output"),
)


def _data_sizes(history: Iterable[HistoryEventTypeDef]) -> list[int]:
    sizes = []
    for event in history:
        for details, field in _DATA:
            text = event.get(details, {}).get(field)  # type: ignore[attr-defined]
            if text:
                sizes.append(len(str(text).encode()))
    return sizes


def test_the_largest_app_a_config_can_describe_deploys_with_small_state() -> None:
    deployed = fleet.deploy_fleet(None)

    sizes = [size for history in deployed.histories for size in _data_sizes(history)]
    record = deployed.record
    print(
        f"\n{deployed.services} services of {fleet.SIDECARS + 1} containers; "
        f"largest state {max(sizes)} B"
    )
    assert deployed.services > 150
    assert (record.status, record.error) == ("SUCCEEDED", None)
    assert len(record.services) == deployed.services
    assert all(
        service.task_definition_after != service.task_definition_before
        for service in record.services
    )
    assert max(sizes) <= STATE_BUDGET


def _count_events(histories: dict[str, int]) -> Callable[[LocalCloud, EcsSimulation], None]:
    """A scenario's `inspect`: each execution's number of history events into ``histories``."""

    def count(cloud: LocalCloud, simulation: EcsSimulation) -> None:
        sfn = cloud.client("stepfunctions")
        for execution in sfn.list_executions(stateMachineArn=cloud.state_machine_arn())[
            "executions"
        ]:
            histories[execution["name"]] = sum(
                1 for _ in cloud.execution_history(execution["executionArn"])
            )

    return count


def test_the_longest_wait_at_the_fastest_poll_ends_in_a_named_timeout() -> None:
    scenario = SCENARIOS["never-stable-longest-wait"]
    histories: dict[str, int] = {}
    result = runner.run(scenario, inspect=_count_events(histories))
    deployment = max(histories.values())
    print(f"\n{scenario.name}: {deployment} history events (the limit is 25,000)")
    assert (result.status, result.last.error) == ("ROLLED_BACK", "DeployTimeout")
    assert "not steady after 1440 min" in (result.last.cause or "")
    assert deployment < 25_000 // 4  # room for four such phases


def test_a_day_long_blue_green_bake_stays_far_inside_the_history() -> None:
    # The longest bake ECS allows (1440 min), polled at the default poll: the polls back off
    # while ECS bakes, and nothing wakes the deployer meanwhile (ECS sends no event).
    scenario = dataclasses.replace(
        SCENARIOS["blue-green-happy"],
        name="blue-green-day-long-bake",
        web_deployment={"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 1440},
    )
    histories: dict[str, int] = {}
    result = runner.run(scenario, inspect=_count_events(histories))
    deployment = max(histories.values())
    print(
        f"\n{scenario.name}: {deployment} history events, {result.state_transitions} state "
        "transitions (the limit is 25,000 events)"
    )
    assert result.status == "SUCCEEDED"
    assert deployment < 25_000 // 4
