"""App configs in SSM Parameter Store: one parameter per app under the stack's prefix.

Read through powertools' parameters utility, cached for POWERTOOLS_PARAMETERS_MAX_AGE
seconds, so a changed config takes effect without redeploying the stack.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.parameters import GetParameterError, SSMProvider

from ecs_deployer.config.parsing import parse_app_config
from ecs_deployer.errors import ConfigError, FieldError

if TYPE_CHECKING:
    from mypy_boto3_ssm import SSMClient

    from ecs_deployer.config.models import AppConfig


def text_digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class LoadedConfig:
    app: str
    config: AppConfig
    digest: str  # identifies the exact text deployed, for history


class ConfigStore:
    def __init__(self, prefix: str, client: SSMClient | None = None) -> None:
        self.prefix = prefix.rstrip("/")
        self._provider = SSMProvider(boto3_client=client)

    def parameter_name(self, app: str) -> str:
        return f"{self.prefix}/{app}"

    def load(self, app: str) -> LoadedConfig:
        name = self.parameter_name(app)
        try:
            text = self._provider.get(name)
        except GetParameterError as exc:
            raise ConfigError(
                f"no config for app '{app}'",
                [FieldError("app", f"parameter {name} does not exist")],
            ) from exc
        return self.parse(app, str(text))

    def parse(self, app: str, text: str) -> LoadedConfig:
        config = parse_app_config(text, f"config of app '{app}' ({self.parameter_name(app)})", app)
        return LoadedConfig(app=app, config=config, digest=text_digest(text))

    def load_all_texts(self) -> dict[str, str]:
        """Every app's raw config text by app name (parameters directly under the prefix)."""
        values: dict[str, Any] = self._provider.get_multiple(self.prefix, recursive=False)
        return {name.lstrip("/"): str(text) for name, text in values.items()}
