"""The local cloud's IAM guard and assumed roles: AssumeRole is decided by the caller's grant
and then the role's trust policy (its Principal and its sts:ExternalId condition), and a call
with the credentials it returns is decided by the assumed role's policies, in its account."""

from __future__ import annotations

import json
from typing import Any, Literal

import boto3
import pytest
from botocore.exceptions import ClientError

from ecs_deployer_tools.localcloud.iam.guard import IamGuard, trust_decision
from ecs_deployer_tools.localcloud.iam.policy import AuthorizationRequest
from ecs_deployer_tools.localcloud.runtime import Caller

DEPLOYER = "123456789012"
APP_ACCOUNT = "111111111111"
FUNCTION_ROLE = f"arn:aws:iam::{DEPLOYER}:role/ecs-deployer-RunTasksFunctionRole"
DEPLOY_ROLE = f"arn:aws:iam::{APP_ACCOUNT}:role/ecs-deployer-target"
POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "DescribeClusters",
            "Effect": "Allow",
            "Action": "ecs:DescribeClusters",
            "Resource": "arn:*:ecs:*:*:cluster/staging",
        }
    ],
}


def _in_account(account: str, service: Literal["iam"]) -> Any:
    """A client acting in `account`: moto's AssumeRole keys act in the role's account."""
    credentials = boto3.client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/admin", RoleSessionName="test"
    )["Credentials"]
    return boto3.client(
        service,
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )


@pytest.fixture
def deploy_role(aws: None) -> str:
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": [FUNCTION_ROLE]},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"sts:ExternalId": "ext"}},
            }
        ],
    }
    iam = _in_account(APP_ACCOUNT, "iam")
    iam.create_role(RoleName="ecs-deployer-target", AssumeRolePolicyDocument=json.dumps(trust))
    iam.put_role_policy(
        RoleName="ecs-deployer-target", PolicyName="deploy", PolicyDocument=json.dumps(POLICY)
    )
    return DEPLOY_ROLE


def _assume(role_arn: str, external_id: str) -> AuthorizationRequest:
    return AuthorizationRequest("sts:AssumeRole", role_arn, {"sts:ExternalId": external_id})


def test_the_trust_policy_lets_in_the_named_role_with_the_external_id(deploy_role: str) -> None:
    assert trust_decision(deploy_role, FUNCTION_ROLE, _assume(deploy_role, "ext")).allowed


@pytest.mark.parametrize(
    ("caller", "external_id", "role"),
    [
        (FUNCTION_ROLE, "other", DEPLOY_ROLE),  # the wrong external id
        (f"arn:aws:iam::{DEPLOYER}:role/someone-else", "ext", DEPLOY_ROLE),  # not trusted
        (FUNCTION_ROLE, "ext", f"arn:aws:iam::{APP_ACCOUNT}:role/missing"),  # no such role
    ],
)
def test_the_trust_policy_refuses_anyone_else(
    deploy_role: str, caller: str, external_id: str, role: str
) -> None:
    assert not trust_decision(role, caller, _assume(role, external_id)).allowed


def test_an_assumed_sessions_call_is_decided_by_the_assumed_roles_policies(
    deploy_role: str,
) -> None:
    guard = IamGuard(DEPLOYER)
    guard.declare_role(APP_ACCOUNT, deploy_role, "TargetAccountRole")
    credentials = boto3.client("sts").assume_role(
        RoleArn=deploy_role, RoleSessionName="shop-0123", ExternalId="ext"
    )["Credentials"]
    ecs = boto3.client(
        "ecs",
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )
    caller = Caller("RunTasksFunction", "ecs-deployer-RunTasksFunction")

    guard.authorize(caller, ecs, "DescribeClusters", {"clusters": ["staging"]})
    with pytest.raises(ClientError) as refused:
        guard.authorize(caller, ecs, "DescribeClusters", {"clusters": ["production"]})

    message = refused.value.response["Error"]["Message"]
    assert f"arn:aws:sts::{APP_ACCOUNT}:assumed-role/ecs-deployer-target/shop-0123" in message
    assert f"arn:aws:ecs:us-east-1:{APP_ACCOUNT}:cluster/production" in message
    assert [a.caller for a in guard.ledger.authorizations] == ["TargetAccountRole"] * 2
    assert guard.ledger.used() == {
        "TargetAccountRole": set(guard.ledger.authorizations[0].decision.grants)
    }
