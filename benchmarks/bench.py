"""Print what a deployment costs: layer size, Lambda cold-start imports, API calls, state
transitions; and the same deployments by peers (fabfuel's ecs-deploy, the AWS CLI
sequence) side by side, on simulated time, drawn in docs/benchmarks.png.

Figures, not pass/fail: run `make bench` before and after a change and compare.
"""

from __future__ import annotations

import json
import math
import os
import platform
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from msgspec.structs import fields

from ecs_deployer.config.models import AppConfig
from ecs_deployer_tools.demo import event_waits, fleet, sample_app
from ecs_deployer_tools.demo.peers import (
    ECS_DEPLOY_SLEEP,
    WAITER_DELAY,
    PeerRun,
    aws_cli_deploy,
    ecs_deploy_cli,
)
from ecs_deployer_tools.demo.runner import run
from ecs_deployer_tools.demo.scenarios import SCENARIOS
from ecs_deployer_tools.localcloud.ecs_sim import EcsFaults, RolloutFault, RolloutOutcome

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

    from ecs_deployer_tools.localcloud.cloud import LocalCloud

ROOT = Path(__file__).resolve().parents[1]
FUNCTIONS = sorted(path.parent.name for path in (ROOT / "functions").glob("*/app.py"))
# Imports a handler (argv[1]) as Lambda's init does, and prints how long it took: wall
# time, and CPU time, which other processes on this shared machine disturb less. First,
# what the runtime had imported before it loads the handler (the Python runtime interface
# client's bootstrap, awslambdaric 4.2.2: bootstrap.py and the modules it imports; its
# simplejson and C extension, which no handler imports, aside).
IMPORT_PROBE = """
import decimal, enum, importlib, importlib.util, json, logging, math, os, sys, time, traceback
start, cpu = time.perf_counter(), time.process_time()
spec = importlib.util.spec_from_file_location("app", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
print(json.dumps({
    "ms": (time.perf_counter() - start) * 1000,
    "cpu": (time.process_time() - cpu) * 1000,
    "modules": len(sys.modules),
}))
"""
# The Lambda runtime's Python, as `make target-python` installs it (`make build` compiles
# the layer's bytecode with it).
TARGET_PYTHON = ROOT / "build" / "python3.13" / "bin" / "python3.13"
IMPORT_SAMPLES = 5
HANDLER_ENVIRONMENT = {
    "CONFIG_PREFIX": "/ecs-deployer/apps",
    "DEPLOYMENTS_TABLE": "deployments",
    "ALLOWED_CLUSTERS": "demo",
    "TASK_FAMILY_PREFIXES": "shop-",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
}


def layer_size() -> None:
    """The shared layer as `make build` makes it, unzipped: Lambda's limit is 250 MB for a
    function and its layers, and every byte is read from a cold sandbox's disk."""
    wheelhouse = ROOT / "build" / "layer-wheels"  # offline when `make wheelhouse` ran
    offline = f"WHEELHOUSE={wheelhouse if wheelhouse.is_dir() else ''}"
    compiler = f"TARGET_PYTHON={TARGET_PYTHON if TARGET_PYTHON.is_file() else ''}"
    with _built_layer(offline, compiler) as top:
        total = sum(path.stat().st_size for path in top.rglob("*") if path.is_file())
        sizes = {
            entry.name: sum(path.stat().st_size for path in entry.rglob("*") if path.is_file())
            for entry in top.iterdir()
            if entry.is_dir()
        }
    bytecode = "with python3.13's bytecode" if TARGET_PYTHON.is_file() else "without bytecode"
    print(f"layer, unzipped: {total / 1e6:.1f} MB (target 20 MB), {bytecode}")
    for name, size in sorted(sizes.items(), key=lambda item: -item[1])[:6]:
        print(f"  {name:<28} {size / 1e6:7.1f} MB")


