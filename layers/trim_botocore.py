"""Trims a built layer's botocore data to what the deployer's clients read.

Usage: python trim_botocore.py LAYER_PYTHON_DIR. Run by the Makefile after pip installs the
layer. Keeps botocore's shared data files (endpoints, partitions, retry and
default-configuration) and the directories of the services in
ecs_deployer/aws/service_models.py, and, since every cold start parses what a client reads:

- ``endpoints.json`` keeps the endpoints of those services only (1.3 MB of every AWS
  service otherwise, parsed at the first client of each cold start);
- each service model loses its documentation, which botocore reads only to write docstrings
  (about three quarters of a model: ECS's is 0.96 MB with it, 0.17 MB without);
- the request examples (``examples-1.json``), read only by botocore's documentation, go.
"""

from __future__ import annotations

import gzip
import json
import runpy
import shutil
import sys
from pathlib import Path
from typing import Any

# The keys a service model documents with: botocore's docstrings read them, nothing else.
DOCUMENTATION_KEYS = ("documentation", "documentationUrl")


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
    endpoint_prefixes = set()
    for path in data.glob("*/*/service-2.json*"):
        model = _read_json(path)
        endpoint_prefixes.add(model["metadata"]["endpointPrefix"])
        _write_json(path, without_documentation(model))
    for path in data.glob("*/*/examples-1.json*"):
        path.unlink()
    endpoints = data / "endpoints.json"
    _write_json(endpoints, endpoints_of(_read_json(endpoints), endpoint_prefixes))


def without_documentation(model: dict[str, Any]) -> dict[str, Any]:
    """A service model without its documentation strings, removed only where botocore's
    model puts them (a member or a client parameter named ``documentation`` stays)."""
    _undocument(model)
    for operation in model.get("operations", {}).values():
        _undocument(operation)
        for reference in (operation.get("input"), operation.get("output")):
            _undocument(reference)
        for reference in operation.get("errors", []):
            _undocument(reference)
    for shape in model.get("shapes", {}).values():
        _undocument(shape)
        for reference in shape.get("members", {}).values():
            _undocument(reference)
        for key in ("member", "key", "value"):
            _undocument(shape.get(key))
    return model


def endpoints_of(endpoints: dict[str, Any], endpoint_prefixes: set[str]) -> dict[str, Any]:
    """botocore's endpoints data with the services of ``endpoint_prefixes`` only (its
    services are keyed by their models' ``endpointPrefix``: ``states`` for Step Functions)."""
    for partition in endpoints["partitions"]:
        partition["services"] = {
            prefix: service
            for prefix, service in partition["services"].items()
            if prefix in endpoint_prefixes
        }
    return endpoints


def _undocument(node: dict[str, Any] | None) -> None:
    for key in DOCUMENTATION_KEYS:
        if node is not None:
            node.pop(key, None)


def _read_json(path: Path) -> dict[str, Any]:
    raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    document: dict[str, Any] = json.loads(raw)
    return document


def _write_json(path: Path, document: dict[str, Any]) -> None:
    # Compact, and gzipped as botocore shipped it (mtime 0: the same bytes on every build).
    raw = json.dumps(document, separators=(",", ":")).encode()
    path.write_bytes(gzip.compress(raw, mtime=0) if path.suffix == ".gz" else raw)


if __name__ == "__main__":
    trim(Path(sys.argv[1]), service_models())
