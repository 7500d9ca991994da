"""Which account and region an app's ECS calls go to, and through which deploy role.

An app whose config names no ``account`` is deployed in the deployer's own account and
region, with the functions' own roles. Naming an ``account`` (and optionally a ``region``)
sends every ECS call and task-log read to that account through the deploy role the stack
lists for it (``TargetAccountRoleArns``: the account is the one in the role's ARN), assumed
with the stack's external id. The lock, history and configs stay in the deployer's account.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ecs_deployer.errors import AccountNotAllowed

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from ecs_deployer.config.models import AppConfig

ROLE_ARN_PATTERN = r"^arn:aws[a-z-]*:iam::([0-9]{12}):role/[A-Za-z0-9_+=,.@/-]{1,512}$"
# sts:AssumeRole's RoleSessionName: 2 to 64 of these characters.
_SESSION_NAME_CHARACTERS = re.compile(r"[^\w+=,.@-]")
_SESSION_NAME_MAX = 64


def account_of_role(role_arn: str) -> str:
    match = re.match(ROLE_ARN_PATTERN, role_arn)
    if match is None:
        raise ValueError(f"'{role_arn}' is not an IAM role ARN")
    return match.group(1)


def account_of(arn: str) -> str:
    """The account field of an ARN (``arn:partition:service:region:account:resource``)."""
    parts = arn.split(":", 5)
    if len(parts) < 6 or not re.fullmatch(r"[0-9]{12}", parts[4]):
        raise ValueError(f"'{arn}' is not an ARN with an account")
    return parts[4]


def roles_by_account(role_arns: Iterable[str]) -> dict[str, str]:
    """TargetAccountRoleArns → {account: role ARN}; one deploy role per account."""
    roles: dict[str, str] = {}
    for arn in role_arns:
        account = account_of_role(arn)
        if account in roles and roles[account] != arn:
            raise ValueError(f"account {account} has two deploy roles: {roles[account]}, {arn}")
        roles[account] = arn
    return roles


@dataclass(frozen=True)
class Target:
    """Another account (and region) an app runs in, and the role that reaches it."""

    account: str
    region: str | None  # None: the deployer's region
    role_arn: str


def target_of(config: AppConfig, roles: Mapping[str, str]) -> Target | None:
    """Where the app's ECS calls go: None for the deployer's own account and region."""
    if config.account is None:
        return None
    role_arn = roles.get(config.account)
    if role_arn is None:
        listed = ", ".join(sorted(roles)) or "none"
        raise AccountNotAllowed(
            f"account {config.account} is not one this stack may deploy to "
            f"(TargetAccountRoleArns lists: {listed})"
        )
    return Target(config.account, config.region, role_arn)


def session_name(deployment_id: str) -> str:
    """The RoleSessionName: the deployment id, so the target account's CloudTrail shows
    which deployment acted (its first 64 characters: the app and the digest's start)."""
    name = _SESSION_NAME_CHARACTERS.sub("-", deployment_id)[:_SESSION_NAME_MAX]
    return name.ljust(2, "-")  # at least 2 characters