def cold_start_imports(
    target_python: Path | None = TARGET_PYTHON, samples: int = IMPORT_SAMPLES
) -> None:
    """Each handler imported in a fresh interpreter: the init phase Lambda bills.

    On python3.13 (if `make target-python` installed it), with the layer as `make build`
    makes it, built for this machine's processor: with its bytecode, and without (a layer
    built where no python3.13 was), whose every module then compiles at each cold start,
    since Lambda's /opt is read-only. Then on this environment's Python, with the bytecode
    it has cached, where no python3.13 is.
    """
    print(f"handler import (fresh interpreter, median of {samples}), wall / CPU ms:")
    if target_python is not None and target_python.is_file():
        with _host_layer(target_python) as compiled, _host_layer(None) as sources:
            print(f"  {'':<28} {'python3.13, layer bytecode':>27} {'python3.13, sources':>21}")
            for function in FUNCTIONS:
                fast, slow = (
                    _import_time(function, target_python, layer, samples)
                    for layer in (compiled, sources)
                )
                print(f"  {function:<28} {_figures(fast):>27} {_figures(slow):>21}  "
                      f"{fast['modules']:4.0f} modules")  # fmt: skip
    else:
        print(f"  (no {TARGET_PYTHON.relative_to(ROOT)}: `make target-python`)")
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    print(f"  {'':<28} {version + ', cached bytecode':>27}")
    for function in FUNCTIONS:
        cached = _import_time(function, Path(sys.executable), None, samples)
        print(f"  {function:<28} {_figures(cached):>27}  {cached['modules']:4.0f} modules")


def _figures(sample: dict[str, float]) -> str:
    return f"{sample['ms']:6.1f} / {sample['cpu']:6.1f}"


@contextmanager
def _host_layer(compiler: Path | None) -> Iterator[Path]:
    """The layer with the wheels of this machine's processor (from the index: the wheelhouse
    has arm64's), its bytecode compiled by ``compiler`` (python3.13), or none."""
    machine = platform.machine()
    platforms = f"LAYER_PLATFORMS=manylinux2014_{machine} manylinux_2_28_{machine}"
    with _built_layer(platforms, f"TARGET_PYTHON={compiler or ''}") as layer:
        yield layer


@contextmanager
def _built_layer(*make_variables: str) -> Iterator[Path]:
    """The layer's python/ directory as layers/Makefile builds it, with ``make_variables``."""
    with tempfile.TemporaryDirectory() as artifacts:
        subprocess.run(  # noqa: S603  (our own Makefile)
            [  # noqa: S607  (make from PATH, as `make bench` itself)
                "make",
                "--no-print-directory",
                "-C",
                str(ROOT / "layers"),
                "build-SharedLayer",
                f"ARTIFACTS_DIR={artifacts}",
                f"PYTHON={sys.executable}",
                *make_variables,
            ],
            check=True,
            capture_output=True,
        )
        yield Path(artifacts) / "python"


