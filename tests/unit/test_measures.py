"""What a finished deployment adds to the deployer's metrics (domain/measures.py), and how
they reach CloudWatch: embedded-metric-format log lines (aws/metrics.py)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import TYPE_CHECKING

from ecs_deployer.aws.metrics import emit
from ecs_deployer.document import Failure, ServiceRollback
from ecs_deployer.domain.measures import NAMESPACE, Measure, of_deployment
from ecs_deployer.outcome import Outcome
from tests.aws_fixtures import STARTED, accepted

if TYPE_CHECKING:
    import pytest

    from ecs_deployer.domain.admission import AdmissionDeps
    from ecs_deployer_tools.demo import sample_app

ENDED = STARTED + timedelta(minutes=7)


def test_a_success_counts_once_with_its_duration(
    seeded: sample_app.SeededApp, deps: AdmissionDeps
) -> None:
    deployment = accepted(deps)
    deployment.requested_at = STARTED
    measures = of_deployment(deployment, Outcome(status="SUCCEEDED"), ENDED)
    assert measures == [
        Measure("Deployments", "Count", 1, {"Status": "SUCCEEDED"}),
        Measure("DeploymentDuration", "Seconds", 420.0, {"Status": "SUCCEEDED"}),
    ]


def test_a_rolled_back_failure_counts_its_error_and_the_services_moved_back(
    seeded: sample_app.SeededApp, deps: AdmissionDeps
) -> None:
    deployment = accepted(deps)
    deployment.failure = Failure(error="RolloutFailed", cause="web: circuit breaker")
    web, worker = deployment.services
    web.rollback = ServiceRollback(state="COMPLETED")
    worker.rollback = ServiceRollback(state="NOT_NEEDED")
    outcome = Outcome(status="ROLLED_BACK", error="RolloutFailed")
    names = {m.name: m for m in of_deployment(deployment, outcome, ENDED)}
    assert names["DeploymentFailures"].dimensions == {"Error": "RolloutFailed"}
    assert names["ServiceRollbacks"].value == 1


def test_measures_are_printed_in_the_embedded_metric_format(
    capsys: pytest.CaptureFixture[str],
) -> None:
    emit([Measure("Deployments", "Count", 1, {"Status": "FAILED"})])
    [line] = capsys.readouterr().out.strip().splitlines()
    document = json.loads(line)
    [directive] = document["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == NAMESPACE
    assert directive["Metrics"] == [{"Name": "Deployments", "Unit": "Count"}]
    assert any("Status" in dimensions for dimensions in directive["Dimensions"])
    assert (document["Deployments"], document["Status"]) == ([1.0], "FAILED")
