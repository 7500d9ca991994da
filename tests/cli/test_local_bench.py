"""`ecs-deployer local bench`: the CLI runs the checkout's benchmark (`make bench`), the
parts asked for; each part is run at small sizes in tests/benchmarks/test_bench.py."""

from __future__ import annotations

from typing import TYPE_CHECKING

from typer.testing import CliRunner

from ecs_deployer_tools.cli import app

if TYPE_CHECKING:
    from pathlib import Path

    import pytest


def test_the_bench_verb_runs_the_checkouts_benchmark_and_names_its_parts() -> None:
    result = CliRunner().invoke(app, ["local", "bench", "no-such-part"])

    # The benchmark's own refusal: the verb loaded it and handed it the parts.
    assert result.exit_code == 1
    assert "unknown parts ['no-such-part']" in str(result.exception) + result.output
    assert "side-by-side" in str(result.exception) + result.output


def test_without_a_checkout_the_bench_verb_says_so(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    missing = tmp_path / "a-checkout-elsewhere-with-a-long-path" / "benchmarks" / "bench.py"
    monkeypatch.setattr("ecs_deployer_tools.cli.local_commands.BENCH", missing)

    result = CliRunner().invoke(app, ["local", "bench"])

    assert result.exit_code == 1
    assert "runs from a checkout of the repository" in result.stderr
    # The missing file, named whole (not wrapped), for a copy and paste.
    assert f"{missing} is missing" in result.stderr
