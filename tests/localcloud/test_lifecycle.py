"""LocalCloud's own lifecycle, and the repository's template.yaml on it.

Each test enters its own LocalCloud (one is active at a time), so this module does not
use the shared mini stack.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from moto.core.models import botocore_stubber
from moto.stepfunctions.responses import get_backend as sfn_backend

from ecs_deployer_tools.localcloud.cloud import LocalCloud
from tests.localcloud.conftest import MINI_TEMPLATE
from tests.template.cfn import FUNCTION_DIRS

if TYPE_CHECKING:
    from collections.abc import Iterator

    import pytest

REPOSITORY_ROOT = Path(__file__).parents[2]


def test_the_real_template_deploys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPOSITORY_ROOT)  # the template's default location: the checkout's root
    with LocalCloud() as cloud:
        outputs = cloud.deploy_stack(
            {
                "ClusterNames": "prod,staging",
                "RepositoryNames": "shop",
                "TaskFamilyPrefixes": "shop-",
                "PassRoleArns": "arn:aws:iam::123456789012:role/shop-task",
            }
        )
        functions = cloud.stack_resources("AWS::Lambda::Function")

        assert set(functions) == set(FUNCTION_DIRS)
        assert all(cloud.runtime.handles(name) for name in functions.values())
        assert outputs["StateMachineArn"] == cloud.state_machine_arn()
        assert outputs["LayerArn"].endswith(":layer:ecs-deployer-shared:1")
        sfn = cloud.client("stepfunctions")
        machine = sfn.describe_state_machine(stateMachineArn=outputs["StateMachineArn"])
        assert machine["name"] == "ecs-deployer-deploy"
        assert "${" not in machine["definition"]
        queue = cloud.client("sqs").get_queue_attributes(
            QueueUrl=outputs["EcrPushDeadLetterQueueUrl"], AttributeNames=["Policy"]
        )
        assert "events.amazonaws.com" in queue["Attributes"]["Policy"]
        queue_name = outputs["EcrPushDeadLetterQueueUrl"].rsplit("/", 1)[-1]
        [alarm] = cloud.client("cloudwatch").describe_alarms(
            AlarmNames=[outputs["EcrPushDeadLetterAlarmName"]]
        )["MetricAlarms"]
        assert alarm["Dimensions"] == [{"Name": "QueueName", "Value": queue_name}]


def test_the_shells_aws_settings_do_not_reach_the_emulator(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_PROFILE", "no-such-profile")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    with LocalCloud(MINI_TEMPLATE) as cloud:
        cloud.deploy_stack()
        described = cloud.wait_for_execution(cloud.start_execution({"name": "env", "wait": 0}))
        assert described["status"] == "SUCCEEDED"
        assert "AWS_PROFILE" not in os.environ

    assert os.environ["AWS_PROFILE"] == "no-such-profile"


def test_leaving_stops_running_executions() -> None:
    with LocalCloud(MINI_TEMPLATE) as cloud:
        cloud.deploy_stack()
        arn = cloud.start_execution({"name": "long", "wait": 600})
        for event in cloud.execution_history(arn):
            if event["type"] == "WaitStateEntered":
                break
        # moto's own object: its backends are gone once the cloud is left.
        execution = sfn_backend(cloud.account_id, cloud.region).describe_execution(arn)
        left_at = cloud.clock.now()

    assert execution.status == "ABORTED"
    assert execution.stop_date == left_at  # unparked at once, not 600 s later
    assert cloud.scheduler.running() == []


def test_extensions_run_inside_the_emulator() -> None:
    seen: list[tuple[str, bool]] = []

    @contextmanager
    def extension() -> Iterator[None]:
        seen.append(("enter", botocore_stubber.enabled))
        yield
        seen.append(("exit", botocore_stubber.enabled))

    with LocalCloud(MINI_TEMPLATE, extensions=[extension()]):
        seen.append(("inside", botocore_stubber.enabled))

    assert seen == [("enter", True), ("inside", True), ("exit", True)]
