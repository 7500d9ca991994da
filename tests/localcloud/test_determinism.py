"""The whole stack on virtual time: a demo scenario interleaves its executions the same way
on every run, whatever the machine's speed. Each run enters its own local cloud, so this
module does not use the shared mini stack."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from ecs_deployer_tools.demo import runner
from ecs_deployer_tools.demo.scenarios import SCENARIOS

if TYPE_CHECKING:
    from ecs_deployer_tools.localcloud.cloud import LocalCloud
    from ecs_deployer_tools.localcloud.ecs_sim import EcsSimulation

pytestmark = pytest.mark.e2e


def _trace(name: str) -> list[tuple[str, str, float]]:
    """Every history event of a demo scenario's executions as (execution, event type,
    seconds since the first push), by time (each execution's events in their own order)."""
    trace: list[tuple[str, str, float]] = []

    def inspect(cloud: LocalCloud, _simulation: EcsSimulation) -> None:
        sfn = cloud.client("stepfunctions")
        executions = sfn.list_executions(stateMachineArn=cloud.state_machine_arn())["executions"]
        start = min(execution["startDate"] for execution in executions)
        for execution in executions:
            history = sfn.get_execution_history(
                executionArn=execution["executionArn"], maxResults=1000
            )["events"]
            trace.extend(
                (execution["name"], event["type"], (event["timestamp"] - start).total_seconds())
                for event in history
            )
        trace.sort(key=lambda event: event[2])  # stable

    runner.run(SCENARIOS[name], inspect=inspect)
    return trace


def test_concurrent_pushes_interleave_the_same_way_on_every_run() -> None:
    first = _trace("concurrent-pushes")
    assert _trace("concurrent-pushes") == first
    # The second push came 0.15 s after the first, while the first deployment waited.
    # Each push's dispatch and deployment start at once; the second push 0.15 s later.
    assert [t for _, kind, t in first if kind == "ExecutionStarted"] == [0.0, 0.0, 0.15, 0.15]
