"""What a handler's import (Lambda's init, the cold start) loads: not the modules that only
some invocations need, each imported when first used; and it collects no garbage."""

from __future__ import annotations

import ast
import json
import os
import runpy
import subprocess
import sys
import textwrap
from typing import TYPE_CHECKING, Any

import pytest

from tests.template.cfn import FUNCTION_DIRS, REPO_ROOT

if TYPE_CHECKING:
    from pathlib import Path

# Imports every handler, each as Lambda does (a module loaded from its file), and prints
# the modules then loaded and whether the garbage collector is on.
IMPORT_EVERY_HANDLER = textwrap.dedent(
    """
    import gc, importlib.util, json, sys
    for path in sys.argv[1:]:
        spec = importlib.util.spec_from_file_location(path, path)
        spec.loader.exec_module(importlib.util.module_from_spec(spec))
    print(json.dumps({"modules": sorted(sys.modules), "collecting": gc.isenabled()}))
    """
)
HANDLERS = sorted(
    REPO_ROOT / "functions" / folder / "app.py" for folder in set(FUNCTION_DIRS.values())
)
# The environment each handler's init reads, as `make bench` imports them; LAMBDA_TASK_ROOT
# as on Lambda, where the Tracer is on.
HANDLER_ENVIRONMENT: dict[str, str] = runpy.run_path(str(REPO_ROOT / "benchmarks" / "bench.py"))[
    "HANDLER_ENVIRONMENT"
] | {"LAMBDA_TASK_ROOT": str(REPO_ROOT / "functions")}


def after_importing(handlers: list[Path]) -> dict[str, Any]:
    output = subprocess.run(
        [sys.executable, "-c", IMPORT_EVERY_HANDLER, *map(str, handlers)],
        capture_output=True,
        text=True,
        check=True,
        env=os.environ | HANDLER_ENVIRONMENT,
    ).stdout
    loaded: dict[str, Any] = json.loads(output.splitlines()[-1])
    return loaded


def test_no_handler_imports_yaml_or_asyncio_at_init() -> None:
    loaded = after_importing(HANDLERS)["modules"]
    # Only Resolve and the config indexer parse configs, and not at every invocation.
    assert "yaml" not in loaded
    # No handler is asynchronous; wrapt 2 (the X-Ray SDK's) imported it: pinned below 2.
    assert "asyncio" not in loaded


def _calls_gc(statement: ast.stmt, method: str) -> bool:
    return ast.unparse(statement) == f"gc.{method}()"


@pytest.mark.parametrize("handler", HANDLERS, ids=lambda path: path.parent.name)
def test_a_handler_pauses_the_collector_from_its_first_import_to_its_init_end(
    handler: Path,
) -> None:
    """Everything an init makes lives on, so the collector's passes during it free nothing
    (docs/benchmarks.md): off before the first import; once all is made, frozen out of
    later collections' scans, and on again."""
    body = ast.parse(handler.read_text()).body
    _docstring, future, import_gc, *init, freeze, enable = body
    assert ast.unparse(future) == "from __future__ import annotations", handler
    assert ast.unparse(import_gc) == "import gc", handler
    assert _calls_gc(init[0], "disable"), handler
    # Frozen first: enabled with the init's objects still young, the collector would scan
    # them all at the first allocation (a pause without the freeze cost more than it saved).
    assert _calls_gc(freeze, "freeze"), handler
    assert _calls_gc(enable, "enable"), handler
    assert not any(_calls_gc(statement, "enable") for statement in init), handler


def test_the_collector_is_on_once_every_handler_is_imported() -> None:
    assert after_importing(HANDLERS)["collecting"]


def test_notify_waiters_loads_none_of_the_deployment_documents_models() -> None:
    """An ECS event of any of the deployer's clusters invokes NotifyWaiters: the most
    frequent cold start, which needs the waiter items and task tokens only."""
    loaded = after_importing([REPO_ROOT / "functions" / "notify_waiters" / "app.py"])["modules"]
    assert {
        "ecs_deployer.document",
        "ecs_deployer.config.models",
        "ecs_deployer.history",
    }.isdisjoint(loaded)


def test_register_waiter_loads_none_of_the_service_steps() -> None:
    """RegisterWaiter runs at every wait: the approvals and waits it stores need none of
    the rollout's steps (UpdateServices', the checks')."""
    loaded = after_importing([REPO_ROOT / "functions" / "register_waiter" / "app.py"])["modules"]
    assert "ecs_deployer.steps.services" not in loaded
