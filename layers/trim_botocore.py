"""Removes from a built layer the botocore models of services the deployer never calls.

Usage: python trim_botocore.py LAYER_PYTHON_DIR. Keeps botocore's shared data files
(endpoints, partitions, retry and default-configuration) and the directories of the
services in ecs_deployer/aws/service_models.py. Run by the Makefile after pip installs the
layer.
"""

from __future__ import annotations

import runpy
import shutil
import sys
from pathlib import Path


def service_models() -> frozenset[str]:
    path = Path(__file__).parent / "ecs_deployer" / "aws" / "service_models.py"
    return frozenset(runpy.run_path(str(path))["SERVICE_MODELS"])


def trim(layer: Path, keep: frozenset[str]) -> None:
    data = layer / "botocore" / "data"
    missing = sorted(name for name in keep if not (data / name).is_dir())
    if missing:
        sys.exit(f"trim_botocore: botocore has no model for {', '.join(missing)}")
    for entry in data.iterdir():
        if entry.is_dir() and entry.name not in keep:
            shutil.rmtree(entry)


if __name__ == "__main__":
    trim(Path(sys.argv[1]), service_models())
