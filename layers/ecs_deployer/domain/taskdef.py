"""Task definitions as values: clone a described one into a RegisterTaskDefinition input.

The input is derived from botocore's own RegisterTaskDefinition input shape at runtime, so
fields AWS adds later are carried over as soon as botocore knows them, and output-only
fields (registeredAt, registeredBy, compatibilities, requiresAttributes, ...) never leak
into a registration. A hard-coded list of fields is how other deploy tools break.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any, Final

import botocore.session

from ecs_deployer.errors import ResourceNotFound

if TYPE_CHECKING:
    from botocore.model import Shape, StructureShape

RegistrationInput = dict[str, Any]


@cache
def _register_input_shape() -> StructureShape:
    model = botocore.session.get_session().get_service_model("ecs")
    shape = model.operation_model("RegisterTaskDefinition").input_shape
    if shape is None:  # pragma: no cover - botocore always models it
        raise RuntimeError("botocore has no RegisterTaskDefinition input shape")
    return shape


def _conform(value: Any, shape: Shape) -> Any:
    """Keep only what ``shape`` accepts, recursively; drop nulls."""
    if shape.type_name == "structure" and isinstance(value, Mapping):
        members = shape.members  # type: ignore[attr-defined]
        return {
            name: _conform(item, members[name])
            for name, item in value.items()
            if name in members and item is not None
        }
    if shape.type_name == "list" and isinstance(value, list):
        member = shape.member  # type: ignore[attr-defined]
        return [_conform(item, member) for item in value]
    if shape.type_name == "map" and isinstance(value, Mapping):
        value_shape = shape.value  # type: ignore[attr-defined]
        return {key: _conform(item, value_shape) for key, item in value.items()}
    return value


def registration_input(
    task_definition: Mapping[str, Any], tags: Sequence[Mapping[str, Any]] = ()
) -> RegistrationInput:
    """A described task definition (and its tags) → the RegisterTaskDefinition input.

    Tags are sent only when there are some: RegisterTaskDefinition rejects an empty list
    on some partitions, and needs ecs:TagResource only when tagging.
    """
    shape = _register_input_shape()
    described = {key: item for key, item in task_definition.items() if key != "tags"}
    result: RegistrationInput = _conform(described, shape)
    if tags:
        result["tags"] = _conform(list(tags), shape.members["tags"])
    return result


def container_names(registration: Mapping[str, Any]) -> list[str]:
    return [container["name"] for container in registration.get("containerDefinitions", [])]


def essential_containers(registration: Mapping[str, Any]) -> list[str]:
    # ECS's default: a container is essential unless it says otherwise.
    return [
        container["name"]
        for container in registration.get("containerDefinitions", [])
        if container.get("essential", True)
    ]


def container_images(registration: Mapping[str, Any]) -> dict[str, str]:
    return {
        container["name"]: container["image"]
        for container in registration.get("containerDefinitions", [])
    }


def missing_containers(registration: Mapping[str, Any], names: list[str]) -> list[str]:
    present = set(container_names(registration))
    return [name for name in names if name not in present]


def with_image(
    registration: Mapping[str, Any], containers: list[str], image: str, owner: str
) -> RegistrationInput:
    """A copy of ``registration`` with ``image`` in exactly the named containers.

    ``owner`` names what the definition belongs to (a service or task family), for the error.
    """
    missing = missing_containers(registration, containers)
    if missing:
        raise ResourceNotFound(
            f"{owner}: container(s) {', '.join(missing)} not in task definition family "
            f"'{registration.get('family')}' (it has: {', '.join(container_names(registration))})"
        )
    wanted = set(containers)
    clone = dict(registration)
    clone["containerDefinitions"] = [
        {**container, "image": image} if container["name"] in wanted else container
        for container in registration["containerDefinitions"]
    ]
    return clone


# Marks a revision this deployer registered: housekeeping deregisters no other (a family may
# hold revisions other teams and tools registered). A clone of such a revision keeps it.
REGISTERED_BY_US: Final = {"key": "ecs-deployer:registered", "value": "true"}


def registered_by_us(tags: Sequence[Mapping[str, Any]]) -> bool:
    return any(dict(tag) == REGISTERED_BY_US for tag in tags)


def tagged_as_ours(registration: Mapping[str, Any]) -> RegistrationInput:
    """A copy of ``registration`` carrying ``REGISTERED_BY_US`` among its tags."""
    tags = [tag for tag in registration.get("tags", []) if tag["key"] != REGISTERED_BY_US["key"]]
    return {**registration, "tags": [*tags, dict(REGISTERED_BY_US)]}


def _without_our_tag(registration: Mapping[str, Any]) -> dict[str, Any]:
    tags = [tag for tag in registration.get("tags", []) if dict(tag) != REGISTERED_BY_US]
    untagged = {key: value for key, value in registration.items() if key != "tags"}
    return {**untagged, "tags": tags} if tags else untagged


@dataclass(frozen=True)
class Change:
    """One difference between two registration inputs, at a readable path."""

    path: str
    before: Any
    after: Any


def _diff(before: Any, after: Any, path: str, out: list[Change]) -> None:
    if isinstance(before, Mapping) and isinstance(after, Mapping):
        for key in sorted(set(before) | set(after), key=str):
            _diff(before.get(key), after.get(key), f"{path}.{key}" if path else str(key), out)
    elif (
        isinstance(before, list)
        and isinstance(after, list)
        and all(isinstance(item, Mapping) and "name" in item for item in [*before, *after])
    ):
        # Lists of named things (containers, volumes, env vars) diff by name, not position.
        before_by_name = {item["name"]: item for item in before}
        after_by_name = {item["name"]: item for item in after}
        for name in [*before_by_name, *(n for n in after_by_name if n not in before_by_name)]:
            _diff(before_by_name.get(name), after_by_name.get(name), f"{path}[{name}]", out)
    elif before != after:
        out.append(Change(path, before, after))


def diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[Change]:
    """What registering ``after`` would change compared with ``before``; empty when equal.
    Our own mark (``REGISTERED_BY_US``) is no change: it alone never makes a revision."""
    changes: list[Change] = []
    _diff(_without_our_tag(before), _without_our_tag(after), "", changes)
    return changes
