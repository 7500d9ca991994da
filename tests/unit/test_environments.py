"""An app's environments (config/models.py): a promotion chain's places, validated naming
their field, and refused by the stack's scope when one is out of bounds."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from ecs_deployer.config.parsing import parse_app_config
from ecs_deployer.domain.accounts import target_of
from ecs_deployer.domain.scope import StackScope
from ecs_deployer.errors import AccountNotAllowed, ConfigError

STAGING = "111111111111"
PRODUCTION = "222222222222"
ROLES = {
    STAGING: f"arn:aws:iam::{STAGING}:role/ecs-deployer-target",
    PRODUCTION: f"arn:aws:iam::{PRODUCTION}:role/ecs-deployer-target",
}
SCOPE = StackScope(
    clusters=frozenset({"main", "prod"}),
    family_prefixes=frozenset({"shop-"}),
    subnets=frozenset(),
    security_groups=frozenset(),
    public_ip=False,
    target_roles=ROLES,
)
CHAIN = [
    {"name": "staging", "account": STAGING},
    {"name": "production", "account": PRODUCTION, "region": "eu-west-1", "cluster": "prod"},
]


def _config(environments: Any = CHAIN, **extra: object) -> Any:
    document = {
        "version": "v1",
        "cluster": "main",
        "services": [{"name": "shop-web", "containers": ["app"]}],
        "environments": environments,
        **extra,
    }
    return parse_app_config(yaml.safe_dump(document), "test config")


def test_each_environment_is_the_app_deployed_where_it_says() -> None:
    config = _config()

    staging, production = (config.in_environment(name) for name in ("staging", "production"))

    assert (staging.account, staging.region, staging.cluster) == (STAGING, None, "main")
    assert (production.account, production.region, production.cluster) == (
        PRODUCTION,
        "eu-west-1",
        "prod",
    )
    assert staging.environments is None
    assert staging.services == config.services
    assert target_of(production, ROLES) is not None
    assert config.next_environment("staging") == config.environments[1]
    assert config.next_environment("production") is None


def test_an_environment_gates_its_deployments_as_it_says_or_as_the_app_does() -> None:
    gated_production = _config([*CHAIN[:1], {**CHAIN[1], "approval": "required"}])
    gated_app = _config([*CHAIN[:1], {**CHAIN[1], "approval": "none"}], approval="required")

    assert [
        gated_production.in_environment(name).approval for name in ("staging", "production")
    ] == [
        "none",
        "required",
    ]
    assert [gated_app.in_environment(name).approval for name in ("staging", "production")] == [
        "required",
        "none",
    ]


def test_an_app_without_environments_has_none() -> None:
    config = _config(None)

    assert config.environments is None
    with pytest.raises(KeyError):
        config.in_environment("staging")


@pytest.mark.parametrize(
    ("environments", "extra", "message"),
    [
        ([], {}, "environments: expected `array` of length >= 1"),
        (
            [{"name": "staging"}, {"name": "staging", "cluster": "prod"}],
            {},
            "environments: environment 'staging' is listed twice",
        ),
        ([{"name": "Staging!"}], {}, "environments[0].name: expected `str` matching regex"),
        ([{"name": "staging", "acount": STAGING}], {}, "environments[0].acount: unknown field"),
        (
            [{"name": "staging", "approval": "maybe"}],
            {},
            "environments[0].approval: invalid enum value 'maybe'",
        ),
        ([{"name": "staging", "region": "eu-west-1"}], {}, "environments[0]: region needs account"),
        (
            [{"name": "staging", "account": STAGING}, {"name": "qa", "account": STAGING}],
            {},
            "environments[1]: 'qa' runs where 'staging' does",
        ),
        (
            [
                {
                    "name": "staging",
                    "account": STAGING,
                    "cluster": f"arn:aws:ecs:us-east-1:{PRODUCTION}:cluster/main",
                }
            ],
            {},
            f"environments[0]: cluster arn:aws:ecs:us-east-1:{PRODUCTION}:cluster/main is not "
            f"in account {STAGING}",
        ),
        (CHAIN, {"account": STAGING}, "account and environments are exclusive"),
    ],
)
def test_a_broken_chain_is_refused_naming_its_field(
    environments: Any, extra: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        _config(environments, **extra)

    assert any(
        message in f"{error.path}: {error.message}".lstrip(": ") for error in raised.value.errors
    ), raised.value.errors


def test_an_environment_in_an_account_the_stack_does_not_list_is_refused_at_once() -> None:
    """The whole chain is checked at its first deployment, not when it reaches production."""
    scope = StackScope(**{**SCOPE.__dict__, "target_roles": {STAGING: ROLES[STAGING]}})

    with pytest.raises(AccountNotAllowed, match=rf"environments\[1\]\.account: .*{PRODUCTION}"):
        scope.check_config("shop", _config())


def test_an_environment_on_a_cluster_the_stack_does_not_list_is_refused_by_field() -> None:
    chain = [CHAIN[0], {**CHAIN[1], "cluster": "payments"}]

    with pytest.raises(ConfigError) as raised:
        SCOPE.check_config("shop", _config(chain))

    assert [error.path for error in raised.value.errors] == ["environments[1].cluster"]


def test_a_chain_within_the_stack_passes() -> None:
    SCOPE.check_config("shop", _config())


def _network(subnet: str, group: str) -> dict[str, Any]:
    return {
        "vpc_configuration": {
            "assign_public_ip": False,
            "subnets": [subnet],
            "security_groups": [group],
        }
    }


# A migration in the app's network (awsvpc), and a smoke test in none (the bridge mode of EC2).
TASKS = {
    "pre": [
        {
            "family": "shop-migrate",
            "containers": ["app"],
            "network_configuration": _network("subnet-app", "sg-app"),
        }
    ],
    "post": [{"family": "shop-smoke-test", "containers": ["app"]}],
}
NETWORKED_CHAIN = [
    {**CHAIN[0], "network_configuration": _network("subnet-staging", "sg-staging")},
    {**CHAIN[1], "network_configuration": _network("subnet-production", "sg-production")},
]


def test_each_environment_runs_the_tasks_that_have_a_network_in_its_own() -> None:
    config = _config(NETWORKED_CHAIN, tasks=TASKS)

    for name, subnet, group in (
        ("staging", "subnet-staging", "sg-staging"),
        ("production", "subnet-production", "sg-production"),
    ):
        [migrate], [smoke_test] = (
            config.in_environment(name).phase_tasks(p) for p in ("pre", "post")
        )
        assert migrate.network_configuration is not None
        vpc = migrate.network_configuration.vpc_configuration
        assert (vpc.subnets, vpc.security_groups) == ([subnet], [group])
        assert migrate.family == "shop-migrate"
        assert smoke_test.network_configuration is None  # no network: none given to it
    # The app's own config keeps its tasks' network.
    [migrate] = config.phase_tasks("pre")
    assert migrate.network_configuration is not None
    assert migrate.network_configuration.vpc_configuration.subnets == ["subnet-app"]


def test_an_environment_without_a_network_runs_the_tasks_in_theirs() -> None:
    """One account and region: the tasks' own subnets exist in every environment."""
    chain = [
        {"name": "staging", "account": STAGING},
        {"name": "qa", "account": STAGING, "cluster": "prod"},
    ]
    config = _config(chain, tasks=TASKS)

    [migrate] = config.in_environment("qa").phase_tasks("pre")
    assert migrate.network_configuration is not None
    assert migrate.network_configuration.vpc_configuration.subnets == ["subnet-app"]


