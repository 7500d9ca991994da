"""The Lambdas' environment, validated once per cold start.

A misconfigured stack fails on its first invocation with a message naming the variable,
instead of deep inside a deployment.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Annotated

import msgspec
from msgspec import Meta

from ecs_deployer.domain.accounts import ROLE_ARN_PATTERN, roles_by_account
from ecs_deployer.domain.scope import StackScope, names
from ecs_deployer.errors import ConfigError, FieldError
from ecs_deployer.structs import Frozen
from ecs_deployer.validation import field_errors

if TYPE_CHECKING:
    from collections.abc import Mapping

# The stack parameter CodeDeployDeploymentGroups' pattern: APPLICATION/GROUP.
_CODEDEPLOY_GROUP = r"^[A-Za-z0-9_.+@=-]{1,100}/[A-Za-z0-9_.+@=-]{1,100}$"
# The stack parameter SummaryTopicArn's pattern, without its empty "off".
_TOPIC_ARN = r"^arn:[a-z-]+:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}$"
ParameterPath = Annotated[str, Meta(pattern=r"^(/[A-Za-z0-9_.-]+)+$")]


class Settings(Frozen, kw_only=True, frozen=True):
    config_prefix: ParameterPath
    deployments_table: Annotated[str, Meta(min_length=3, max_length=255)]
    allowed_clusters: frozenset[str]
    task_family_prefixes: Annotated[frozenset[str], Meta(min_length=1)]
    allowed_subnets: frozenset[str]
    allowed_security_groups: frozenset[str]
    allow_public_ip: bool
    task_log_group_prefixes: frozenset[str]
    codedeploy_deployment_groups: frozenset[Annotated[str, Meta(pattern=_CODEDEPLOY_GROUP)]]
    event_bus_name: Annotated[str, Meta(min_length=1, max_length=256)]
    summary_topic_arn: Annotated[str, Meta(pattern=_TOPIC_ARN)] | None
    target_account_role_arns: frozenset[Annotated[str, Meta(pattern=ROLE_ARN_PATTERN)]]
    target_role_external_id: (
        Annotated[
            str,
            # sts:AssumeRole's ExternalId.
            Meta(min_length=2, max_length=1224, pattern=r"^[A-Za-z0-9+=,.@:/_-]+$"),
        ]
        | None
    )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Settings:
        variables = {
            "config_prefix": environ.get("CONFIG_PREFIX", ""),
            "deployments_table": environ.get("DEPLOYMENTS_TABLE", ""),
            "allowed_clusters": names(environ.get("ALLOWED_CLUSTERS", "")),
            "task_family_prefixes": names(environ.get("TASK_FAMILY_PREFIXES", "")),
            "allowed_subnets": names(environ.get("ALLOWED_SUBNETS", "")),
            "allowed_security_groups": names(environ.get("ALLOWED_SECURITY_GROUPS", "")),
            "allow_public_ip": environ.get("ALLOW_PUBLIC_IP", "false"),
            "task_log_group_prefixes": names(environ.get("TASK_LOG_GROUP_PREFIXES", "")),
            "codedeploy_deployment_groups": names(environ.get("CODEDEPLOY_DEPLOYMENT_GROUPS", "")),
            "event_bus_name": environ.get("EVENT_BUS_NAME", "default"),
            "summary_topic_arn": environ.get("SUMMARY_TOPIC_ARN") or None,
            "target_account_role_arns": names(environ.get("TARGET_ACCOUNT_ROLE_ARNS", "")),
            "target_role_external_id": environ.get("TARGET_ROLE_EXTERNAL_ID") or None,
        }
        try:
            # Not strict: a variable is text, ALLOW_PUBLIC_IP's "true" a bool.
            settings = msgspec.convert(variables, cls, strict=False)
            roles_by_account(settings.target_account_role_arns)  # one role per account
        except msgspec.ValidationError as exc:
            errors = [
                # An element of a list (TARGET_ACCOUNT_ROLE_ARNS[0]) is named by its variable.
                type(error)(_VARIABLES.get(error.path.partition("[")[0], error.path), error.message)
                for error in field_errors(exc)
            ]
            raise ConfigError("invalid Lambda environment", errors) from exc
        except ValueError as exc:
            error = FieldError("TARGET_ACCOUNT_ROLE_ARNS", str(exc))
            raise ConfigError("invalid Lambda environment", [error]) from exc
        return settings

    @property
    def scope(self) -> StackScope:
        return StackScope(
            clusters=self.allowed_clusters,
            family_prefixes=self.task_family_prefixes,
            subnets=self.allowed_subnets,
            security_groups=self.allowed_security_groups,
            public_ip=self.allow_public_ip,
            target_roles=self.target_roles,
            codedeploy_groups=self.codedeploy_deployment_groups,
        )

    @property
    def target_roles(self) -> dict[str, str]:
        """The deploy role of each account the stack may deploy to, by account id."""
        return roles_by_account(self.target_account_role_arns)


_VARIABLES = {
    "config_prefix": "CONFIG_PREFIX",
    "deployments_table": "DEPLOYMENTS_TABLE",
    "allowed_clusters": "ALLOWED_CLUSTERS",
    "task_family_prefixes": "TASK_FAMILY_PREFIXES",
    "allowed_subnets": "ALLOWED_SUBNETS",
    "allowed_security_groups": "ALLOWED_SECURITY_GROUPS",
    "allow_public_ip": "ALLOW_PUBLIC_IP",
    "task_log_group_prefixes": "TASK_LOG_GROUP_PREFIXES",
    "codedeploy_deployment_groups": "CODEDEPLOY_DEPLOYMENT_GROUPS",
    "event_bus_name": "EVENT_BUS_NAME",
    "summary_topic_arn": "SUMMARY_TOPIC_ARN",
    "target_account_role_arns": "TARGET_ACCOUNT_ROLE_ARNS",
    "target_role_external_id": "TARGET_ROLE_EXTERNAL_ID",
}
