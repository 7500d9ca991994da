"""App configs in the stack's config store, as operators see them: stored text, YAML
renderings, and the difference a push would make."""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import yaml

from ecs_deployer.config.parsing import load_document, parse_app_config
from ecs_deployer.config.store import canonical_text
from ecs_deployer.errors import ConfigError
from ecs_deployer_tools.config_push import current_tier, stored_text

if TYPE_CHECKING:
    from ecs_deployer.config.models import AppConfig
    from ecs_deployer.config.store import Tier
    from ecs_deployer_tools.operator.stack import Deployer


def as_yaml(document: Any) -> str:
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True)


def canonical_yaml(config: AppConfig) -> str:
    """What a push stores, as YAML."""
    return as_yaml(json.loads(canonical_text(config)))


@dataclass(frozen=True)
class StoredConfig:
    app: str
    parameter: str
    text: str | None  # None: nothing stored
    tier: Tier | None

    def document(self) -> Any:
        """The stored document (the text itself if it is not even YAML)."""
        try:
            return load_document(self.text or "", self.parameter)
        except ConfigError:
            return self.text

    def problems(self) -> list[str]:
        """Why the stored config would be rejected by the deployer; empty when valid."""
        try:
            parse_app_config(self.text or "", self.parameter, self.app)
        except ConfigError as exc:
            return [str(error) for error in exc.errors] or [str(exc)]
        return []

    def normalized_yaml(self) -> str:
        """Rendered as a push would store it when valid, so formatting never shows as a
        change; as written otherwise; empty when nothing is stored."""
        if self.text is None:
            return ""
        try:
            return canonical_yaml(parse_app_config(self.text, self.parameter, self.app))
        except ConfigError:
            document = self.document()
            return document if isinstance(document, str) else as_yaml(document)


def stored_config(deployer: Deployer, app: str) -> StoredConfig:
    name = deployer.configs.parameter_name(app)
    ssm = deployer.aws.ssm
    return StoredConfig(app, name, stored_text(ssm, name), current_tier(ssm, name))


def config_diff(stored: StoredConfig, config: AppConfig, source: str) -> str:
    """Unified diff from what is stored to what pushing ``config`` would store."""
    lines = difflib.unified_diff(
        stored.normalized_yaml().splitlines(keepends=True),
        canonical_yaml(config).splitlines(keepends=True),
        fromfile=stored.parameter if stored.text is not None else "/dev/null",
        tofile=source,
    )
    return "".join(lines)
