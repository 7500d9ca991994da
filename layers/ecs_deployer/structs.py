"""The deployer's typed data: msgspec Structs, and the one way to decode and encode them.

msgspec, not pydantic: a Struct class costs microseconds to define and its decoder is built
in C at its first use (about 2 ms for the deployment document), where pydantic built every
model's validator in Python at import: some 55 ms of each Lambda's cold start, a third of
it (docs/benchmarks.md).

A Struct's constructor checks nothing: data from outside (configs, inputs, events, the
environment, stored documents) becomes a Struct through ``decode``, which checks every type
and constraint and names the field of the first error (``validation.field_errors``).
"""

from __future__ import annotations

from typing import Any, TypeVar, overload

import msgspec

T = TypeVar("T")


# Each class derived from these says kw_only=True (msgspec applies it per class: its fields
# may then follow in any order) and, when frozen, frozen=True again (for mypy).
class Strict(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """What people and the deployer write: an unknown key is an error, never ignored."""


class Frozen(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, frozen=True):
    """``Strict``, and never changed once made (a change makes a copy: ``replace``)."""


class Tolerant(msgspec.Struct, kw_only=True, frozen=True):
    """What AWS writes: fields it adds later are ignored, not refused."""


@overload
def decode(data: Any, into: type[T]) -> T: ...
@overload
def decode(data: Any, into: Any) -> Any: ...  # a union of Structs, told apart by a tag
def decode(data: Any, into: Any) -> Any:
    """Python data (parsed JSON or YAML) as ``into``, checked: no type is coerced (a "5" is
    no int); raises ``msgspec.ValidationError``."""
    return msgspec.convert(data, into, strict=True)


def decode_json(text: str | bytes, into: type[T]) -> T:
    return msgspec.json.decode(text, type=into, strict=True)


def encode(value: Any) -> Any:
    """As JSON-ready Python data: datetimes as RFC 3339 text, durations as ISO 8601."""
    return msgspec.to_builtins(value)


def encode_json(value: Any) -> bytes:
    return msgspec.json.encode(value)
