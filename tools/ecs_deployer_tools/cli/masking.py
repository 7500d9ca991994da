"""What commands print of a task definition without --show-values: container environment
values and secret references masked, their names kept, so that terminals, logs and CI output
never hold them.

Fields are named as in a RegisterTaskDefinition input, list items left out:
``containerDefinitions[app].environment[LOG_LEVEL].value`` is at
``("containerDefinitions", "environment", "value")``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ecs_deployer.domain.taskdef import Change

MASK = "****"

# Lists of named items whose values are hidden, with the key that holds each item's value.
# Their items' names may hold any character (the diff's paths quote them as they are).
_HIDDEN_ITEM_VALUES = {
    ("containerDefinitions", "environment"): "value",
    ("containerDefinitions", "secrets"): "valueFrom",
    ("containerDefinitions", "logConfiguration", "secretOptions"): "valueFrom",
}
_HIDDEN = {
    *((*items, key) for items, key in _HIDDEN_ITEM_VALUES.items()),
    ("containerDefinitions", "repositoryCredentials", "credentialsParameter"),
}


def masked(value: Any, fields: tuple[str, ...] = ()) -> Any:
    """``value``, found at ``fields`` of a RegisterTaskDefinition input (the whole input by
    default), with every hidden value in it replaced by MASK (an absent one stays absent)."""
    if fields in _HIDDEN:
        return None if value is None else MASK
    if isinstance(value, Mapping):
        return {key: masked(item, (*fields, key)) for key, item in value.items()}
    if isinstance(value, list):
        return [masked(item, fields) for item in value]
    return value


def _fields(path: str) -> tuple[str, ...]:
    """The fields of a diff's path (``diff`` in domain/taskdef.py): ``key``, ``.key`` and
    ``[name]`` steps, keys being plain words."""
    fields: list[str] = []
    rest = path
    while rest:
        if not rest.startswith("["):
            key = rest.removeprefix(".")
            end = min((i for i in (key.find("."), key.find("[")) if i >= 0), default=len(key))
            fields.append(key[:end])
            rest = key[end:]
        elif tuple(fields) in _HIDDEN_ITEM_VALUES:
            # An item named anything: "[NAME]" (the item) or "[NAME].key" (one of its keys).
            return tuple(fields) if rest.endswith("]") else (*fields, rest.rpartition(".")[2])
        else:
            rest = rest.partition("]")[2]
    return tuple(fields)


def masked_change(change: Change) -> Change:
    """``change`` with its hidden values masked: a changed one still shows, as MASK -> MASK."""
    fields = _fields(change.path)
    return Change(change.path, masked(change.before, fields), masked(change.after, fields))
