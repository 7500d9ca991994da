"""Turn msgspec's validation errors into field errors an operator can act on."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ecs_deployer.errors import FieldError

if TYPE_CHECKING:
    import msgspec

# msgspec's message: "<problem> - at `$.services[0].max_wait`" (no location: the document).
_LOCATED = re.compile(r"^(?P<problem>.*) - at `\$(?P<path>[^`]*)`$", re.DOTALL)
# A rule a Struct checks after its fields (``__post_init__``) is located at the Struct; its
# message names the field it is about first: "containers: container 'app' is listed twice".
_NAMED = re.compile(
    r"^(?P<field>[A-Za-z_]\w*(?:\[\d+\]|\.[A-Za-z_]\w*)*): (?P<message>.+)$", re.DOTALL
)
# The problems of a key rather than of a value: named by the key's own path.
_KEY_PROBLEMS = (
    (re.compile(r"^Object contains unknown field `(?P<key>[^`]+)`$"), "unknown field"),
    (re.compile(r"^Object missing required field `(?P<key>[^`]+)`$"), "required field is missing"),
)


def field_errors(exc: msgspec.ValidationError) -> list[FieldError]:
    """``exc`` named by its field path (``services[0].max_wait``); msgspec stops at the
    first error of a document."""
    text = str(exc)
    located = _LOCATED.match(text)
    problem, path = (located["problem"], located["path"]) if located else (text, "")
    for pattern, message in _KEY_PROBLEMS:
        key = pattern.match(problem)
        if key is not None:
            return [FieldError(_joined(path, key["key"]), message)]
    named = _NAMED.match(problem)
    if named is not None:
        path, problem = _joined(path, named["field"]), named["message"]
    return [FieldError(path.removeprefix("."), problem[:1].lower() + problem[1:])]


def _joined(path: str, key: str) -> str:
    return f"{path}.{key}".removeprefix(".").replace(".[", "[")
