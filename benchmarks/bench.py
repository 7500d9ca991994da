"""Print what a deployment costs: Lambda cold-start imports, API calls, state transitions.

Figures, not pass/fail: run `make bench` before and after a change and compare.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from ecs_deployer_tools.demo.runner import run
from ecs_deployer_tools.demo.scenarios import SCENARIOS

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
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
}


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
        result = run(SCENARIOS[name])
        calls = result.api_calls
        ecs = {op: n for op, n in sorted(calls.items()) if op.startswith("ecs.")}
        print(
            f"  {name:<12} {result.status:<12} {result.state_transitions:4d} state transitions, "
            f"{sum(calls.values()):4d} API calls ({sum(ecs.values())} ECS), "
            f"{result.elapsed_seconds} s"
        )
        for operation, count in ecs.items():
            print(f"  {'':<12} {operation:<32} {count:4d}")


if __name__ == "__main__":
    cold_start_imports()
    deployment_costs(sys.argv[1:] or ["happy", "rollout-fails"])
