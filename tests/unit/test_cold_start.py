"""What a handler's import (Lambda's init, the cold start) loads: not the modules that only
some invocations need, each imported when first used."""

from __future__ import annotations

import json
import os
import runpy
import subprocess
import sys
import textwrap

from tests.template.cfn import FUNCTION_DIRS, REPO_ROOT

# Imports every handler, each as Lambda does (a module loaded from its file), and prints
# the modules then loaded.
IMPORT_EVERY_HANDLER = textwrap.dedent(
    """
    import importlib.util, json, sys
    for path in sys.argv[1:]:
        spec = importlib.util.spec_from_file_location(path, path)
        spec.loader.exec_module(importlib.util.module_from_spec(spec))
    print(json.dumps(sorted(sys.modules)))
    """
)
# The environment each handler's init reads, as `make bench` imports them; LAMBDA_TASK_ROOT
# as on Lambda, where the Tracer is on.
HANDLER_ENVIRONMENT: dict[str, str] = runpy.run_path(str(REPO_ROOT / "benchmarks" / "bench.py"))[
    "HANDLER_ENVIRONMENT"
] | {"LAMBDA_TASK_ROOT": str(REPO_ROOT / "functions")}


def modules_after_importing_every_handler() -> set[str]:
    handlers = sorted(
        str(REPO_ROOT / "functions" / folder / "app.py") for folder in set(FUNCTION_DIRS.values())
    )
    output = subprocess.run(
        [sys.executable, "-c", IMPORT_EVERY_HANDLER, *handlers],
        capture_output=True,
        text=True,
        check=True,
        env=os.environ | HANDLER_ENVIRONMENT,
    ).stdout
    return set(json.loads(output.splitlines()[-1]))


def test_no_handler_imports_yaml_at_init() -> None:
    # Only Resolve and the config indexer parse configs, and not at every invocation.
    assert "yaml" not in modules_after_importing_every_handler()
