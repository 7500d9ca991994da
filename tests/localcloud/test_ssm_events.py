"""Parameter Store's change events (`patches/ssm.py`), and schedule rules, which match no
event and fire one tick when told (`patches/events.py`, item 5)."""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING, Any

from ecs_deployer_tools.localcloud.patches.ssm import DETAIL_TYPE

if TYPE_CHECKING:
    from ecs_deployer_tools.localcloud.cloud import LocalCloud


def _queue_of_rule(cloud: LocalCloud, rule: str, pattern: dict[str, Any]) -> str:
    sqs, events = cloud.client("sqs"), cloud.client("events")
    queue_url: str = sqs.create_queue(QueueName=f"{rule}-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
    events.put_rule(Name=rule, EventPattern=json.dumps(pattern))
    target = {"Id": "queue", "Arn": attributes["Attributes"]["QueueArn"]}
    events.put_targets(Rule=rule, Targets=[target])
    return queue_url


def _received(cloud: LocalCloud, queue_url: str) -> list[dict[str, Any]]:
    answer = cloud.client("sqs").receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)
    return [json.loads(message["Body"]) for message in answer.get("Messages", [])]


def test_puts_and_deletes_of_parameters_emit_parameter_store_change_events(
    cloud: LocalCloud,
) -> None:
    queue_url = _queue_of_rule(cloud, "ssm-changes", {"source": ["aws.ssm"]})
    ssm = cloud.client("ssm")
    name = f"/apps/{uuid.uuid4().hex[:8]}"
    try:
        ssm.put_parameter(Name=name, Value="one", Type="String", Description="a config")
        ssm.put_parameter(Name=name, Value="two", Overwrite=True)
        ssm.delete_parameter(Name=name)
        ssm.put_parameter(Name=f"{name}-b", Value="b", Type="SecureString")
        ssm.delete_parameters(Names=[f"{name}-b", f"{name}-never"])
        received = _received(cloud, queue_url)
    finally:
        cloud.client("events").remove_targets(Rule="ssm-changes", Ids=["queue"])
        cloud.client("events").delete_rule(Name="ssm-changes")

    assert {event["detail-type"] for event in received} == {DETAIL_TYPE}
    assert [event["detail"] for event in received] == [
        {"operation": "Create", "name": name, "type": "String", "description": "a config"},
        {"operation": "Update", "name": name, "type": "String", "description": "a config"},
        {"operation": "Delete", "name": name, "type": "String", "description": "a config"},
        {"operation": "Create", "name": f"{name}-b", "type": "SecureString"},
        {"operation": "Delete", "name": f"{name}-b", "type": "SecureString"},
    ]
    assert received[0]["resources"] == [
        f"arn:aws:ssm:{cloud.region}:{cloud.account_id}:parameter{name}"
    ]


def test_a_schedule_rule_gets_no_event_and_ticks_when_fired(cloud: LocalCloud) -> None:
    sfn, events = cloud.client("stepfunctions"), cloud.client("events")
    definition = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}})
    machine = sfn.create_state_machine(
        name="ticks", definition=definition, roleArn="arn:aws:iam::123456789012:role/r"
    )["stateMachineArn"]
    rule_arn = events.put_rule(Name="hourly", ScheduleExpression="rate(1 hour)")["RuleArn"]
    events.put_targets(Rule="hourly", Targets=[{"Id": "machine", "Arn": machine}])
    try:
        entry = {"Source": "test.localcloud", "DetailType": "T", "Detail": "{}"}
        events.put_events(Entries=[entry])
        before = sfn.list_executions(stateMachineArn=machine)["executions"]
        cloud.fire_schedule("hourly")
        [tick] = sfn.list_executions(stateMachineArn=machine)["executions"]
        event = json.loads(sfn.describe_execution(executionArn=tick["executionArn"])["input"])
    finally:
        events.remove_targets(Rule="hourly", Ids=["machine"])
        events.delete_rule(Name="hourly")

    assert before == []
    assert {key: event[key] for key in ("detail-type", "source", "resources", "detail")} == {
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "resources": [rule_arn],
        "detail": {},
    }
