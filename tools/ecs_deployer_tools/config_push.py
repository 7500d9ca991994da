"""Writing app configs to the stack's config store (operator side; Lambdas only read)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from ecs_deployer.config.store import Tier, canonical_text, parameter_tier

if TYPE_CHECKING:
    from mypy_boto3_ssm import SSMClient

    from ecs_deployer.config.models import AppConfig


def current_tier(ssm: SSMClient, name: str) -> Tier | None:
    response = ssm.describe_parameters(
        ParameterFilters=[{"Key": "Name", "Option": "Equals", "Values": [name]}]
    )
    parameters = response.get("Parameters", [])
    if not parameters:
        return None
    tier = parameters[0].get("Tier", "Standard")
    return "Advanced" if tier == "Advanced" else "Standard"


def stored_text(ssm: SSMClient, name: str) -> str | None:
    try:
        return ssm.get_parameter(Name=name)["Parameter"].get("Value")
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ParameterNotFound":
            return None
        raise


def push_config(ssm: SSMClient, prefix: str, app: str, config: AppConfig) -> Tier:
    """Store ``config`` (already validated) for ``app``; returns the tier chosen by size."""
    name = f"{prefix.rstrip('/')}/{app}"
    text = canonical_text(config)
    tier = parameter_tier(text, current_tier(ssm, name))
    ssm.put_parameter(
        Name=name,
        Value=text,
        Type="String",
        Tier=tier,
        Overwrite=True,
        Description=f"ECS Deployer config of app {app}",
    )
    return tier
