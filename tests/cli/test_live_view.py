"""The live view of `deploy`, `rollback`, `follow` and the demo: one line per phase with
the time since the execution started, never the state machine's Choice and Wait states;
exit codes as `app=0`; a task that never ran says so."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

from ecs_deployer.outcome import TaskSummary
from ecs_deployer_tools.cli.live import PHASES, LiveView, print_summary
from ecs_deployer_tools.cli.output import console
from ecs_deployer_tools.operator.follow import ExecutionOutcome

ASL = Path(__file__).resolve().parents[2] / "statemachine" / "deploy.asl.json"
# A deployment's states as it enters them, with the seconds since it started.
STATES = [
    ("Resolve", 0),
    ("RouteRequest", 1),
    ("AcquireLock", 1),
    ("LockAcquired?", 1),
    ("RegisterTaskDefinitions", 2),
    ("HasPreTasks?", 2),
    ("RunPreTasks", 3),
    ("AwaitPreTasks", 3),
    ("CheckPreTasks", 13),
    ("PreTasksDone?", 13),
    ("AwaitPreTasks", 13),
    ("CheckPreTasks", 23),
    ("PreTasksDone?", 23),
    ("CheckpointBeforeServices", 24),
    ("UpdateServices", 24),
    ("AwaitServices", 25),
    ("CheckServices", 95),
    ("ServicesDone?", 95),
    ("HasPostTasks?", 95),
    ("Finalize", 3725),
    ("RouteOutcome", 3726),
    ("Deployed", 3726),
]


def _printed(view: LiveView, states: list[tuple[str, int]]) -> list[str]:
    with console.capture() as captured:
        for state, seconds in states:
            view.entered("shop-manual-1", state, timedelta(seconds=seconds))
    return captured.get().splitlines()


def test_one_line_per_phase_with_the_elapsed_time() -> None:
    lines = _printed(LiveView(show_execution=False), STATES)
    assert [line.split(maxsplit=1) for line in lines] == [
        ["0:00", "check the request"],
        ["0:01", "lock"],
        ["0:02", "register task definitions"],
        ["0:03", "tasks before the rollout"],
        ["0:24", "rollout"],
        ["1:02:05", "finalize"],
    ]


def test_a_deployment_superseded_at_the_checkpoint_never_shows_a_rollout() -> None:
    states = [("RunPreTasks", 3), ("CheckpointBeforeServices", 9), ("Finalize", 9)]
    lines = _printed(LiveView(show_execution=False), states)
    assert [line.split(maxsplit=1)[1] for line in lines] == [
        "tasks before the rollout",
        "finalize",
    ]


def test_several_executions_are_told_apart() -> None:
    view = LiveView()
    with console.capture() as captured:
        view.entered("dispatcher", "Resolve", timedelta(0))
        view.entered("shop-1a2b", "Resolve", timedelta(0))
        view.entered("dispatcher", "Dispatch", timedelta(seconds=1))
    assert [line.split()[:2] for line in captured.get().splitlines()] == [
        ["dispatcher", "0:00"],
        ["shop-1a2b", "0:00"],
        ["dispatcher", "0:01"],
    ]


def test_among_several_executions_each_says_how_it_ended_and_why() -> None:
    ignored = ExecutionOutcome(
        "arn", "dispatcher", "SUCCEEDED", "IGNORED", message="tag 'main-1' matches no v*"
    )
    with console.capture() as captured:
        LiveView().ended("dispatcher", ignored, timedelta(seconds=1))
        LiveView(show_execution=False).ended("dispatcher", ignored, timedelta(seconds=1))
    [line] = captured.get().splitlines()
    assert line.split(maxsplit=2) == ["dispatcher", "0:01", "IGNORED: tag 'main-1' matches no v*"]


def test_every_step_and_wait_of_the_state_machine_has_a_phase() -> None:
    definition = json.loads(ASL.read_text())

    def steps(states: dict[str, Any]) -> set[str]:
        found = set()
        for name, state in states.items():
            if state["Type"] in ("Task", "Map", "Wait"):
                found.add(name)
            if state["Type"] == "Map":
                found |= steps(state["ItemProcessor"]["States"])
        return found

    assert steps(definition["States"]) <= PHASES.keys()


def _task(state: str, *results: dict[str, int | None]) -> dict[str, Any]:
    return {
        "config": {"family": "shop-migrate"},
        "state": state,
        "results": [{"exit_codes": codes} for codes in results],
    }


def test_exit_codes_read_as_container_equals_code() -> None:
    view = LiveView(show_execution=False)
    deployment = {
        "services": [],
        "pre_tasks": [_task("SUCCEEDED", {"app": 0, "log-router": 137}, {"app": 0})],
        "post_tasks": [{**_task("FAILED"), "config": {"family": "shop-smoke-test"}}],
    }
    with console.capture() as captured:
        view.checked("shop-manual-1", deployment)
    assert [line.strip() for line in captured.get().splitlines()] == [
        "shop-migrate: SUCCEEDED, app=0 log-router=137; app=0",
        "shop-smoke-test: FAILED, not run",
    ]
    tasks = [
        TaskSummary(family="shop-migrate", phase="pre", state="FAILED", exit_codes=[{"app": 1}]),
        TaskSummary(family="shop-smoke-test", phase="post", state="FAILED", exit_codes=[]),
        TaskSummary(family="shop-seed", phase="post", state="FAILED", exit_codes=[{"app": None}]),
    ]
    with console.capture() as captured:
        print_summary([], tasks)
    table = captured.get()
    assert "app=1" in table
    assert "not run" in table
    assert "app=none" in table
    assert "{" not in table


def test_a_service_paused_at_a_pause_hook_shows_it_waits_for_approval() -> None:
    view = LiveView(show_execution=False)
    web = {
        "name": "shop-web",
        "state": "IN_PROGRESS",
        "progress": "2/2 tasks running, POST_TEST_TRAFFIC_SHIFT",
        "paused": {"hook_id": "ecs-pause-1", "stage": "POST_TEST_TRAFFIC_SHIFT"},
    }
    with console.capture() as captured:
        view.checked("shop-manual-1", {"services": [web]})
        # Approved: the deployer continued it, so it waits for nobody any more.
        continued = {
            "hook_id": "ecs-pause-1",
            "stage": "POST_TEST_TRAFFIC_SHIFT",
            "continued": True,
        }
        view.checked("shop-manual-1", {"services": [{**web, "paused": continued}]})
    assert [line.strip() for line in captured.get().splitlines()] == [
        "shop-web: 2/2 tasks running, POST_TEST_TRAFFIC_SHIFT (waiting for approval at "
        "POST_TEST_TRAFFIC_SHIFT)",
        "shop-web: 2/2 tasks running, POST_TEST_TRAFFIC_SHIFT (IN_PROGRESS)",
    ]
