"""Parse an app config from text (YAML or JSON) with errors that name their fields."""

from __future__ import annotations

from typing import Any

import msgspec

from ecs_deployer.config.models import AppConfig, app_config
from ecs_deployer.errors import ConfigError, FieldError
from ecs_deployer.validation import field_errors


def load_document(text: str, source: str) -> Any:
    """YAML (a superset of JSON) → Python data; a syntax error names the source and line."""
    # Imported here: most handlers parse no config, and the import costs every cold start.
    import yaml  # noqa: PLC0415

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(
            f"{source} is not valid YAML or JSON", [FieldError("", str(exc))]
        ) from exc


def parse_app_config(text: str, source: str, app: str | None = None) -> AppConfig:
    """Validate a config document. ``app``, when known (its parameter name), must agree."""
    document = load_document(text, source)
    if not isinstance(document, dict):
        raise ConfigError(f"{source} must be a mapping", [FieldError("", "not a mapping")])
    try:
        config = app_config(document)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"{source} is invalid", field_errors(exc)) from exc
    if app is not None and config.app is not None and config.app != app:
        raise ConfigError(
            f"{source} is invalid",
            [FieldError("app", f"'{config.app}' does not match the parameter name '{app}'")],
        )
    return config


def raw_trigger_repositories(text: str) -> list[str]:
    """Best effort, for an invalid config: the repositories it seems to want to deploy from.

    Lets an event for such a repository fail loudly instead of being ignored.
    """
    import yaml  # noqa: PLC0415  (see load_document)

    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError:
        return []
    trigger = document.get("trigger") if isinstance(document, dict) else None
    repositories = trigger.get("repositories") if isinstance(trigger, dict) else None
    if not isinstance(repositories, list):
        return []
    return [repository for repository in repositories if isinstance(repository, str)]
