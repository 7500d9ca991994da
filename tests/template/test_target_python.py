"""`make target-python` (layers/fetch_target_python.sh): the machine's own python3.13 when it
really is 3.13, else Debian's, fetched with apt. A fake apt-get on the PATH records whether
the script went to fetch (and fails it: no network in a test)."""

from __future__ import annotations

import os
import subprocess
from typing import TYPE_CHECKING

import pytest

from tests.template.cfn import REPO_ROOT

if TYPE_CHECKING:
    from pathlib import Path

SCRIPT = REPO_ROOT / "layers" / "fetch_target_python.sh"
# A real python3.13: the one `make setup` (make target-python) provided.
PYTHON313 = REPO_ROOT / "build" / "python3.13" / "bin" / "python3.13"


def _run_with(tmp_path: Path, python313: Path) -> tuple[subprocess.CompletedProcess[str], Path]:
    """Run the script with ``python313`` as the PATH's python3.13; its run, and the
    directory it provides python3.13 in."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python3.13").symlink_to(python313)
    fake_apt = bin_dir / "apt-get"
    fake_apt.write_text(f'#!/bin/sh\necho "$*" >>"{tmp_path}/apt-get.log"\nexit 1\n')
    fake_apt.chmod(0o755)
    target = tmp_path / "target"
    result = subprocess.run(
        ["sh", str(SCRIPT), str(target)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        env=os.environ | {"PATH": f"{bin_dir}:/usr/bin:/bin"},
    )
    return result, target


def test_a_python313_on_the_path_is_used_without_fetching(tmp_path: Path) -> None:
    if not PYTHON313.is_file():
        pytest.skip(f"no {PYTHON313.relative_to(REPO_ROOT)}: `make target-python`")
    result, target = _run_with(tmp_path, PYTHON313)
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "apt-get.log").exists()
    version = subprocess.run(
        [str(target / "bin" / "python3.13"), "-c", "import sys; print(sys.version_info[:2])"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert version.stdout.strip() == "(3, 13)"


def test_a_python313_that_is_another_version_is_not_used(tmp_path: Path) -> None:
    # As a pyenv shim can be: named python3.13, running another version.
    other = tmp_path / "python3.12"
    other.write_text('#!/bin/sh\necho "AssertionError: 3.12.9" >&2\nexit 1\n')
    other.chmod(0o755)
    result, target = _run_with(tmp_path, other)
    assert result.returncode != 0  # the fake apt-get fails the fetch
    assert (tmp_path / "apt-get.log").read_text().splitlines()[0].endswith("update")
    assert not (target / "bin" / "python3.13").exists()
