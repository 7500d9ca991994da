"""What a handler's import (Lambda's init, the cold start) loads: not the modules that only
some invocations need, each imported when first used; and it collects no garbage."""

from __future__ import annotations

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
# the modules then loaded, how many garbage collections ran before what they made was
# frozen, how many objects are frozen, and whether the collector is on.
IMPORT_EVERY_HANDLER = textwrap.dedent(
    """
    import gc, importlib.util, json, sys
    running = False  # the handler's own code, not the loader compiling it
    scanned_init = []  # a collection before the freeze scans what the init made
    gc.callbacks.append(
        lambda phase, info: scanned_init.append(
            running and phase == "start" and not gc.get_freeze_count()
        )
    )
    for path in sys.argv[1:]:
        spec = importlib.util.spec_from_file_location(path, path)
        module = importlib.util.module_from_spec(spec)
        code = spec.loader.get_code(spec.name)
        running = True
        exec(code, module.__dict__)
        running = False
    print(json.dumps({
        "modules": sorted(sys.modules),
        "collections": sum(scanned_init),
        "frozen": gc.get_freeze_count(),
        "collecting": gc.isenabled(),
    }))
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


def test_no_handler_imports_yaml_asyncio_or_pydantic_at_init() -> None:
    loaded = after_importing(HANDLERS)["modules"]
    # Only Resolve and the config indexer parse configs, and not at every invocation.
    assert "yaml" not in loaded
    # No handler is asynchronous; wrapt 2 (the X-Ray SDK's) imported it: pinned below 2.
    assert "asyncio" not in loaded
    # The layer ships msgspec, not pydantic (structs.py); the dev environment has pydantic
    # (the SAM translator's), so an import of it would pass every other test here.
    assert "pydantic" not in loaded


@pytest.mark.parametrize("handler", HANDLERS, ids=lambda path: path.parent.name)
def test_a_handler_collects_no_garbage_during_its_init_and_freezes_what_it_made(
    handler: Path,
) -> None:
    """Everything an init makes lives on, so the collector's passes during it free nothing
    (docs/benchmarks.md): none runs while the handler is imported; what it made is frozen
    out of later collections' scans (enabled with the init's objects still young, the
    collector would scan them all at the first allocation), and the collector is on again."""
    imported = after_importing([handler])

    assert imported["collections"] == 0
    assert imported["frozen"] > 0
    assert imported["collecting"]


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
