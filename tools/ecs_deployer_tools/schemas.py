"""JSON Schemas of what operators write (app configs, manual execution inputs) and of what
the deployer publishes (its lifecycle events' detail).

Generated from the Structs (``make schema``); a test keeps the committed files
equal to what the models say, so editors and CI validate against the real rules.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec

from ecs_deployer.config.models import AppConfig
from ecs_deployer.domain.lifecycle import LifecycleDetail
from ecs_deployer.inputs import ManualRequest

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schema"
BASE_URI = "https://github.com/ecs-deployer/ecs-deployer/schema"


def schemas() -> dict[str, dict[str, Any]]:
    documents: dict[str, tuple[type[msgspec.Struct], str]] = {
        "app-config.schema.json": (
            AppConfig,
            "ECS Deployer app config (ECS Toolkit v1 plus the deployer's keys)",
        ),
        "manual-input.schema.json": (ManualRequest, "ECS Deployer manual execution input"),
        "deployment-event.schema.json": (
            LifecycleDetail,
            "ECS Deployer deployment event detail (source ecs-deployer)",
        ),
    }
    result = {}
    for name, (model, title) in documents.items():
        definitions = msgspec.json.schema(model)["$defs"]
        root = definitions.pop(model.__name__)  # the document itself, not a reference to it
        result[name] = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": f"{BASE_URI}/{name}",
            **root,
            **({"$defs": definitions} if definitions else {}),
            "title": title,
        }
    return result


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def main() -> None:
    SCHEMA_DIR.mkdir(exist_ok=True)
    for name, schema in schemas().items():
        (SCHEMA_DIR / name).write_text(render(schema))


if __name__ == "__main__":
    main()
