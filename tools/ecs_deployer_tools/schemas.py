"""JSON Schemas of what operators write (app configs, manual execution inputs) and of what
the deployer publishes (its lifecycle events' detail).

Generated from the Structs (``make schema``); a test keeps the committed files
equal to what the models say, so editors and CI validate against the real rules.
"""

from __future__ import annotations

import inspect
import json
import re
from pathlib import Path
from typing import Any

import msgspec

from ecs_deployer.config.models import WORDS_IN_ANY_CASE, AppConfig
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
        for definition in definitions.values():
            _tidy(definition)
        root = definitions.pop(model.__name__)  # the document itself, not a reference to it
        result[name] = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": f"{BASE_URI}/{name}",
            **root,
            **({"$defs": definitions} if definitions else {}),
            "title": title,
        }
    return result


def _tidy(definition: dict[str, Any]) -> None:
    """A Struct's schema as people read it: its docstring's text without the indentation,
    and the words the config may write in any case (``FARGATE``) allowed so."""
    if "description" in definition:
        definition["description"] = inspect.cleandoc(definition["description"])
    words = next(
        (
            fields
            for struct, fields in WORDS_IN_ANY_CASE.items()
            if struct.__name__ == definition["title"]
        ),
        (),
    )
    for field in words:
        _any_case(definition["properties"][field])


def _any_case(schema: dict[str, Any]) -> None:
    """Where ``schema`` (or an alternative of it) lists words, any case of them too: JSON
    Schema's patterns have no case-insensitive flag, so each letter is a class."""
    for alternative in schema.get("anyOf", []):
        _any_case(alternative)
    words = schema.pop("enum", None)
    if words is None:
        return
    spelled = "|".join(
        "".join(f"[{c.upper()}{c.lower()}]" if c.isalpha() else re.escape(c) for c in word)
        for word in words
    )
    schema["anyOf"] = [{"enum": words}, {"type": "string", "pattern": f"^(?:{spelled})$"}]


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def main() -> None:
    SCHEMA_DIR.mkdir(exist_ok=True)
    for name, schema in schemas().items():
        (SCHEMA_DIR / name).write_text(render(schema))


if __name__ == "__main__":
    main()
