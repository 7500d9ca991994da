"""Compiles a built layer to bytecode for the Lambda runtime's Python, so that a cold start
imports bytecode instead of compiling every module from source (about half of its import).

Usage: TARGET_PYTHON compile_layer.py LAYER_PYTHON_DIR VERSION, run by the layer's Makefile
with the runtime's Python VERSION (bytecode is valid for one Python version only; Lambda's
/opt is read-only, so nothing a cold start compiles is kept for the next).

- The dependencies become sourceless: each ``module.py`` is replaced by its ``module.pyc``,
  which the layer's 20 MB budget needs (their sources are 6.8 MB); their tracebacks name
  file and line, without the line's text.
- The deployer's own package keeps its sources beside its bytecode (``__pycache__``), so its
  tracebacks show its code.

Both are compiled with unchecked hashes (PEP 552): Python loads them without comparing the
source's modification time, which the layer's zip keeps to two seconds only (a timestamped
.pyc of a source modified at an odd second would be stale on Lambda, and compiled again).
"""

from __future__ import annotations

import compileall
import py_compile
import sys
from pathlib import Path

# Where Lambda mounts a layer's python/ directory: the file names tracebacks show.
LAYER_ROOT = "/opt/python"
OWN_PACKAGE = "ecs_deployer"


def compile_layer(layer: Path) -> None:
    for entry in sorted(layer.iterdir()):
        own = entry.name == OWN_PACKAGE
        if not _compile(entry, layer, legacy=not own):
            sys.exit(f"compile_layer: {entry} does not compile")
        if not own:
            for source in [entry] if entry.is_file() else entry.rglob("*.py"):
                if source.suffix == ".py" and source.with_suffix(".pyc").is_file():
                    source.unlink()


def _compile(path: Path, layer: Path, *, legacy: bool) -> bool:
    """Compiles ``path`` (a package, or a top-level module) with the layer's paths;
    ``legacy``: each ``module.pyc`` beside its source, which can then go."""
    compile_one = compileall.compile_dir if path.is_dir() else compileall.compile_file
    return bool(
        compile_one(
            path,
            quiet=1,
            stripdir=str(layer),
            prependdir=LAYER_ROOT,
            legacy=legacy,
            invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
        )
    )


if __name__ == "__main__":
    layer_dir, version = Path(sys.argv[1]), sys.argv[2]
    running = f"{sys.version_info.major}.{sys.version_info.minor}"
    if running != version:
        sys.exit(f"compile_layer: Python {running} cannot compile bytecode for Python {version}")
    compile_layer(layer_dir)