@pytest.mark.parametrize(
    ("environments", "tasks", "message"),
    [
        (
            [NETWORKED_CHAIN[0], CHAIN[1]],
            TASKS,
            "environments[1].network_configuration: required, since one-off tasks have a "
            "network_configuration and the environments span several accounts or regions",
        ),
        (
            [
                {"name": "staging", "account": STAGING},
                {"name": "dr", "account": STAGING, "region": "eu-west-1"},
            ],
            TASKS,
            "environments[0].network_configuration: required",
        ),
        (
            NETWORKED_CHAIN,
            {"pre": [{"family": "shop-migrate", "containers": ["app"]}]},
            "environments[0].network_configuration: no one-off task has a network_configuration",
        ),
        (
            [{**NETWORKED_CHAIN[0], "network_configuration": {"vpc_configuration": {}}}],
            TASKS,
            "environments[0].network_configuration.vpc_configuration.assign_public_ip: "
            "required field is missing",
        ),
    ],
)
def test_a_chain_across_accounts_names_the_network_each_environment_lacks(
    environments: Any, tasks: Any, message: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        _config(environments, tasks=tasks)

    assert any(
        message in f"{error.path}: {error.message}".lstrip(": ") for error in raised.value.errors
    ), raised.value.errors


def test_tasks_without_a_network_need_none_per_environment() -> None:
    config = _config(tasks={"pre": [{"family": "shop-migrate", "containers": ["app"]}]})

    assert config.in_environment("production").phase_tasks("pre") == config.phase_tasks("pre")


def test_the_stack_checks_the_networks_the_environments_run_tasks_in() -> None:
    """Every environment names its own: those are checked, the tasks' own never used."""
    scope = StackScope(
        **{
            **SCOPE.__dict__,
            "subnets": frozenset({"subnet-staging"}),
            "security_groups": frozenset({"sg-staging", "sg-production"}),
        }
    )

    with pytest.raises(ConfigError) as raised:
        scope.check_config("shop", _config(NETWORKED_CHAIN, tasks=TASKS))

    assert [error.path for error in raised.value.errors] == [
        "environments[1].network_configuration.vpc_configuration.subnets[0]"
    ]


def test_the_stack_checks_the_tasks_networks_where_an_environment_uses_them() -> None:
    chain = [
        {"name": "staging", "account": STAGING},
        {
            "name": "production",
            "account": STAGING,
            "cluster": "prod",
            "network_configuration": _network("subnet-production", "sg-production"),
        },
    ]
    scope = StackScope(
        **{
            **SCOPE.__dict__,
            "subnets": frozenset({"subnet-production"}),
            "security_groups": frozenset({"sg-app", "sg-production"}),
        }
    )

    with pytest.raises(ConfigError) as raised:
        scope.check_config("shop", _config(chain, tasks=TASKS))

    assert [error.path for error in raised.value.errors] == [
        "tasks.pre[0].network_configuration.vpc_configuration.subnets[0]"
    ]
