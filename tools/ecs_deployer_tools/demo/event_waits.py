"""Event-driven waits, measured on the local cloud: how soon after ECS's event a phase ends,
and how many polling calls (the checks' ECS reads) a rollout costs with events and
with 10-second polling. The e2e tests assert on these; `make bench` prints them."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from ecs_deployer_tools.demo import runner, sample_app
from ecs_deployer_tools.demo.scenarios import SCENARIOS, LambdaCrash, Scenario
from ecs_deployer_tools.localcloud.ecs_sim import EcsFaults

if TYPE_CHECKING:
    from datetime import datetime

    from ecs_deployer_tools.localcloud.cloud import LocalCloud
    from ecs_deployer_tools.localcloud.ecs_sim import EcsSimulation
    from ecs_deployer_tools.localcloud.ecs_sim.events import EcsEvent

# The phases a task-token wait ends, by the Choice state that routes on the check's verdict,
# and the event that ends each: the services' last deployment completed, a family's last
# task stopped.
PHASE_ENDS = {
    "PreTasksDone?": ("TASK_STOPPED", f"family:{sample_app.MIGRATE}"),
    "ServicesDone?": ("SERVICE_DEPLOYMENT_COMPLETED", None),
    "PostTasksDone?": ("TASK_STOPPED", f"family:{sample_app.SMOKE_TEST}"),
}

# What a services' check reads from ECS (steps/services.py check_services).
CHECK_READS = ("DescribeServiceDeployments", "DescribeServices")


@dataclasses.dataclass
class WaitsRun:
    result: runner.ScenarioResult
    published: list[EcsEvent]  # ECS's events that reached the bus
    history: list[dict[str, Any]]  # the deployment execution's
    # The polling calls: the ECS reads of the services' checks (the rollout's and the
    # rollback's: DescribeServiceDeployments, and DescribeServices where a check needs the
    # service), not UpdateServices' or Finalize's, which no wait changes.
    check_reads: int

    def entered(self, state: str) -> list[datetime]:
        return [
            event["timestamp"]
            for event in self.history
            if event.get("stateEnteredEventDetails", {}).get("name") == state
        ]

    def phase_end_gaps(self) -> dict[str, float]:
        """Per phase: seconds from ECS's event that ended it to the check that judged it
        (history times are whole seconds, as on AWS)."""
        gaps = {}
        for state, (name, group) in PHASE_ENDS.items():
            event_at = max(
                event.at
                for event in self.published
                if event.name == name and (group is None or event.detail.get("group") == group)
            )
            judged = min(t for t in self.entered(state) if t >= event_at.replace(microsecond=0))
            gaps[state] = (judged - event_at).total_seconds()
        return gaps


def rollout_run(rollout_seconds: float, *, poll_seconds: int) -> WaitsRun:
    """The happy scenario, each rollout taking `rollout_seconds`, its waits ended by ECS's
    events (else at their safety polls)."""
    return scenario_run(_with_rollouts(rollout_seconds, poll_seconds))


def polling_run(rollout_seconds: float, *, poll_seconds: int) -> WaitsRun:
    """The same, as the deployer polled before event-driven waits: no event arrives and no
    waiter registers (its function is missing, which no retry mends), so every wait is the
    plain Wait the Await states fall back to, at `poll_seconds`, then a tenth of the time
    waited (`document.wait_seconds`)."""
    scenario = _with_rollouts(rollout_seconds, poll_seconds, event_drop_rate=1.0)
    no_waiter = LambdaCrash(
        "RegisterWaiterFunction",
        count=_EVERY_WAIT,
        error_type="Lambda.ResourceNotFoundException",
    )
    return scenario_run(dataclasses.replace(scenario, crash=no_waiter))


# More waits than any rollout here makes.
_EVERY_WAIT = 10_000


def _with_rollouts(
    rollout_seconds: float, poll_seconds: int, *, event_drop_rate: float = 0.0
) -> Scenario:
    return dataclasses.replace(
        SCENARIOS["happy"],
        faults=EcsFaults(seconds_to_complete=rollout_seconds, event_drop_rate=event_drop_rate),
        config={"poll_seconds": poll_seconds},
    )


def scenario_run(scenario: Scenario) -> WaitsRun:
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
        calls = cloud.api_recorder.counts("CheckServicesFunction")
        seen["check_reads"] = sum(calls.get(f"ecs.{read}", 0) for read in CHECK_READS)

    result = runner.run(scenario, inspect=inspect, function_logs=None)
    return WaitsRun(result, seen["published"], seen["history"], seen["check_reads"])
