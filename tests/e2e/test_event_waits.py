"""Event-driven waits on the local cloud: an ECS event ends a wait within 2 s (virtual) of
itself, polling calls drop at least 5x against 10-second polling, and a deployment whose
events are all lost still ends right, at its safety poll."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import pytest

from ecs_deployer_tools.demo import runner, sample_app
from ecs_deployer_tools.demo.scenarios import SCENARIOS, Scenario
from ecs_deployer_tools.localcloud.ecs_sim import EcsFaults

if TYPE_CHECKING:
    from datetime import datetime

    from ecs_deployer_tools.localcloud.cloud import LocalCloud
    from ecs_deployer_tools.localcloud.ecs_sim import EcsSimulation
    from ecs_deployer_tools.localcloud.ecs_sim.events import EcsEvent

pytestmark = pytest.mark.e2e

# A rollout of two minutes: against a 60-second safety poll, 10-second polling makes 6x the
# checks (at 90 s: 4.5x, 2 checks against 9; the ratio tends to 6x as rollouts grow).
ROLLOUT_SECONDS = 120.0


@dataclasses.dataclass
class Run:
    result: runner.ScenarioResult
    published: list[EcsEvent]
    history: list[dict[str, Any]]  # the deployment execution's
    # The polling calls: the DescribeServices of the services' checks (the rollout's and the
    # rollback's), not UpdateServices' or Finalize's, which no wait changes.
    check_describes: int

    def entered(self, state: str) -> list[datetime]:
        return [
            event["timestamp"]
            for event in self.history
            if event.get("stateEnteredEventDetails", {}).get("name") == state
        ]


def _run(*, poll_seconds: int, event_drop_rate: float = 0.0) -> Run:
    """The happy scenario with a rollout longer than a minute."""
    return _run_scenario(
        dataclasses.replace(
            SCENARIOS["happy"],
            faults=EcsFaults(seconds_to_complete=ROLLOUT_SECONDS, event_drop_rate=event_drop_rate),
            config={"poll_seconds": poll_seconds},
        )
    )


def _run_scenario(scenario: Scenario) -> Run:
    seen: dict[str, Any] = {}

    def inspect(cloud: LocalCloud, simulation: EcsSimulation) -> None:
        sfn = cloud.client("stepfunctions")
        (execution,) = [
            e
            for e in sfn.list_executions(stateMachineArn=cloud.state_machine_arn())["executions"]
            if e["name"].startswith(f"{sample_app.APP}-")
        ]
        seen["history"] = sfn.get_execution_history(
            executionArn=execution["executionArn"], maxResults=1000
        )["events"]
        seen["published"] = list(simulation.published)
        seen["check_describes"] = cloud.api_recorder.counts("CheckServicesFunction").get(
            "ecs.DescribeServices", 0
        )

    result = runner.run(scenario, inspect=inspect)
    assert result.as_expected, result.to_json()
    return Run(result, seen["published"], seen["history"], seen["check_describes"])


def _first_after(times: list[datetime], moment: datetime) -> datetime:
    return min(time for time in times if time >= moment.replace(microsecond=0))


def test_each_phase_ends_within_2_seconds_of_the_ecs_event_that_ends_it() -> None:
    run = _run(poll_seconds=60)
    completed = max(e.at for e in run.published if e.name == "SERVICE_DEPLOYMENT_COMPLETED")
    stopped = {
        phase: max(
            e.at
            for e in run.published
            if e.name == "TASK_STOPPED" and e.detail.get("group") == f"family:{family}"
        )
        for phase, family in (("Pre", sample_app.MIGRATE), ("Post", sample_app.SMOKE_TEST))
    }
    ends = {
        "ServicesDone?": (completed, _first_after(run.entered("ServicesDone?"), completed)),
        "PreTasksDone?": (
            stopped["Pre"],
            _first_after(run.entered("PreTasksDone?"), stopped["Pre"]),
        ),
        "PostTasksDone?": (
            stopped["Post"],
            _first_after(run.entered("PostTasksDone?"), stopped["Post"]),
        ),
    }
    for state, (event_at, judged_at) in ends.items():
        assert (judged_at - event_at).total_seconds() <= 2, (state, event_at, judged_at)
    # The services' wait was ended by the event, not by its 60-second safety poll.
    assert len(run.entered("CheckServices")) <= 2


def test_describe_services_calls_drop_5_times_against_10_second_polling() -> None:
    events = _run(poll_seconds=60)
    polling = _run(poll_seconds=10, event_drop_rate=1.0)
    assert events.check_describes * 5 <= polling.check_describes, (
        events.check_describes,
        polling.check_describes,
    )


def test_a_deployment_whose_events_are_all_lost_ends_at_its_safety_polls() -> None:
    run = _run_scenario(SCENARIOS["events-dropped"])
    assert run.result.to_json()["status"] == "SUCCEEDED"
    assert not [e for e in run.published if e.name == "SERVICE_DEPLOYMENT_COMPLETED"]
    # Every wait timed out (its safety poll) rather than being woken.
    timed_out = [e for e in run.history if e["type"] == "TaskTimedOut"]
    assert len(timed_out) >= 3
