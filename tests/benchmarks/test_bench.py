"""`make bench` runs: each figure it prints is produced (the figures themselves are not
asserted; they depend on the machine)."""

from __future__ import annotations

import runpy
from typing import TYPE_CHECKING, Any

import pytest

from ecs_deployer_tools.demo import fleet
from tests.template.cfn import FUNCTION_DIRS, REPO_ROOT

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

BENCH: dict[str, Any] = runpy.run_path(str(REPO_ROOT / "benchmarks" / "bench.py"))


def printed(figure: Callable[[], None], capsys: pytest.CaptureFixture[str]) -> list[str]:
    figure()
    return capsys.readouterr().out.splitlines()


def test_every_handler_imports_with_the_bench_environment(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # This environment's Python only: python3.13's rows build the layer from the index.
    lines = printed(lambda: BENCH["cold_start_imports"](None, 1), capsys)

    for folder in FUNCTION_DIRS.values():
        assert any(line.split()[:1] == [folder] and line.endswith("modules") for line in lines)


@pytest.mark.build
def test_the_layer_size_is_measured_from_a_build(capsys: pytest.CaptureFixture[str]) -> None:
    lines = printed(BENCH["layer_size"], capsys)

    assert lines[0].startswith("layer, unzipped: ")
    assert any(line.split()[:1] == ["botocore"] for line in lines[1:])


@pytest.mark.parametrize(("services", "minimum"), [(1, 11), (10, 38), (100, 335)])
def test_the_minimum_is_the_issues_formula(services: int, minimum: int) -> None:
    # F DescribeTaskDefinition + F RegisterTaskDefinition + S UpdateService
    # + ceil(S/10)(R+1) DescribeServices + ceil(T/10) RunTask + ceil(T/100) R DescribeTasks
    assert fleet.minimum_ecs_calls(services, 1, 2, 2) == minimum


def test_a_fleet_deployment_is_measured_in_both_worlds(capsys: pytest.CaptureFixture[str]) -> None:
    lines = printed(lambda: BENCH["fleet_costs"]((1,)), capsys)

    rows = [line.split() for line in lines if line.endswith("SUCCEEDED")]
    assert [row[0] for row in rows] == ["consistent", "eventually"]
    for row in rows:
        services, ecs, minimum = (int(row[-9]), int(row[-8]), int(row[-7]))
        assert (services, minimum) == (1, 11)
        assert ecs >= minimum


def test_each_tool_is_measured_side_by_side_in_both_worlds(
    capsys: pytest.CaptureFixture[str],
) -> None:
    runs = BENCH["peer_costs"]((1,))
    lines = capsys.readouterr().out.splitlines()

    tools = ["deployer", "ecs-deploy", "AWS CLI sequence"]
    assert [(run.world, run.tool) for run in runs] == [
        (world, tool) for world in ("consistent", "eventually consistent") for tool in tools
    ]
    for run in runs:
        assert (run.services, run.succeeded) == (1, 1)
        assert run.ecs_calls >= 4  # describe, register, update, describe at the least
    # In the consistent world every tool waits for the rollout it started, in simulated time
    # (give or take two of its polls: ecs-deploy describes twice before it first sleeps).
    rollout, polls = BENCH["ROLLOUT_SECONDS"], BENCH["POLL_SECONDS"]
    assert all(run.seconds >= rollout - 2 * polls[run.tool] for run in runs[:3])
    printed_tools = [line for line in lines[2:] if any(f" {tool} " in line for tool in tools)]
    assert len(printed_tools) == len(runs)


def test_each_tool_gives_its_verdict_on_a_failing_rollout(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Two services, the first one's rollout failing: the deployer rolls both back; each peer
    # deploys one after the other, and its verdict is the failing service's.
    lines = printed(
        lambda: BENCH["verdicts"](("consistent",), ("ecs-auto-rollback",), (2,)), capsys
    )

    rows = [line.split("ECS then:")[0].split() for line in lines[1:]]
    assert [row[2] for row in rows] == ["2"] * 3
    assert [row[3:-3] for row in rows] == [["deployer"], ["ecs-deploy"], ["AWS", "CLI", "sequence"]]
    # ecs-deploy sees the failure; the CLI sequence's `services-stable` waits out ECS's own
    # rollback and calls it a success.
    assert [row[-3] for row in rows] == ["ROLLED_BACK", "failure", "success"]


def test_the_bench_runs_the_parts_asked_for_in_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ran: list[str] = []
    parts = {name: (lambda name=name: ran.append(name)) for name in BENCH["PARTS"]}
    monkeypatch.setitem(BENCH["main"].__globals__, "PARTS", parts)

    BENCH["main"](["verdicts", "layer"])
    assert ran == ["layer", "verdicts"]
    BENCH["main"]([])
    assert ran[2:] == list(parts)
    with pytest.raises(SystemExit, match="unknown parts"):
        BENCH["main"](["chart"])


def test_the_chart_is_a_png_of_the_runs(tmp_path: Path) -> None:
    tool_run = BENCH["ToolRun"]
    runs = [
        tool_run(world, tool, size, 10 * size, 8 * size, 180.0 * size, size)
        for world in ("consistent", "eventually consistent")
        for tool in BENCH["POLL_SECONDS"]
        for size in (1, 10)
    ]
    chart = tmp_path / "chart.png"

    BENCH["write_chart"](runs, chart)

    assert chart.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_the_dispatch_cost_is_measured(capsys: pytest.CaptureFixture[str]) -> None:
    lines = printed(lambda: BENCH["dispatch_costs"]((2,), (4, 2, 1.0)), capsys)

    # (The in-process Lambdas print their metric lines too.)
    rows = [row for row in (line.split() for line in lines[1:]) if row[1:2] == ["apps"]]
    assert [row[:3] for row in rows] == [["2", "apps", "indexed"], ["2", "apps", "no"]]
    assert all(row[-1] == "SUCCEEDED" for row in rows)
    # with the index, the dispatch reads one config by name; without, every config
    assert [row[4] for row in rows if row[2] == "indexed"] == ["2"]  # + the admission's
    [burst] = [line for line in lines if "on their pushed image" in line]
    assert burst.endswith("deployments: 2 SUCCEEDED; on their pushed image: 2/2")


def test_the_event_driven_waits_are_measured(capsys: pytest.CaptureFixture[str]) -> None:
    lines = printed(lambda: BENCH["event_wait_costs"]((120.0,)), capsys)

    (row,) = [line.split() for line in lines if line.endswith("x")]
    assert row[0] == "120"
    reads, polling = int(row[-3]), int(row[-2])
    assert 0 < reads < polling
