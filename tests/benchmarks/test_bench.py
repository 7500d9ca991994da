"""`make bench` runs: each figure it prints is produced (the figures themselves are not
asserted; they depend on the machine)."""

from __future__ import annotations

import runpy
from typing import TYPE_CHECKING, Any

import pytest

from tests.template.cfn import FUNCTION_DIRS, REPO_ROOT

if TYPE_CHECKING:
    from collections.abc import Callable

BENCH: dict[str, Any] = runpy.run_path(str(REPO_ROOT / "benchmarks" / "bench.py"))


def printed(figure: Callable[[], None], capsys: pytest.CaptureFixture[str]) -> list[str]:
    figure()
    return capsys.readouterr().out.splitlines()


def test_every_handler_imports_with_the_bench_environment(
    capsys: pytest.CaptureFixture[str],
) -> None:
    lines = printed(BENCH["cold_start_imports"], capsys)

    for folder in FUNCTION_DIRS.values():
        assert any(line.split()[:1] == [folder] and line.endswith("modules") for line in lines)


@pytest.mark.build
def test_the_layer_size_is_measured_from_a_build(capsys: pytest.CaptureFixture[str]) -> None:
    lines = printed(BENCH["layer_size"], capsys)

    assert lines[0].startswith("layer, unzipped: ")
    assert any(line.split()[:1] == ["botocore"] for line in lines[1:])
