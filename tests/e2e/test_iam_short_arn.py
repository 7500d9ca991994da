"""A service created before 2021 has the short ARN service/NAME, and IAM evaluates that ARN:
statements scoped to service/CLUSTER/* do not cover it; those keyed on ecs:cluster do."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from ecs_deployer_tools.demo import runner, sample_app
from ecs_deployer_tools.demo.scenarios import SCENARIOS

if TYPE_CHECKING:
    from ecs_deployer_tools.localcloud.cloud import LocalCloud
    from ecs_deployer_tools.localcloud.ecs_sim import EcsSimulation
    from ecs_deployer_tools.localcloud.iam.guard import Authorization

pytestmark = pytest.mark.e2e


def test_a_service_with_a_short_arn_is_described_as_aws_names_it() -> None:
    """Planning describes it to refuse it; Finalize describes it for the record."""
    seen: list[Authorization] = []
    refused: list[Authorization] = []

    def inspect(cloud: LocalCloud, _: EcsSimulation) -> None:
        seen.extend(cloud.iam.ledger.authorizations)
        refused.extend(cloud.iam.ledger.take_denied())

    result = runner.run(SCENARIOS["short-service-arn"], inspect=inspect)

    assert result.as_expected
    short = [
        a
        for a in seen
        if a.decision.request.action == "ecs:DescribeServices"
        and a.decision.request.resource.endswith(f":service/{sample_app.WEB}")
    ]
    assert {a.caller for a in short} >= {"RegisterTaskDefinitionsFunction", "FinalizeFunction"}
    assert all(
        {g.statement for g in a.decision.grants} == {"DescribeShortArnServices"} for a in short
    )
    assert refused == []
