"""Turn pydantic's validation errors into field errors an operator can act on."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ecs_deployer.errors import FieldError

if TYPE_CHECKING:
    from pydantic import ValidationError
    from pydantic_core import ErrorDetails

_MESSAGES = {
    "extra_forbidden": "unknown field",
    "missing": "required field is missing",
}


def field_path(loc: tuple[int | str, ...]) -> str:
    """``("services", 0, "max_wait")`` → ``services[0].max_wait``."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else part
    return path


def _message(error: ErrorDetails) -> str:
    if error["type"] in _MESSAGES:
        return _MESSAGES[error["type"]]
    message = error["msg"].removeprefix("Value error, ")
    return message[:1].lower() + message[1:]


def field_errors(exc: ValidationError) -> list[FieldError]:
    """Every error of ``exc``, each named by its field path, in document order."""
    return [FieldError(field_path(error["loc"]), _message(error)) for error in exc.errors()]
