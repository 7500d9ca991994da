"""A deployment's lifecycle on EventBridge (source ecs-deployer), as a platform routes it:
a rule on the stack's bus delivers the events to a queue, each detail valid against the
published schema."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import jsonschema
import pytest

from ecs_deployer.domain.lifecycle import SOURCE
from ecs_deployer_tools.demo import runner, sample_app
from ecs_deployer_tools.localcloud.cloud import LocalCloud
from ecs_deployer_tools.localcloud.ecs_sim import EcsFaults, EcsSimulation, TaskFault, TaskOutcome
from ecs_deployer_tools.schemas import schemas

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = pytest.mark.e2e


def _subscribed(cloud: LocalCloud) -> str:
    """A queue that a rule on the default bus fills with the deployer's events."""
    sqs, events = cloud.client("sqs"), cloud.client("events")
    url = sqs.create_queue(QueueName="deployments")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    events.put_rule(Name="deployments", EventPattern=json.dumps({"source": [SOURCE]}))
    events.put_targets(Rule="deployments", Targets=[{"Id": "queue", "Arn": arn}])
    return str(url)


def _received(cloud: LocalCloud, url: str) -> Iterator[dict[str, Any]]:
    sqs = cloud.client("sqs")
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
        for message in messages:
            yield json.loads(message["Body"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def test_each_deployment_is_announced_when_it_starts_and_when_it_ends() -> None:
    faults = EcsFaults(tasks={sample_app.MIGRATE: TaskFault(TaskOutcome.EXIT, exit_code=1)})
    with LocalCloud(runner.TEMPLATE, extensions=[EcsSimulation(faults)]) as cloud:
        seeded = sample_app.seed(sample_app.Clients.of(cloud.client), runner.CONFIG_PREFIX)
        cloud.deploy_stack(
            {**runner.STACK_PARAMETERS, **seeded.network_parameters, "LogLevel": "ERROR"}
        )
        url = _subscribed(cloud)
        cloud.push_image(sample_app.REPOSITORY, "v2.0.0", sample_app.image_manifest("v2.0.0"))
        cloud.run_until_idle()
        received = list(_received(cloud, url))

    schema = jsonschema.Draft202012Validator(schemas()["deployment-event.schema.json"])
    assert [event["detail-type"] for event in received] == [
        "Deployment Started",
        "Deployment Failed",
    ]
    started, failed = (event["detail"] for event in received)
    for event in received:
        assert event["source"] == SOURCE
        assert list(schema.iter_errors(event["detail"])) == []
        assert event["resources"] == [event["detail"]["execution_arn"]]
    assert started["deployment_id"] == failed["deployment_id"]
    assert (started["app"], started["status"], started["trigger"]) == (
        "shop",
        "STARTED",
        "ecr-push",
    )
    assert {service["name"] for service in started["services"]} == set(seeded.services)
    assert (failed["status"], failed["error"]) == ("FAILED", "TaskFailed")
    assert "exited with code 1" in failed["cause"]
    assert failed["console_url"].endswith(failed["execution_arn"])