def _import_time(function: str, python: Path, layer: Path | None, samples: int) -> dict[str, float]:
    """The median of ``samples`` imports of ``function``'s handler (IMPORT_PROBE), by
    ``python`` with ``layer`` on its path as on Lambda, or with this environment's."""
    handler_dir = ROOT / "functions" / function
    environment = {
        **HANDLER_ENVIRONMENT,
        # As Lambda sets it: the Tracer is on and patches botocore.
        "LAMBDA_TASK_ROOT": str(handler_dir),
    }
    if layer is None:
        environment = os.environ | environment
    else:  # only the function and the layer, read-only as /opt
        environment |= {
            "PATH": os.environ["PATH"],
            "PYTHONPATH": f"{handler_dir}:{layer}",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
    results = []
    for _ in range(samples):
        output = subprocess.run(  # noqa: S603  (our own interpreter and handler files)
            [str(python), "-c", IMPORT_PROBE, str(handler_dir / "app.py")],
            capture_output=True,
            text=True,
            check=True,
            env=environment,
        ).stdout
        results.append(json.loads(output.splitlines()[-1]))
    return {
        key: sorted(result[key] for result in results)[samples // 2]
        for key in ("ms", "cpu", "modules")
    }


def deployment_costs(names: list[str]) -> None:
    print("deployment on the local cloud:")
    for name in names:
        result = run(SCENARIOS[name], function_logs=None)
        calls = result.api_calls
        ecs = {op: n for op, n in sorted(calls.items()) if op.startswith("ecs.")}
        print(
            f"  {name:<12} {result.status:<12} {result.state_transitions:4d} state transitions, "
            f"{sum(calls.values()):4d} API calls ({sum(ecs.values())} ECS), "
            f"{result.elapsed_seconds} s"
        )
        for operation, count in ecs.items():
            print(f"  {'':<12} {operation:<32} {count:4d}")


EVENT_WAIT_ROLLOUTS = (65.0, 90.0, 120.0, 300.0, 600.0)


def event_wait_costs(rollouts: tuple[float, ...] = EVENT_WAIT_ROLLOUTS) -> None:
    """The event-driven waits: how soon after ECS's event each phase ends (virtual seconds),
    and the checks' ECS reads with events (`poll_seconds` 60: a first safety poll of 120 s)
    against 10 s polling."""
    print("event-driven waits (the happy scenario; rollouts of R seconds):")
    print(f"  {'R':>5} {'event to phase end':>30} {'reads':>9} {'polling':>7} {'ratio':>6}")
    for seconds in rollouts:
        events = event_waits.rollout_run(seconds, poll_seconds=60)
        polling = event_waits.polling_run(seconds, poll_seconds=10)
        gaps = " ".join(f"{gap:.1f}" for gap in events.phase_end_gaps().values())
        print(
            f"  {seconds:>5.0f} {'pre/services/post ' + gaps + ' s':>30} "
            f"{events.check_reads:>9} {polling.check_reads:>7} "
            f"{polling.check_reads / events.check_reads:>5.1f}x"
        )


FLEET_SIZES: tuple[int | None, ...] = (1, 10, 50, None)  # None: the largest config
# The minimum assumes every describe shows the latest change; AWS's eventual consistency
# (which the local cloud simulates by default) costs describes on top.
FLEET_WORLDS = {
    "consistent": EcsFaults(describe_lag=0, service_describe_lag=0),
    "eventually consistent": EcsFaults(),
}


def fleet_costs(sizes: tuple[int | None, ...] = FLEET_SIZES) -> None:
    """One push deploying S services (a family each) and a pre-deploy task, against the
    fewest ECS calls that can do it (fleet.minimum_ecs_calls)."""
    print("one push, S services and a pre-deploy task (largest: as many as a config holds):")
    print("  (each rollout takes two polls; `simulated` is the virtual time it took)")
    print(
        f"  {'world':<22} {'S':>4} {'ECS':>5} {'min':>5} {'ratio':>6} {'all':>5} "
        f"{'transitions':>11} {'Lambdas':>7} {'simulated':>9}"
    )
    for world, faults in FLEET_WORLDS.items():
        for size in sizes:
            deployed = fleet.deploy_fleet(size, faults)
            minimum = fleet.minimum_ecs_calls(
                deployed.services,
                deployed.tasks,
                *fleet.polls_to_finish(faults, deployed.poll_seconds),
            )
            print(
                f"  {world:<22} {deployed.services:>4} {deployed.ecs_calls:>5} {minimum:>5} "
                f"{deployed.ecs_calls / minimum:>5.2f}x {sum(deployed.api_calls.values()):>5} "
                f"{deployed.state_transitions:>11} {deployed.lambda_invocations:>7} "
                f"{deployed.seconds:>8.0f}s  {deployed.record.status}"
            )


# The side by side runs each tool on virtual time (`demo/peers.py`), with rollouts of a
# realistic length: health checks pass after 5 x 30 s by default, so about three minutes for
# a service behind a load balancer. A failing rollout takes as long before ECS gives up.
ROLLOUT_SECONDS = 180
POLL_SECONDS = {  # each tool's interval between describes, as its users run it
    "deployer": next(f.default for f in fields(AppConfig) if f.name == "poll_seconds"),
    "ecs-deploy": ECS_DEPLOY_SLEEP,
    "AWS CLI sequence": WAITER_DELAY,
}
CHART = ROOT / "docs" / "benchmarks.png"


def at_pace(world: EcsFaults, fault: RolloutOutcome | None = None) -> EcsFaults:
    """``world`` where each rollout takes ROLLOUT_SECONDS, and the first service's ends by
    ``fault`` (if any) after as long."""
    services = (
        {fleet.service_name(0): RolloutFault(fault, seconds=ROLLOUT_SECONDS)} if fault else {}
    )
    return replace(world, seconds_to_complete=ROLLOUT_SECONDS, services=services)


@dataclass(frozen=True)
class ToolRun:
    """One tool deploying S services: its ECS calls, the simulated time to its verdicts."""

    world: str
    tool: str
    services: int
    ecs_calls: int
    minimum: int  # the minimum for the same job, rollouts polled every 10 s
    seconds: float
    succeeded: int  # services it reported deployed


def _deployer_run(world: str, size: int | None) -> ToolRun:
    faults = at_pace(FLEET_WORLDS[world])
    deployed = fleet.deploy_fleet(size, faults, POLL_SECONDS["deployer"])
    rollout_polls, task_polls = fleet.polls_to_finish(faults, POLL_SECONDS["deployer"])
    minimum = fleet.minimum_ecs_calls(deployed.services, deployed.tasks, rollout_polls, task_polls)
    succeeded = deployed.services if deployed.record.status == "SUCCEEDED" else 0
    return ToolRun(
        world, "deployer", deployed.services, deployed.ecs_calls, minimum, deployed.seconds,
        succeeded,
    )  # fmt: skip


def _peer_run(world: str, tool: str, size: int | None) -> ToolRun:
    """``tool`` run once per service of a fleet, one after the other, as a CI job runs it."""
    faults = at_pace(FLEET_WORLDS[world])
    with fleet.fleet_cloud(size, faults) as deployed:
        runs = [_peer_deploy(tool, deployed, service.name) for service in deployed.config.services]
    services = len(runs)
    minimum = fleet.minimum_ecs_calls(
        services, 0, *fleet.polls_to_finish(faults, POLL_SECONDS["deployer"])
    )
    return ToolRun(
        world,
        tool,
        services,
        sum(sum(run.calls.values()) for run in runs),
        minimum,
        sum(run.seconds for run in runs),
        sum(run.succeeded for run in runs),
    )


def _peer_deploy(tool: str, deployed: fleet.Fleet, service: str) -> PeerRun:
    image = f"{deployed.registry}/{sample_app.REPOSITORY}:{fleet.NEW_TAG}"
    if tool == "ecs-deploy":
        return ecs_deploy_cli(
            deployed.cloud, sample_app.CLUSTER, service, container="app", image=image
        )
    return aws_cli_deploy(
        deployed.cloud, sample_app.CLUSTER, service, family=service, container="app", image=image
    )


def peer_costs(sizes: tuple[int | None, ...] = FLEET_SIZES) -> list[ToolRun]:
    """Each tool deploying S services (the deployer in one push, the peers one service a
    run): ECS calls against the minimum, and the simulated time until its verdicts."""
    print(
        f"side by side: S services, each rollout {ROLLOUT_SECONDS} s; time is simulated "
        "(virtual), from the start to the last verdict:"
    )
    print(
        f"  {'world':<22} {'tool':<17} {'S':>4} {'ECS':>6} {'min':>5} {'ratio':>6} "
        f"{'simulated':>10} {'said ok':>8}"
    )
    runs = []
    for world in FLEET_WORLDS:
        for size in sizes:
            for tool in POLL_SECONDS:
                run = (
                    _deployer_run(world, size)
                    if tool == "deployer"
                    else _peer_run(world, tool, size)
                )
                runs.append(run)
                print(
                    f"  {world:<22} {tool:<17} {run.services:>4} {run.ecs_calls:>6} "
                    f"{run.minimum:>5} {run.ecs_calls / run.minimum:>5.2f}x "
                    f"{run.seconds / 60:>8.1f} m {run.succeeded:>8}"
                )
    return runs


def write_chart(runs: list[ToolRun], path: Path = CHART) -> None:
    """ECS calls and simulated time against S, a line per tool, in the consistent world
    (where every tool waits for the rollout it started)."""
    import matplotlib  # noqa: PLC0415  (a dev dependency of the benchmark alone)

    matplotlib.use("Agg")  # no display, no GUI toolkit
    from matplotlib import pyplot  # noqa: PLC0415

    figure, (calls, minutes) = pyplot.subplots(1, 2, figsize=(11, 4.2))
    for tool in POLL_SECONDS:
        mine = [run for run in runs if run.tool == tool and run.world == "consistent"]
        sizes = [run.services for run in mine]
        calls.plot(sizes, [run.ecs_calls for run in mine], marker="o", label=tool)
        minutes.plot(sizes, [run.seconds / 60 for run in mine], marker="o", label=tool)
    consistent = [run for run in runs if run.tool == "deployer" and run.world == "consistent"]
    calls.plot(
        [run.services for run in consistent], [run.minimum for run in consistent],
        linestyle="--", color="grey", label="minimum",
    )  # fmt: skip
    calls.set(title="ECS API calls", xlabel="services (S)", ylabel="calls")
    minutes.set(
        title=f"Time to verdict (simulated; rollouts of {ROLLOUT_SECONDS} s)",
        xlabel="services (S)",
        ylabel="minutes",
    )
    for axes in (calls, minutes):
        axes.set_xscale("log")
        axes.set_yscale("log")
        axes.grid(visible=True, which="major", alpha=0.3)
        axes.legend()
    figure.suptitle(
        "S services deployed on the local cloud, describes consistent "
        "(make bench; benchmarks/bench.py)"
    )
    figure.tight_layout()
    # No creation software or date in the file: the same figures make the same PNG.
    figure.savefig(path, dpi=100, metadata={"Software": None})
    pyplot.close(figure)
    print(f"chart: {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")


# The faults each tool is judged on, for the one service of a fleet of one.
VERDICT_FAULTS = {
    "ecs-auto-rollback": RolloutOutcome.AUTO_ROLLBACK,
    "never-stable": RolloutOutcome.NEVER_STABLE,
}


VERDICT_SIZES = (1, 10, 50)


def verdicts(
    worlds: tuple[str, ...] = tuple(FLEET_WORLDS),
    fault_names: tuple[str, ...] = tuple(VERDICT_FAULTS),
    sizes: tuple[int, ...] = VERDICT_SIZES,
) -> None:
    """What each tool reports when the first of S services' rollouts fails (the others
    succeed), after how long (simulated), and what ECS runs on that service once its rollout
    has ended (or after as long again, when it never ends). The deployer deploys the S in
    one push; a peer, one service a run, as a CI job runs it."""
    print("verdicts when the first of S services' rollout fails (simulated time to the last):")
    for world in worlds:
        for name in fault_names:
            lags, outcome = FLEET_WORLDS[world], VERDICT_FAULTS[name]
            for size in sizes:
                for tool, poll_seconds in POLL_SECONDS.items():
                    faults = at_pace(lags, outcome)
                    if tool == "deployer":
                        deployed = fleet.deploy_fleet(size, faults, poll_seconds)
                        verdict: str = deployed.record.status
                        seconds = deployed.seconds
                        then = "as it says"
                    else:
                        with fleet.fleet_cloud(size, faults) as peer:
                            runs = [
                                _peer_deploy(tool, peer, service.name)
                                for service in peer.config.services
                            ]
                            verdict = "success" if runs[0].succeeded else "failure"
                            seconds = sum(run.seconds for run in runs)
                            then = _ecs_then(peer.cloud, tool, faults)
                    print(
                        f"  {world:<22} {name:<18} {size:>3} {tool:<17} {verdict:<12} "
                        f"{seconds / 60:>6.1f} m  ECS then: {then}"
                    )


def _ecs_then(cloud: LocalCloud, tool: str, faults: EcsFaults) -> str:
    """The fleet's one service once its newest deployment has ended, describing it at the
    tool's pace for as long as a rollout and its rollback take; past any stale describe
    first."""
    cloud.advance(faults.describe_lag_seconds)
    for _ in range(math.ceil(2 * faults.seconds_to_complete / POLL_SECONDS[tool]) + 1):
        described = cloud.client("ecs").describe_services(
            cluster=sample_app.CLUSTER, services=[fleet.service_name(0)]
        )
        deployments = described["services"][0]["deployments"]
        if deployments[0]["rolloutState"] != "IN_PROGRESS":
            break
        cloud.advance(POLL_SECONDS[tool])
    newest = deployments[0]
    image = "the new image" if newest["taskDefinition"].endswith(":2") else "the old image"
    return f"{len(deployments)} deployment(s), the newest {newest['rolloutState']} ({image})"


DISPATCH_APPS = (10, 100, 500)
# A burst: 500 apps stored, 50 pushes each to another app within 10 (virtual) seconds.
DISPATCH_BURST = (500, 50, 10.0)


def _calls_of(calls: dict[str, int], service: str) -> int:
    return sum(n for call, n in calls.items() if call.startswith(f"{service}."))


def dispatch_costs(
    apps: tuple[int, ...] = DISPATCH_APPS, burst: tuple[int, int, float] = DISPATCH_BURST
) -> None:
    """Resolve's calls for one push (its dispatch and the deployment it admits), with more
    and more apps' configs stored: with the config index built, a push reads the index and
    the configs of the apps it lists; without (a stack whose index was never built), every
    config (GetParametersByPath, ten a page). Then a burst of pushes to different apps."""
    print("one push, with N app configs stored (the Resolve function's calls):")
    for count in apps:
        for indexed in (True, False):
            cost = fleet.dispatch_cost(count, indexed=indexed)
            print(
                f"  {count:>4} apps  {'indexed' if indexed else 'no index':<8}  "
                f"SSM {_calls_of(cost.calls, 'ssm'):>4}  "
                f"DynamoDB {_calls_of(cost.calls, 'dynamodb'):>3}  "
                f"all {sum(cost.calls.values()):>4}  {cost.status}"
            )
    stored, pushes, seconds = burst
    result = fleet.dispatch_burst(stored, pushes, seconds)
    print(
        f"{pushes} pushes to {pushes} apps within {seconds:g} s, {stored} apps stored "
        "(every function's calls, per push):"
    )
    print(
        f"  SSM {result.per_push('ssm'):.1f}  ECS {result.per_push('ecs'):.1f}  "
        f"DynamoDB {result.per_push('dynamodb'):.1f}  SSM throttling: not modelled"
    )
    statuses = ", ".join(f"{n} {status}" for status, n in sorted(result.statuses.items()))
    print(f"  deployments: {statuses}; on their pushed image: {result.on_their_image}/{pushes}")


# Every part of the benchmark, in the order `make bench` (`ecs-deployer local bench`) runs
# them; each prints its figures.
PARTS: dict[str, Callable[[], object]] = {
    "layer": layer_size,
    "cold-start": cold_start_imports,
    "fleet": fleet_costs,
    "side-by-side": lambda: write_chart(peer_costs()),
    "verdicts": verdicts,
    "dispatch": dispatch_costs,
    "event-waits": event_wait_costs,
    "scenarios": lambda: deployment_costs(["happy", "rollout-fails"]),
}


def main(parts: Sequence[str] = ()) -> None:
    """Run the named parts of the benchmark (all by default), in PARTS' order."""
    unknown = set(parts) - set(PARTS)
    if unknown:
        raise SystemExit(f"unknown parts {sorted(unknown)}: choose from {', '.join(PARTS)}")
    for name, part in PARTS.items():
        if not parts or name in parts:
            part()


if __name__ == "__main__":
    main(sys.argv[1:])
