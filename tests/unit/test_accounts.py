"""Apps in other accounts: the config's account and region, the stack's deploy roles, and
the session that reaches the account (domain/accounts.py, aws/clients.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
import yaml
from botocore.stub import Stubber

from ecs_deployer.aws import clients
from ecs_deployer.aws.clients import TargetClients
from ecs_deployer.config.parsing import parse_app_config
from ecs_deployer.domain.accounts import Target, roles_by_account, session_name, target_of
from ecs_deployer.domain.scope import StackScope
from ecs_deployer.errors import AccountNotAllowed, ConfigError, TargetRoleDenied
from ecs_deployer.settings import Settings

STAGING = "111111111111"
PRODUCTION = "222222222222"
STAGING_ROLE = f"arn:aws:iam::{STAGING}:role/ecs-deployer-target"
PRODUCTION_ROLE = f"arn:aws:iam::{PRODUCTION}:role/ecs-deployer-target"
ROLES = {STAGING: STAGING_ROLE, PRODUCTION: PRODUCTION_ROLE}


def _config(**extra: object) -> Any:
    document = {
        "version": "v1",
        "cluster": "main",
        "services": [{"name": "shop-web", "containers": ["app"]}],
        **extra,
    }
    return parse_app_config(yaml.safe_dump(document), "test config")


def test_an_app_without_account_runs_in_the_deployers_account() -> None:
    assert target_of(_config(), ROLES) is None


def test_an_app_in_a_listed_account_is_reached_through_its_role() -> None:
    config = _config(account=STAGING, region="eu-west-1")

    assert target_of(config, ROLES) == Target(STAGING, "eu-west-1", STAGING_ROLE)


def test_an_account_the_stack_does_not_list_is_refused_naming_the_listed_ones() -> None:
    scope = StackScope(
        clusters=frozenset({"main"}),
        family_prefixes=frozenset({"shop-"}),
        subnets=frozenset(),
        security_groups=frozenset(),
        public_ip=False,
        target_roles={STAGING: STAGING_ROLE},
    )

    with pytest.raises(AccountNotAllowed, match=f"{PRODUCTION} .*lists: {STAGING}"):
        scope.check_config("shop", _config(account=PRODUCTION))


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"account": "12345"}, "account"),
        ({"account": 111111111111}, "account"),
        ({"account": STAGING, "region": "Europe"}, "region"),
        ({"region": "eu-west-1"}, "region needs account"),
        (
            {"account": STAGING, "cluster": f"arn:aws:ecs:us-east-1:{PRODUCTION}:cluster/main"},
            f"not in account {STAGING}",
        ),
        (
            {
                "account": STAGING,
                "region": "eu-west-1",
                "cluster": f"arn:aws:ecs:us-east-1:{STAGING}:cluster/main",
            },
            "region eu-west-1",
        ),
    ],
)
def test_a_malformed_account_or_region_is_refused(extra: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigError, match=field):
        _config(**extra)


def test_the_stack_lists_one_deploy_role_per_account() -> None:
    assert roles_by_account([STAGING_ROLE, PRODUCTION_ROLE]) == ROLES
    with pytest.raises(ValueError, match="two deploy roles"):
        roles_by_account([STAGING_ROLE, f"arn:aws:iam::{STAGING}:role/other"])


def test_the_lambda_environment_names_the_roles_and_the_external_id() -> None:
    settings = Settings.from_env(
        {
            "CONFIG_PREFIX": "/apps",
            "DEPLOYMENTS_TABLE": "deployments",
            "TASK_FAMILY_PREFIXES": "shop-",
            "TARGET_ACCOUNT_ROLE_ARNS": f"{STAGING_ROLE},{PRODUCTION_ROLE}",
            "TARGET_ROLE_EXTERNAL_ID": "ecs-deployer-4f1c",
        }
    )

    assert settings.target_roles == ROLES
    assert settings.target_role_external_id == "ecs-deployer-4f1c"
    assert settings.scope.target_roles == ROLES


@pytest.mark.parametrize(
    "arns",
    ["not-a-role", f"{STAGING_ROLE},arn:aws:iam::{STAGING}:role/another"],
)
def test_a_bad_role_list_in_the_environment_names_its_variable(arns: str) -> None:
    with pytest.raises(ConfigError, match="TARGET_ACCOUNT_ROLE_ARNS: "):
        Settings.from_env(
            {
                "CONFIG_PREFIX": "/apps",
                "DEPLOYMENTS_TABLE": "deployments",
                "TASK_FAMILY_PREFIXES": "shop-",
                "TARGET_ACCOUNT_ROLE_ARNS": arns,
            }
        )


def test_the_session_name_is_the_deployment_id_within_stss_limits() -> None:
    long_id = "a" * 40 + "-" + "0123456789abcdef" * 2

    assert session_name("shop-0123abcd") == "shop-0123abcd"
    assert session_name(long_id) == long_id[:64]
    assert session_name("x") == "x-"


@pytest.mark.usefixtures("aws")
def test_the_target_session_acts_in_the_target_account() -> None:
    """moto decides the account from the access key: AssumeRole's keys act in the role's."""
    target = TargetClients(Target(STAGING, "eu-west-1", STAGING_ROLE), "shop-1", "ext")
    target.ecs().create_cluster(clusterName="staging")

    assert boto3.client("ecs", region_name="eu-west-1").list_clusters()["clusterArns"] == []
    assert target.ecs().list_clusters()["clusterArns"] == [
        f"arn:aws:ecs:eu-west-1:{STAGING}:cluster/staging"
    ]
    assert target.ecs().meta.region_name == "eu-west-1"


def _stubbed_sts(monkeypatch: pytest.MonkeyPatch) -> Stubber:
    sts = boto3.client("sts", region_name="us-east-1")
    monkeypatch.setattr(clients, "_sts_client", lambda: sts)
    return Stubber(sts)


def test_the_role_is_assumed_once_with_the_external_id_and_session_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stubber = _stubbed_sts(monkeypatch)
    expected = {
        "RoleArn": STAGING_ROLE,
        "RoleSessionName": "shop-0123abcd",
        "ExternalId": "ext-id",
    }
    credentials = {
        "AccessKeyId": "ASIAEXAMPLEEXAMPLE00",
        "SecretAccessKey": "secret",
        "SessionToken": "token",
        "Expiration": datetime(2099, 1, 1, tzinfo=UTC),
    }
    stubber.add_response("assume_role", {"Credentials": credentials}, expected)
    target = TargetClients(Target(STAGING, None, STAGING_ROLE), "shop-0123abcd", "ext-id")

    with stubber:
        ecs, logs = target.ecs(), target.logs()
        # Signing reads the credentials: the first call of either client assumes the role.
        frozen = ecs._request_signer._credentials.get_frozen_credentials()  # type: ignore[attr-defined]
        logs._request_signer._credentials.get_frozen_credentials()

    assert frozen.access_key == "ASIAEXAMPLEEXAMPLE00"
    assert target.ecs() is ecs
    stubber.assert_no_pending_responses()  # one AssumeRole for both clients


def test_a_role_that_cannot_be_assumed_names_the_account_and_the_role(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stubber = _stubbed_sts(monkeypatch)
    stubber.add_client_error(
        "assume_role", "AccessDenied", "not authorized to perform: sts:AssumeRole"
    )
    target = TargetClients(Target(STAGING, None, STAGING_ROLE), "shop-1", "ext-id")

    with stubber, pytest.raises(TargetRoleDenied) as denied:
        target.ecs().list_clusters()

    assert STAGING in str(denied.value)
    assert STAGING_ROLE in str(denied.value)
    assert "ext-id" not in str(denied.value)
