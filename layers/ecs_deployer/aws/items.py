"""DynamoDB items as the low-level client reads and writes them, for the types our items
hold (no floats, no sets written). Our own few lines rather than boto3.dynamodb.types:
importing any of boto3 imports s3transfer too, a third of a handler's cold start."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping


def to_item(data: dict[str, Any]) -> dict[str, Any]:
    return {key: _attribute(value) for key, value in data.items()}


def from_item(item: dict[str, Any]) -> dict[str, Any]:
    return {key: from_attribute(attribute) for key, attribute in item.items()}


_SCALARS: tuple[tuple[type, str], ...] = ((bool, "BOOL"), (str, "S"), (int, "N"), (bytes, "B"))


def _attribute(value: Any) -> dict[str, Any]:
    if value is None:
        return {"NULL": True}
    if isinstance(value, list | tuple):
        return {"L": [_attribute(item) for item in value]}
    if isinstance(value, dict):
        return {"M": {str(key): _attribute(item) for key, item in value.items()}}
    for python_type, kind in _SCALARS:  # bool first: a bool is an int
        if isinstance(value, python_type):
            return {kind: str(value) if kind == "N" else value}
    raise TypeError(f"no DynamoDB attribute for a {type(value).__name__}")


def from_attribute(attribute: Mapping[str, Any]) -> Any:
    ((kind, value),) = attribute.items()
    match kind:
        case "S" | "BOOL" | "B":
            return value
        case "N":
            return int(value)  # ours are all integers
        case "NULL":
            return None
        case "SS":
            return frozenset(value)
        case "L":
            return [from_attribute(item) for item in value]
        case "M":
            return {key: from_attribute(item) for key, item in value.items()}
    raise TypeError(f"unexpected DynamoDB attribute type {kind}")
