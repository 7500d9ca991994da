"""The Lambdas' environment, validated once per cold start.

A misconfigured stack fails on its first invocation with a message naming the variable,
instead of deep inside a deployment.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints, ValidationError

from ecs_deployer.errors import ConfigError
from ecs_deployer.validation import field_errors

if TYPE_CHECKING:
    from collections.abc import Mapping

ParameterPath = Annotated[str, StringConstraints(pattern=r"^(/[A-Za-z0-9_.-]+)+$")]


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True)

    config_prefix: ParameterPath
    deployments_table: Annotated[str, StringConstraints(min_length=3, max_length=255)]
    allowed_clusters: frozenset[str]

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Settings:
        try:
            return cls(
                config_prefix=environ.get("CONFIG_PREFIX", ""),
                deployments_table=environ.get("DEPLOYMENTS_TABLE", ""),
                allowed_clusters=frozenset(
                    name.strip()
                    for name in environ.get("ALLOWED_CLUSTERS", "").split(",")
                    if name.strip()
                ),
            )
        except ValidationError as exc:
            names = {
                "config_prefix": "CONFIG_PREFIX",
                "deployments_table": "DEPLOYMENTS_TABLE",
                "allowed_clusters": "ALLOWED_CLUSTERS",
            }
            errors = [
                type(error)(names.get(error.path, error.path), error.message)
                for error in field_errors(exc)
            ]
            raise ConfigError("invalid Lambda environment", errors) from exc
