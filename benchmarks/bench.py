"""Print what a deployment costs: layer size, Lambda cold-start imports, API calls, state
transitions.

Figures, not pass/fail: run `make bench` before and after a change and compare.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

from ecs_deployer_tools.demo import event_waits, fleet, sample_app
from ecs_deployer_tools.demo.peers import WAITER_ATTEMPTS, aws_cli_deploy
from ecs_deployer_tools.demo.runner import run
from ecs_deployer_tools.demo.scenarios import SCENARIOS
from ecs_deployer_tools.localcloud.ecs_sim import EcsFaults, RolloutFault, RolloutOutcome

ROOT = Path(__file__).resolve().parents[1]
FUNCTIONS = sorted(path.parent.name for path in (ROOT / "functions").glob("*/app.py"))
IMPORT_PROBE = """
import importlib.util, json, sys, time
start = time.perf_counter()
spec = importlib.util.spec_from_file_location("handler", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
print(json.dumps({"ms": (time.perf_counter() - start) * 1000, "modules": len(sys.modules)}))
"""
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
                f"WHEELHOUSE={wheelhouse if wheelhouse.is_dir() else ''}",
            ],
            check=True,
            capture_output=True,
        )
        top = Path(artifacts) / "python"
        total = sum(path.stat().st_size for path in top.rglob("*") if path.is_file())
        sizes = {
            entry.name: sum(path.stat().st_size for path in entry.rglob("*") if path.is_file())
            for entry in top.iterdir()
            if entry.is_dir()
        }
    print(f"layer, unzipped: {total / 1e6:.1f} MB (target 20 MB)")
    for name, size in sorted(sizes.items(), key=lambda item: -item[1])[:6]:
        print(f"  {name:<28} {size / 1e6:7.1f} MB")


def cold_start_imports() -> None:
    """Each handler imported in a fresh interpreter: the init phase Lambda bills."""
    print("handler import (fresh interpreter, median of 3):")
    for function in FUNCTIONS:
        samples = []
        for _ in range(3):
            output = subprocess.run(  # noqa: S603  (our own interpreter and handler files)
                [sys.executable, "-c", IMPORT_PROBE, str(ROOT / "functions" / function / "app.py")],
                capture_output=True,
                text=True,
                check=True,
                # LAMBDA_TASK_ROOT, as Lambda sets it: the Tracer is on and patches botocore.
                env={
                    **os.environ,
                    **HANDLER_ENVIRONMENT,
                    "LAMBDA_TASK_ROOT": str(ROOT / "functions" / function),
                },
            ).stdout
            samples.append(json.loads(output.splitlines()[-1]))
        median = sorted(samples, key=lambda sample: sample["ms"])[1]
        print(f"  {function:<28} {median['ms']:7.1f} ms  {median['modules']:5d} modules")


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


EVENT_WAIT_ROLLOUTS = (90.0, 120.0, 300.0)


def event_wait_costs(rollouts: tuple[float, ...] = EVENT_WAIT_ROLLOUTS) -> None:
    """The event-driven waits: how soon after ECS's event each phase ends (virtual seconds),
    and the checks' DescribeServices with events (60 s safety poll) against 10 s polling."""
    print("event-driven waits (the happy scenario; rollouts of R seconds):")
    print(f"  {'R':>5} {'event to phase end':>30} {'describes':>9} {'polling':>7} {'ratio':>6}")
    for seconds in rollouts:
        events = event_waits.rollout_run(seconds, poll_seconds=60)
        polling = event_waits.rollout_run(seconds, poll_seconds=10, event_drop_rate=1.0)
        gaps = " ".join(f"{gap:.1f}" for gap in events.phase_end_gaps().values())
        print(
            f"  {seconds:>5.0f} {'pre/services/post ' + gaps + ' s':>30} "
            f"{events.check_describes:>9} {polling.check_describes:>7} "
            f"{polling.check_describes / events.check_describes:>5.1f}x"
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
    print(
        f"  {'world':<22} {'S':>4} {'ECS':>5} {'min':>5} {'ratio':>6} {'all':>5} "
        f"{'transitions':>11} {'Lambdas':>7} {'wall':>6}"
    )
    for world, faults in FLEET_WORLDS.items():
        for size in sizes:
            started = time.monotonic()
            deployed = fleet.deploy_fleet(size, faults)
            wall = time.monotonic() - started
            minimum = fleet.minimum_ecs_calls(
                deployed.services,
                deployed.tasks,
                *fleet.polls_to_finish(faults, deployed.poll_seconds),
            )
            print(
                f"  {world:<22} {deployed.services:>4} {deployed.ecs_calls:>5} {minimum:>5} "
                f"{deployed.ecs_calls / minimum:>5.2f}x {sum(deployed.api_calls.values()):>5} "
                f"{deployed.state_transitions:>11} {deployed.lambda_invocations:>7} "
                f"{wall:>5.1f}s  {deployed.record.status}"
            )


PEER_SIZES = (1, 10, 50)


def _peer_deploys(deployed: fleet.Fleet) -> tuple[list[bool], Counter[str]]:
    """The AWS CLI sequence run once per service of the fleet, as a CI job runs it."""
    ecs = deployed.cloud.client("ecs")
    image = f"{deployed.registry}/{sample_app.REPOSITORY}:{fleet.NEW_TAG}"
    verdicts, calls = [], Counter[str]()
    for service in deployed.config.services:
        run = aws_cli_deploy(
            ecs,
            sample_app.CLUSTER,
            service.name,
            family=service.name,
            container="app",
            image=image,
            advance=deployed.cloud.advance,
        )
        verdicts.append(run.succeeded)
        calls += run.calls
    return verdicts, calls


def peer_costs(sizes: tuple[int, ...] = PEER_SIZES) -> None:
    """The AWS CLI sequence (CI pipelines, the official GitHub Action) deploying S services,
    one a run. It reads nothing before it updates (it cannot roll back), runs no one-off
    task, and batches nothing."""
    print("the AWS CLI sequence, S services one a run (describe, register, update, wait):")
    print(f"  {'world':<22} {'S':>4} {'ECS':>5} {'per service':>12}")
    for world, faults in FLEET_WORLDS.items():
        for size in sizes:
            with fleet.fleet_cloud(size, faults) as deployed:
                _, calls = _peer_deploys(deployed)
            total = sum(calls.values())
            print(f"  {world:<22} {size:>4} {total:>5} {total / size:>12.1f}")


# The faults each tool is judged on, for the one service of a fleet of one.
VERDICT_FAULTS = {
    "ecs-auto-rollback": RolloutOutcome.AUTO_ROLLBACK,
    "never-stable": RolloutOutcome.NEVER_STABLE,
}


def verdicts() -> None:
    """What each tool reports when the rollout fails, and what ECS then runs."""
    print("verdicts on a failing rollout (one service; what the tool says / what then runs):")
    service = fleet.service_name(0)
    for world, lags in FLEET_WORLDS.items():
        for name, outcome in VERDICT_FAULTS.items():
            faults = replace(lags, services={service: RolloutFault(outcome)})
            deployer = fleet.deploy_fleet(1, faults).record
            with fleet.fleet_cloud(1, faults) as deployed:
                [succeeded], _ = _peer_deploys(deployed)
                deployed.cloud.advance(60.0)  # past any stale describe: what ECS really has
                after = deployed.cloud.client("ecs").describe_services(
                    cluster=sample_app.CLUSTER, services=[service]
                )
                deployments = after["services"][0]["deployments"]
            peer = "success" if succeeded else f"failure ({WAITER_ATTEMPTS} polls)"
            print(
                f"  {world:<22} {name:<18} deployer: {deployer.status:<12} "
                f"AWS CLI sequence: {peer:<19} ECS then: {len(deployments)} deployment(s), "
                f"the newest {deployments[0]['rolloutState']}"
            )


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


if __name__ == "__main__":
    layer_size()
    cold_start_imports()
    fleet_costs()
    peer_costs()
    verdicts()
    dispatch_costs()
    event_wait_costs()
    deployment_costs(sys.argv[1:] or ["happy", "rollout-fails"])
