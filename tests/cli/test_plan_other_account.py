"""`ecs-deployer plan` of an app in another account: refused, reading nothing. The
operator's credentials reach the deployer's account only, and the deploy role in the app's
account trusts the deployer's functions alone (templates/target-account-role.yaml), so a
plan read with them would show the deployer account's services as the app's. A deploy of
it starts: the deployer's functions reach that account."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from ecs_deployer_tools.demo import runner, sample_app
from ecs_deployer_tools.demo.scenarios import STAGING_ACCOUNT
from ecs_deployer_tools.operator.configs import push_config
from tests.cli.conftest import local_cloud, no_traceback

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tests.cli.conftest import Local


@pytest.fixture(scope="module")
def listing() -> Iterator[Local]:
    """The stack lists the staging and production accounts' deploy roles, as the
    cross-account scenarios' does; the sample app's cluster and services, same names, are
    in the deployer's account."""
    with local_cloud(stack_parameters=runner.TARGET_STACK_PARAMETERS) as local:
        yield local


APPS_ELSEWHERE = pytest.mark.parametrize(
    ("app", "where", "args"),
    [
        ("elsewhere", {"account": STAGING_ACCOUNT, "region": "eu-west-1"}, []),
        (
            "chain-elsewhere",
            {"environments": [{"name": "staging", "account": STAGING_ACCOUNT}]},
            ["--environment", "staging"],
        ),
    ],
)


def _push(listing: Local, app: str, where: dict[str, Any]) -> None:
    seeded = listing.seeded
    config = sample_app.app_config(seeded.subnet, seeded.security_group, app=app, **where)
    push_config(listing.cloud.client("ssm"), runner.CONFIG_PREFIX, app, config)


@APPS_ELSEWHERE
def test_plan_of_an_app_in_another_account_is_refused_reading_nothing(
    listing: Local, app: str, where: dict[str, Any], args: list[str]
) -> None:
    _push(listing, app, where)

    result = listing.run("plan", app, "--tag", sample_app.INITIAL_TAG, *args)

    no_traceback(result)
    said = " ".join(result.stderr.split())
    assert f"app '{app}' runs in account {STAGING_ACCOUNT}" in said, result.stderr
    assert "nothing was planned" in said


@APPS_ELSEWHERE
def test_a_deploy_of_an_app_in_another_account_starts(
    listing: Local, app: str, where: dict[str, Any], args: list[str]
) -> None:
    _push(listing, app, where)

    result = listing.run("deploy", app, "--tag", sample_app.INITIAL_TAG, "--no-wait", *args)

    assert result.exit_code == 0, result.stderr
    assert f":execution:ecs-deployer-deploy:{app}-manual-" in result.stdout
