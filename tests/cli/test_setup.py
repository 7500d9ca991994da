"""What `make` installs for each target (read with `make -n -B`: every command it would run,
nothing run): the demo needs only the Python environment; tests and builds get the rest."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PYTHON_ENV = "requirements/dev.lock"
SAM_CLI = "requirements/sam.lock"
CHECKOV = "requirements/checkov.lock"
SCAN = "checkov --config-file .checkov.yaml"
WHEELHOUSE = "pip download"
NODE_PACKAGES = "npm ci"

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs make")


def _would_run(target: str) -> str:
    planned = subprocess.run(
        ["make", "-n", "-B", target], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return planned.stdout


def test_the_demo_installs_only_the_python_environment() -> None:
    commands = _would_run("demo")
    assert PYTHON_ENV in commands
    for other in (SAM_CLI, CHECKOV, WHEELHOUSE, NODE_PACKAGES):
        assert other not in commands


@pytest.mark.parametrize(
    ("target", "needs"),
    [
        ("test", (PYTHON_ENV, SAM_CLI, CHECKOV, SCAN, WHEELHOUSE, NODE_PACKAGES)),
        ("build", (PYTHON_ENV, SAM_CLI, WHEELHOUSE)),
        ("sam-cli", (SAM_CLI,)),
        ("checkov", (CHECKOV, SCAN)),
        ("wheelhouse", (WHEELHOUSE,)),
        ("node-packages", (NODE_PACKAGES,)),
    ],
)
def test_tests_and_builds_install_what_they_need(target: str, needs: tuple[str, ...]) -> None:
    commands = _would_run(target)
    for command in needs:
        assert command in commands
