"""The Lambdas' environment (settings.py): the optional summary topic, the CodeDeploy
groups."""

from __future__ import annotations

import pytest

from ecs_deployer.errors import ConfigError
from ecs_deployer.settings import Settings

ENVIRONMENT = {
    "CONFIG_PREFIX": "/ecs-deployer/apps",
    "DEPLOYMENTS_TABLE": "deployments",
    "TASK_FAMILY_PREFIXES": "shop-",
}
TOPIC = "arn:aws:sns:us-east-1:123456789012:deployments"


@pytest.mark.parametrize(("value", "topic"), [("", None), (TOPIC, TOPIC)])
def test_an_empty_summary_topic_turns_summaries_off(value: str, topic: str | None) -> None:
    settings = Settings.from_env({**ENVIRONMENT, "SUMMARY_TOPIC_ARN": value})
    assert settings.summary_topic_arn == topic


def test_a_summary_topic_that_is_no_topic_arn_is_named_in_the_error() -> None:
    with pytest.raises(ConfigError) as raised:
        Settings.from_env({**ENVIRONMENT, "SUMMARY_TOPIC_ARN": "deployments"})
    assert "SUMMARY_TOPIC_ARN" in str(raised.value.errors)


def test_the_codedeploy_groups_bound_the_stack_scope() -> None:
    settings = Settings.from_env(
        {**ENVIRONMENT, "CODEDEPLOY_DEPLOYMENT_GROUPS": "shop/web,shop/api"}
    )
    assert settings.scope.codedeploy_groups == {"shop/web", "shop/api"}


def test_a_codedeploy_group_without_its_application_is_named_in_the_error() -> None:
    with pytest.raises(ConfigError) as raised:
        Settings.from_env({**ENVIRONMENT, "CODEDEPLOY_DEPLOYMENT_GROUPS": "web"})
    assert [error.path for error in raised.value.errors] == ["CODEDEPLOY_DEPLOYMENT_GROUPS"]
