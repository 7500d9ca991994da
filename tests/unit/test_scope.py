"""The stack's scope (domain/scope.py): a config asking for more than the stack's
parameters allow is refused, naming every field."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from ecs_deployer.config.models import AppConfig, app_config
from ecs_deployer.domain.scope import StackScope, family_of
from ecs_deployer.errors import ConfigError
from ecs_deployer.structs import encode
from ecs_deployer_tools.demo import sample_app

SUBNET, GROUP = "subnet-0a1b", "sg-0a1b"
SCOPE = StackScope(
    clusters=frozenset({sample_app.CLUSTER}),
    family_prefixes=frozenset({"shop-"}),
    subnets=frozenset({SUBNET}),
    security_groups=frozenset({GROUP}),
    public_ip=False,
    codedeploy_groups=frozenset({sample_app.CODEDEPLOY_DEPLOYMENT_GROUP}),
)


def _config(
    *, subnet: str = SUBNET, group: str = GROUP, public_ip: bool = False, **overrides: Any
) -> AppConfig:
    config = encode(sample_app.app_config(subnet, group, **overrides))
    for phase in ("pre", "post"):
        for task in config["tasks"].get(phase, []):
            if task.get("network_configuration") is not None:
                task["network_configuration"]["vpc_configuration"]["assign_public_ip"] = public_ip
    return app_config(config)


def test_a_config_within_the_scope_passes() -> None:
    SCOPE.check_config("shop", _config())


@pytest.mark.parametrize(
    ("config", "field", "fragment"),
    [
        (_config(cluster="payments"), "cluster", "'payments' is not a cluster this stack"),
        (
            _config(tasks={"pre": [{"family": "billing-migrate", "containers": ["app"]}]}),
            "tasks.pre[0].family",
            "family 'billing-migrate' is not one this stack may register or run",
        ),
        (
            _config(
                tasks={
                    "post": [
                        {
                            "family": "arn:aws:ecs:us-east-1:123456789012:task-definition/admin:4",
                            "containers": ["app"],
                        }
                    ]
                }
            ),
            "tasks.post[0].family",
            "family 'admin' is not one",
        ),
        (
            _config(subnet="subnet-0ther"),
            "tasks.pre[0].network_configuration.vpc_configuration.subnets[0]",
            "'subnet-0ther' is not allowed by this stack (AllowedSubnets: subnet-0a1b)",
        ),
        (
            _config(group="sg-0pen"),
            "tasks.post[0].network_configuration.vpc_configuration.security_groups[0]",
            "'sg-0pen' is not allowed by this stack (AllowedSecurityGroups: sg-0a1b)",
        ),
        (
            _config(public_ip=True),
            "tasks.pre[0].network_configuration.vpc_configuration.assign_public_ip",
            "no public IP (AllowPublicIp: false)",
        ),
    ],
)
def test_what_the_stack_does_not_allow_is_refused_by_field(
    config: AppConfig, field: str, fragment: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        SCOPE.check_config("shop", config)
    problems = {error.path: error.message for error in raised.value.errors}
    assert fragment in problems[field]


def _blue_green(application: str, group: str) -> AppConfig:
    config = encode(_config(blue_green=True))
    config["services"][0]["codedeploy"] = {"application": application, "deployment_group": group}
    return app_config(config)


def test_a_codedeploy_service_through_a_listed_group_passes() -> None:
    SCOPE.check_config(
        "shop", _blue_green(sample_app.CODEDEPLOY_APPLICATION, sample_app.CODEDEPLOY_GROUP)
    )


@pytest.mark.parametrize(
    ("config", "field", "message"),
    [
        (
            _blue_green(sample_app.CODEDEPLOY_APPLICATION, "shop-admin"),
            "services[0].codedeploy.deployment_group",
            "'shop/shop-admin' is not a CodeDeploy deployment group this stack may deploy "
            "through (CodeDeployDeploymentGroups: shop/shop-web)",
        ),
        (
            _blue_green("billing", sample_app.CODEDEPLOY_GROUP),
            "services[0].codedeploy.application",
            "'billing' is not a CodeDeploy application this stack may deploy through "
            "(CodeDeployDeploymentGroups: shop/shop-web)",
        ),
    ],
)
def test_a_codedeploy_group_the_stack_does_not_list_is_refused_by_field(
    config: AppConfig, field: str, message: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        SCOPE.check_config("shop", config)

    assert {error.path: error.message for error in raised.value.errors} == {field: message}


def test_a_stack_without_codedeploy_groups_refuses_every_codedeploy_service() -> None:
    without = dataclasses.replace(SCOPE, codedeploy_groups=frozenset())

    with pytest.raises(ConfigError) as raised:
        without.check_config("shop", _config(blue_green=True))

    [error] = raised.value.errors
    assert error.path == "services[0].codedeploy.application"
    assert "(CodeDeployDeploymentGroups: none)" in error.message


def test_public_ips_are_allowed_when_the_stack_says_so() -> None:
    open_scope = dataclasses.replace(SCOPE, public_ip=True)
    open_scope.check_config("shop", _config(public_ip=True))


@pytest.mark.parametrize(
    ("reference", "family"),
    [
        ("shop-migrate", "shop-migrate"),
        ("shop-migrate:3", "shop-migrate"),
        ("arn:aws:ecs:us-east-1:123456789012:task-definition/shop-migrate:3", "shop-migrate"),
    ],
)
def test_the_family_of_a_reference(reference: str, family: str) -> None:
    assert family_of(reference) == family
    assert SCOPE.allows_family(family)


def test_the_stack_parameters_give_the_codedeploy_groups() -> None:
    """What `ecs-deployer plan` and `config validate` check a config against."""
    parameters = {"CodeDeployDeploymentGroups": "shop/shop-web,shop/shop-api"}

    scope = StackScope.from_parameters(parameters)

    assert scope.codedeploy_groups == {"shop/shop-web", "shop/shop-api"}
