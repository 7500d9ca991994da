"""A deployment's lifecycle on EventBridge (source ecs-deployer), as a platform routes it:
the demo runner's rule on the default bus delivers the events to a queue; each detail is
valid against the published schema. `ecs-deployer local demo --events` prints them."""

from __future__ import annotations

import json

import jsonschema
import pytest
from typer.testing import CliRunner

from ecs_deployer.domain import measures
from ecs_deployer.domain.lifecycle import SOURCE
from ecs_deployer_tools.cli import app
from ecs_deployer_tools.demo import runner, sample_app
from ecs_deployer_tools.demo.scenarios import SCENARIOS
from ecs_deployer_tools.schemas import schemas

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def migration_fails() -> runner.ScenarioResult:
    return runner.run(SCENARIOS["migration-fails"])


def test_a_failed_deployment_is_announced_when_it_starts_and_when_it_ends(
    migration_fails: runner.ScenarioResult,
) -> None:
    result = migration_fails

    schema = jsonschema.Draft202012Validator(schemas()["deployment-event.schema.json"])
    assert [event["detail-type"] for event in result.events] == [
        "Deployment Started",
        "Deployment Failed",
    ]
    started, failed = (event["detail"] for event in result.events)
    for event in result.events:
        assert event["source"] == SOURCE
        assert list(schema.iter_errors(event["detail"])) == []
        assert event["resources"] == [event["detail"]["execution_arn"]]
    assert started["deployment_id"] == failed["deployment_id"]
    assert (started["app"], started["status"], started["trigger"]) == (
        "shop",
        "STARTED",
        "ecr-push",
    )
    assert {service["name"] for service in started["services"]} == {
        sample_app.WEB,
        sample_app.WORKER,
    }
    assert (failed["status"], failed["error"]) == ("FAILED", "TaskFailed")
    assert "exited with code 1" in failed["cause"]
    assert failed["console_url"].endswith(failed["execution_arn"])


def test_the_summary_topic_tells_its_subscribers_how_the_deployment_ended(
    migration_fails: runner.ScenarioResult,
) -> None:
    """The stack's SummaryTopicArn, with a queue subscribed (moto SNS to SQS): one summary,
    for the end, none for the start."""
    [summary] = migration_fails.summaries
    failed = migration_fails.events[-1]["detail"]

    assert summary["subject"] == "ecs-deployer: shop FAILED (TaskFailed)"
    body = summary["body"]
    assert body.startswith("Deployment Failed: shop\n")
    assert f"Deployment: {failed['deployment_id']}\n" in body
    assert f"Image:      {migration_fails.last.image}\n" in body
    assert "exited with code 1" in body
    assert body.endswith(f"Execution: {failed['console_url']}")
    for service in failed["services"]:
        assert f"  {service['name']}: " in body


def test_the_demo_prints_the_events_it_heard() -> None:
    shown = CliRunner().invoke(app, ["local", "demo", "--events", "--json"])
    assert shown.exit_code == 0, shown.output
    document = json.loads(shown.stdout.strip().splitlines()[-1])
    assert [event["detail-type"] for event in document["events"]] == [
        "Deployment Started",
        "Deployment Succeeded",
    ]
    [summary] = document["summaries"]
    assert summary["subject"] == "ecs-deployer: shop SUCCEEDED"
    metrics = {m["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"] for m in document["metrics"]}
    assert {measures.DEPLOYMENTS, measures.DURATION, measures.ROLLOUT_DURATION} <= metrics
    succeeded = document["events"][-1]["detail"]
    assert succeeded["status"] == "SUCCEEDED"
    assert {s["task_definition_after"] for s in succeeded["services"]} == {
        s["task_definition_after"] for s in document["services"]
    }


def test_the_demo_tells_people_the_events_too() -> None:
    shown = CliRunner().invoke(app, ["local", "demo", "--events"])
    assert shown.exit_code == 0, shown.output
    assert f"deployment events (EventBridge, source {SOURCE}):" in shown.stdout
    assert "Deployment Started: shop " in shown.stdout
    assert "Deployment Succeeded: shop " in shown.stdout
    assert "summary (SNS): ecs-deployer: shop SUCCEEDED" in shown.stdout
    assert "metrics (CloudWatch, embedded metric format):" in shown.stdout
    assert f"ECSDeployer/{measures.DEPLOYMENTS} 1 Count (Status=SUCCEEDED, " in shown.stdout
    # The functions' JSON logs and raw EMF lines stay out of the terminal (CloudWatch's).
    assert not [line for line in shown.stdout.splitlines() if line.startswith("{")]
