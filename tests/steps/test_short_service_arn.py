"""A service created before 2021 has a short ARN (service/NAME), which the deployer's IAM
policies, scoped to service/CLUSTER/*, do not cover: refused at planning, changing nothing,
with how to migrate it."""

from __future__ import annotations

from typing import TYPE_CHECKING

import boto3
import pytest

from ecs_deployer.errors import ConfigError
from ecs_deployer.steps.register import register_task_definitions
from ecs_deployer_tools.localcloud.ecs_sim import RolloutFault
from tests.aws_fixtures import STARTED, accepted

if TYPE_CHECKING:
    from collections.abc import Callable

    from ecs_deployer.aws.dynamodb import DeploymentsTable
    from ecs_deployer.aws.ecs import EcsGateway
    from ecs_deployer.domain.admission import AdmissionDeps
    from ecs_deployer_tools.demo import sample_app
    from ecs_deployer_tools.localcloud.ecs_sim import EcsSimulation

SHORT = "arn:aws:ecs:us-east-1:123456789012:service/shop-web"
LONG = "arn:aws:ecs:us-east-1:123456789012:service/shop-demo/shop-web"


def test_a_service_with_a_short_arn_is_refused_with_how_to_migrate_it(
    seeded: sample_app.SeededApp,
    deps: AdmissionDeps,
    ecs: EcsGateway,
    table: DeploymentsTable,
    simulate: Callable[..., EcsSimulation],
) -> None:
    simulation = simulate(services={"shop-web": RolloutFault(short_arn=True)})
    deployment = accepted(deps)
    with pytest.raises(ConfigError) as refused:
        register_task_definitions(deployment, ecs, table, deps.scope, STARTED)
    message = str(refused.value)
    assert f"services[0]: 'shop-web' has the short ARN {SHORT}" in message
    assert "scoped to service/shop-demo/*" in message
    assert "put-account-setting --name serviceLongArnFormat --value enabled" in message
    assert f"tag-resource --resource-arn {LONG}" in message
    assert "shop-worker" not in message  # its ARN is long
    # Nothing changed: no revision registered, no service moved.
    client = boto3.client("ecs")
    for family in ("shop-web", "shop-worker", "shop-migrate"):
        revisions = client.list_task_definitions(familyPrefix=family)["taskDefinitionArns"]
        assert revisions == [seeded.task_definitions[family]]
    for service in seeded.services:
        primary = simulation.primary_task_definition(service, cluster="shop-demo")
        assert primary == seeded.task_definitions[service]
