"""What a finished deployment adds to the deployer's metrics (domain/measures.py), and how
they reach CloudWatch: embedded-metric-format log lines (aws/metrics.py)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import TYPE_CHECKING, get_args

import pytest

from ecs_deployer.aws.metrics import emit
from ecs_deployer.document import Failure, ServiceRollback
from ecs_deployer.domain.measures import (
    DEPLOYMENTS,
    NAMESPACE,
    ROLLOUT_DURATION,
    TASK_DURATION,
    Measure,
    of_deployment,
)
from ecs_deployer.outcome import DeploymentStatus, Outcome
from tests.aws_fixtures import STARTED, accepted

if TYPE_CHECKING:
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


@pytest.mark.parametrize("status", get_args(DeploymentStatus))
def test_every_status_a_deployment_ends_with_is_counted_under_it(
    seeded: sample_app.SeededApp, deps: AdmissionDeps, status: DeploymentStatus
) -> None:
    """The dashboard's "Deployments by status" draws a line per Status counted here."""
    deployment = accepted(deps)
    [counted] = [
        m for m in of_deployment(deployment, Outcome(status=status), ENDED) if m.name == DEPLOYMENTS
    ]
    assert counted.dimensions == {"Status": status}


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


def test_each_rollout_and_task_family_that_ran_to_its_end_is_timed_by_its_ending(
    seeded: sample_app.SeededApp, deps: AdmissionDeps
) -> None:
    deployment = accepted(deps)
    web, worker = deployment.services
    web.started_at, web.ended_at, web.state = STARTED, STARTED + timedelta(seconds=95), "FAILED"
    worker.started_at, worker.state = STARTED, "IN_PROGRESS"  # cut short: never judged over
    migrate = deployment.pre_tasks[0]
    migrate.started_at, migrate.ended_at = STARTED, STARTED + timedelta(seconds=30)
    migrate.state = "SUCCEEDED"
    ids = {"app": "shop", "deployment_id": deployment.deployment_id}

    timed = [
        m
        for m in of_deployment(deployment, Outcome(status="ROLLED_BACK"), ENDED)
        if m.name in (ROLLOUT_DURATION, TASK_DURATION)
    ]

    assert timed == [
        Measure(
            ROLLOUT_DURATION, "Seconds", 95.0, {"State": "FAILED"}, ids | {"ecs_service": web.name}
        ),
        Measure(
            TASK_DURATION,
            "Seconds",
            30.0,
            {"Phase": "pre", "State": "SUCCEEDED"},
            ids | {"task_family": migrate.family},
        ),
    ]


def test_a_measures_names_are_printed_as_properties_not_dimensions(
    capsys: pytest.CaptureFixture[str],
) -> None:
    emit([Measure(TASK_DURATION, "Seconds", 30, {"Phase": "pre"}, {"task_family": "migrate"})])
    document = json.loads(capsys.readouterr().out)
    [directive] = document["_aws"]["CloudWatchMetrics"]
    assert document["task_family"] == "migrate"
    assert all("task_family" not in dimensions for dimensions in directive["Dimensions"])


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
