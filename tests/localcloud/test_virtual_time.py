"""The local cloud's virtual time: the scheduler alone, then executions on the mini stack.

The test decides how executions interleave; nothing here depends on the machine's speed.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest

from ecs_deployer_tools.localcloud.virtual_time import Scheduler, StillRunningError, VirtualClock

if TYPE_CHECKING:
    from ecs_deployer_tools.localcloud.cloud import LocalCloud
    from ecs_deployer_tools.localcloud.runtime import FunctionConfig, InvocationResult

START = datetime(2030, 1, 1, tzinfo=UTC)
ROLE = "arn:aws:iam::123456789012:role/virtual-time-tests"


class World:
    """A scheduler on a clock at START, and a log of what its executions did, in order."""

    def __init__(self) -> None:
        self.scheduler = Scheduler(VirtualClock(START))
        self.log: list[tuple[str, float]] = []

    def note(self, what: str) -> None:
        self.log.append((what, (self.scheduler.now() - START).total_seconds()))

    def spawn(self, name: str, *sleeps: float) -> None:
        """An execution that notes its name after each of its waits."""

        def run() -> None:
            self.note(f"{name} starts")
            for seconds in sleeps:
                self.scheduler.sleep(seconds)
                self.note(name)

        self.scheduler.spawn(name, name, run)


# -- the scheduler on its own ---------------------------------------------------------------


def _interleaving() -> list[tuple[str, float]]:
    world = World()
    world.spawn("a", 2, 2)
    world.spawn("b", 1, 3)
    world.spawn("c", 4)
    world.scheduler.run_until_idle()
    return world.log


def test_executions_interleave_by_wake_up_then_start_order_every_run() -> None:
    expected = [
        ("a starts", 0.0),
        ("b starts", 0.0),
        ("c starts", 0.0),
        ("b", 1.0),
        ("a", 2.0),
        # All three wake at 4: b parked before a (at 1, a at 2), c first of all (at 0).
        ("c", 4.0),
        ("b", 4.0),
        ("a", 4.0),
    ]
    assert all(_interleaving() == expected for _ in range(20))


def test_ties_go_to_the_execution_that_parked_first() -> None:
    world = World()
    world.spawn("a", 1, 1)
    world.spawn("b", 1, 1)
    world.scheduler.run_until_idle()
    assert [what for what, _ in world.log] == ["a starts", "b starts", "a", "b", "a", "b"]


def test_an_execution_started_by_another_waits_for_its_turn() -> None:
    world = World()

    def parent() -> None:
        world.spawn("child")
        world.note("parent after starting the child")

    world.scheduler.spawn("parent", "parent", parent)
    assert world.scheduler.step()  # the parent's whole turn
    assert world.log == [("parent after starting the child", 0.0)]
    world.scheduler.run_until_idle()
    assert world.log[-1] == ("child starts", 0.0)


def test_an_hour_long_wait_takes_no_time() -> None:
    world = World()
    world.spawn("a", 3600)
    world.scheduler.run_until_idle()
    assert world.log == [("a starts", 0.0), ("a", 3600.0)]
    assert world.scheduler.now() == START + timedelta(hours=1)


def test_advance_runs_only_what_wakes_meanwhile() -> None:
    world = World()
    world.spawn("a", 10)
    world.scheduler.advance(5)
    assert world.log == [("a starts", 0.0)]
    assert world.scheduler.now() == START + timedelta(seconds=5)
    world.scheduler.advance(5)
    assert world.log[-1] == ("a", 10.0)
    assert world.scheduler.running() == []


def test_a_halted_execution_unparks_at_once_and_never_parks_again() -> None:
    world = World()
    world.spawn("a", 3600, 3600)
    world.scheduler.advance(1)

    world.scheduler.halt("a")  # a driver's halt: it unwinds before halt returns

    assert world.log == [("a starts", 0.0), ("a", 1.0), ("a", 1.0)]
    assert world.scheduler.running() == []
    assert world.scheduler.now() == START + timedelta(seconds=1)


def test_a_time_limit_ends_the_wait_and_calls_back_in_the_execution() -> None:
    world = World()

    def run() -> None:
        with world.scheduler.time_limit(60, lambda: world.note("timed out")):
            world.scheduler.sleep(3600)
            world.note("woken")
            world.scheduler.sleep(3600)  # halted: returns at once
            world.note("done")

    world.scheduler.spawn("a", "a", run)
    world.scheduler.run_until_idle()
    assert world.log == [("timed out", 60.0), ("woken", 60.0), ("done", 60.0)]


def test_run_until_idle_raises_rather_than_run_for_ever() -> None:
    world = World()
    looping = [True]

    def forever() -> None:
        while looping[0]:
            world.scheduler.sleep(1)

    world.scheduler.spawn("loop", "loop", forever)
    with pytest.raises(StillRunningError, match=r"100 turns.*loop \(ready\)"):
        world.scheduler.run_until_idle(max_turns=100)
    assert world.scheduler.now() == START + timedelta(seconds=100)

    world.spawn("late", 10 * 86_400)
    with pytest.raises(StillRunningError, match=r"late \(parked until 2030-01-11"):
        world.scheduler.run_until_idle(max_seconds=3600)

    looping[0] = False
    world.scheduler.close()  # halts both: their waits return at once, and they end
    assert world.scheduler.running() == []


def test_run_until_raises_when_nothing_runs_and_the_condition_fails() -> None:
    world = World()
    world.spawn("a", 1)
    with pytest.raises(StillRunningError, match="condition still fails"):
        world.scheduler.run_until(lambda: False)


def test_a_timer_fires_at_its_time_while_every_execution_waits() -> None:
    world = World()
    world.spawn("a", 10)
    world.scheduler.call_at(START + timedelta(seconds=4), lambda: world.note("timer"))
    world.scheduler.call_at(START + timedelta(seconds=10), lambda: world.note("tie"))

    world.scheduler.run_until_idle()

    # Due with a fiber: the timer first, as ECS's event precedes the waits that end then.
    assert world.log == [("a starts", 0.0), ("timer", 4.0), ("tie", 10.0), ("a", 10.0)]


def test_a_timer_may_wake_a_parked_execution() -> None:
    world = World()
    world.spawn("a", 60)
    world.scheduler.call_at(START + timedelta(seconds=5), lambda: world.scheduler.halt("a"))

    world.scheduler.run_until_idle()

    assert world.log == [("a starts", 0.0), ("a", 5.0)]


def test_timers_alone_keep_no_drive_running_but_advance_runs_them() -> None:
    world = World()
    world.scheduler.call_at(START + timedelta(seconds=30), lambda: world.note("timer"))

    world.scheduler.run_until_idle()
    assert (world.log, world.scheduler.now()) == ([], START)  # no execution: idle at once

    world.scheduler.advance(29)
    assert world.log == []
    world.scheduler.advance(1)
    assert world.log == [("timer", 30.0)]


def test_only_an_execution_can_wait() -> None:
    with pytest.raises(RuntimeError, match="only a scheduled execution can wait"):
        World().scheduler.sleep(1)


def test_following_the_wall_clock_runs_what_wakes() -> None:
    world = World()
    woken = threading.Event()

    def run() -> None:
        world.scheduler.sleep(3600)  # 3.6 ms at this scale
        woken.set()

    world.scheduler.follow_wall_clock(1_000_000)
    try:
        world.scheduler.spawn("a", "a", run)
        assert woken.wait(60)  # a bound against hanging, not a timing
    finally:
        world.scheduler.stand_still()
    assert world.scheduler.now() >= START + timedelta(hours=1)


# -- executions on the mini stack -----------------------------------------------------------


def machine(cloud: LocalCloud, definition: dict[str, Any]) -> str:
    """A state machine of the test's own on the mini stack's functions; its ARN."""
    text = json.dumps(definition)
    for logical_id, name in cloud.stack_resources("AWS::Lambda::Function").items():
        text = text.replace(f"<{logical_id}>", name)
    sfn = cloud.client("stepfunctions")
    name = f"vt-{len(sfn.list_state_machines()['stateMachines'])}"
    return str(
        sfn.create_state_machine(name=name, definition=text, roleArn=ROLE)["stateMachineArn"]
    )


def echo(**fields: Any) -> dict[str, Any]:
    return {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": "<EchoFunction>", "Payload.$": "$"},
        "ResultPath": None,
        **fields,
    }


def events(cloud: LocalCloud, arn: str) -> list[tuple[str, float]]:
    """The execution's history: each event's type and when, in seconds after its start."""
    sfn = cloud.client("stepfunctions")
    start = sfn.describe_execution(executionArn=arn)["startDate"]
    return [
        (event["type"], (event["timestamp"] - start).total_seconds())
        for event in sfn.get_execution_history(executionArn=arn)["events"]
    ]


@pytest.fixture
def invocations(cloud: LocalCloud, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, float]]:
    """Every Lambda invocation, in order: the invoking input's "name" and its virtual time."""
    seen: list[tuple[str, float]] = []
    invoke = cloud.runtime.invoke
    start = cloud.clock.now()

    def recording(config: FunctionConfig, payload: str | bytes | None) -> InvocationResult:
        name = json.loads(payload or b"{}").get("name", "?")
        seen.append((name, (cloud.clock.now() - start).total_seconds()))
        return invoke(config, payload)

    monkeypatch.setattr(cloud.runtime, "invoke", recording)
    return seen


def test_two_executions_with_waits_interleave_as_the_test_says(
    cloud: LocalCloud, invocations: list[tuple[str, float]]
) -> None:
    pinged = machine(
        cloud,
        {
            "StartAt": "One",
            "States": {
                "One": echo(Next="Pause"),
                "Pause": {"Type": "Wait", "SecondsPath": "$.wait", "Next": "Two"},
                "Two": echo(End=True),
            },
        },
    )
    first = cloud.start_execution({"name": "a", "wait": 1}, state_machine_arn=pinged)
    cloud.advance(0.15)
    second = cloud.start_execution({"name": "b", "wait": 1}, state_machine_arn=pinged)
    cloud.run_until_idle()

    assert invocations == [("a", 0.0), ("b", 0.15), ("a", 1.0), ("b", 1.15)]
    for arn in (first, second):
        assert cloud.wait_for_execution(arn)["status"] == "SUCCEEDED"
    assert ("WaitStateExited", 1.0) in events(cloud, second)


@pytest.mark.parametrize(
    "wait", [{"Seconds": 3600}, {"SecondsPath": "$.seconds"}], ids=["Seconds", "SecondsPath"]
)
def test_an_hour_long_wait_completes_at_once_in_virtual_time(
    cloud: LocalCloud, wait: dict[str, Any]
) -> None:
    waiting = machine(
        cloud, {"StartAt": "Wait", "States": {"Wait": {"Type": "Wait", "End": True, **wait}}}
    )
    arn = cloud.start_execution({"seconds": 3600}, state_machine_arn=waiting)
    described = cloud.wait_for_execution(arn)

    assert described["status"] == "SUCCEEDED"
    assert described["stopDate"] - described["startDate"] == timedelta(hours=1)
    assert events(cloud, arn)[-1] == ("ExecutionSucceeded", 3600.0)


@pytest.mark.parametrize("field", ["Timestamp", "TimestampPath"])
def test_a_wait_until_a_timestamp_ends_then(cloud: LocalCloud, field: str) -> None:
    at = (cloud.clock.now() + timedelta(days=1)).replace(microsecond=0)
    text = f"{at:%Y-%m-%dT%H:%M:%SZ}"
    wait = {field: text if field == "Timestamp" else "$.at"}
    waiting = machine(
        cloud, {"StartAt": "Wait", "States": {"Wait": {"Type": "Wait", "End": True, **wait}}}
    )
    arn = cloud.start_execution({"at": text}, state_machine_arn=waiting)
    described = cloud.wait_for_execution(arn)

    assert (described["status"], described["stopDate"]) == ("SUCCEEDED", at)


def test_retry_intervals_pass_in_virtual_time(cloud: LocalCloud) -> None:
    cloud.lambda_faults.inject("EchoFunction", count=2, error_type="Runtime.ExitError")
    retry = {"ErrorEquals": ["Runtime.ExitError"], "IntervalSeconds": 30, "BackoffRate": 2}
    retried = machine(cloud, {"StartAt": "Echo", "States": {"Echo": echo(Retry=[retry], End=True)}})

    arn = cloud.start_execution({"name": "retried"}, state_machine_arn=retried)

    assert cloud.wait_for_execution(arn)["status"] == "SUCCEEDED"
    scheduled = [when for kind, when in events(cloud, arn) if kind == "TaskScheduled"]
    assert scheduled == [0.0, 30.0, 90.0]


def test_a_state_machines_timeout_counts_virtual_time(cloud: LocalCloud) -> None:
    slow = machine(
        cloud,
        {
            "TimeoutSeconds": 60,
            "StartAt": "Wait",
            "States": {"Wait": {"Type": "Wait", "Seconds": 3600, "End": True}},
        },
    )
    arn = cloud.start_execution({}, state_machine_arn=slow)
    described = cloud.wait_for_execution(arn)

    assert described["status"] == "TIMED_OUT"  # (moto omits a timed-out stopDate)
    assert events(cloud, arn)[-1] == ("ExecutionTimedOut", 60.0)


def test_stop_execution_unparks_the_execution_at_once(cloud: LocalCloud) -> None:
    arn = cloud.start_execution({"name": "stopped", "wait": 3600})
    cloud.advance(10)
    stopped_at = cloud.clock.now()

    cloud.client("stepfunctions").stop_execution(executionArn=arn)

    described = cloud.client("stepfunctions").describe_execution(executionArn=arn)
    assert (described["status"], described["stopDate"]) == ("ABORTED", stopped_at)
    assert events(cloud, arn)[-1] == ("ExecutionAborted", 10.0)
    assert cloud.clock.now() == stopped_at


def test_stop_execution_before_its_first_turn_aborts_it(cloud: LocalCloud) -> None:
    arn = cloud.start_execution({"name": "never ran", "wait": 0})
    cloud.client("stepfunctions").stop_execution(executionArn=arn)

    assert cloud.client("stepfunctions").describe_execution(executionArn=arn)["status"] == "ABORTED"
    assert [kind for kind, _ in events(cloud, arn)] == ["ExecutionStarted", "ExecutionAborted"]


def test_run_until_idle_raises_on_a_never_ending_execution(cloud: LocalCloud) -> None:
    looping = machine(
        cloud,
        {
            "StartAt": "Again",
            "States": {"Again": {"Type": "Wait", "Seconds": 5, "Next": "Again"}},
        },
    )
    arn = cloud.start_execution({}, state_machine_arn=looping, name="for-ever")
    try:
        with pytest.raises(StillRunningError, match=r"50 turns.*for-ever"):
            cloud.run_until_idle(max_turns=50)
    finally:
        cloud.client("stepfunctions").stop_execution(executionArn=arn)
    assert cloud.scheduler.running() == []


def test_a_child_execution_waits_until_its_parent_parks_or_ends(cloud: LocalCloud) -> None:
    sfn = cloud.client("stepfunctions")

    def executions() -> dict[str, dict[str, Any]]:
        listed = sfn.list_executions(stateMachineArn=cloud.state_machine_arn())["executions"]
        return {execution["name"]: execution for execution in listed}

    repository = "mini-turns"
    cloud.client("ecr").create_repository(repositoryName=repository)
    before = set(executions())
    try:
        cloud.push_image(repository, "v1")
        assert cloud.scheduler.step()  # the dispatching execution's one and only turn

        started = {name: e for name, e in executions().items() if name not in before}
        child = started.pop("child-v1")
        [parent] = started.values()
        assert (parent["status"], child["status"]) == ("SUCCEEDED", "RUNNING")
        assert events(cloud, child["executionArn"]) == []  # started, not run yet
        assert cloud.wait_for_execution(child["executionArn"])["status"] == "SUCCEEDED"
    finally:
        cloud.client("ecr").delete_repository(repositoryName=repository, force=True)


def test_map_iterations_and_parallel_branches_run_one_after_the_other(cloud: LocalCloud) -> None:
    def wait(name: str, **seconds: Any) -> dict[str, Any]:
        return {"StartAt": name, "States": {name: {"Type": "Wait", "End": True, **seconds}}}

    definition = {
        "StartAt": "Each",
        "States": {
            "Each": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "INLINE"},
                    **wait("Item", SecondsPath="$"),
                },
                "ResultPath": None,
                "Next": "Both",
            },
            "Both": {
                "Type": "Parallel",
                "Branches": [wait("Left", Seconds=10), wait("Right", Seconds=10)],
                "End": True,
            },
        },
    }
    arn = cloud.start_execution({"items": [2, 1]}, state_machine_arn=machine(cloud, definition))

    described = cloud.wait_for_execution(arn)

    assert described["status"] == "SUCCEEDED"
    assert described["stopDate"] - described["startDate"] == timedelta(seconds=2 + 1 + 10 + 10)


def _token_wait(cloud: LocalCloud, timeout: int) -> tuple[str, str]:
    """A machine whose Task sends its token to a queue and waits for it (`timeout` s),
    a States.Timeout caught; and the queue's URL."""
    sqs = cloud.client("sqs")
    url = sqs.create_queue(QueueName=f"tokens-{timeout}")["QueueUrl"]
    arn = machine(
        cloud,
        {
            "StartAt": "Wait",
            "States": {
                "Wait": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                    "Parameters": {"QueueUrl": url, "MessageBody": {"token.$": "$$.Task.Token"}},
                    "TimeoutSeconds": timeout,
                    "Catch": [{"ErrorEquals": ["States.Timeout"], "Next": "TimedOut"}],
                    "End": True,
                },
                "TimedOut": {"Type": "Pass", "Result": {"timed_out": True}, "End": True},
            },
        },
    )
    return arn, url


def _token(cloud: LocalCloud, url: str) -> str:
    [message] = cloud.client("sqs").receive_message(QueueUrl=url)["Messages"]
    return str(json.loads(message["Body"])["token"])


def test_a_task_token_wait_parks_until_send_task_success(cloud: LocalCloud) -> None:
    arn, url = _token_wait(cloud, timeout=60)
    execution = cloud.start_execution({}, state_machine_arn=arn)
    cloud.advance(25)  # parked: the clock moves on
    sfn, token = cloud.client("stepfunctions"), _token(cloud, url)
    sfn.send_task_success(taskToken=token, output=json.dumps({"woken": True}))
    cloud.run_until_idle()

    described = cloud.wait_for_execution(execution)
    assert (described["status"], json.loads(described["output"])) == ("SUCCEEDED", {"woken": True})
    assert ("TaskSucceeded", 25.0) in events(cloud, execution)
    with pytest.raises(sfn.exceptions.TaskTimedOut):  # its task is closed
        sfn.send_task_success(taskToken=token, output="{}")
    with pytest.raises(sfn.exceptions.InvalidToken):
        sfn.send_task_success(taskToken="not-a-token", output="{}")


def test_send_task_failure_fails_the_task_with_its_error_and_cause(cloud: LocalCloud) -> None:
    arn, url = _token_wait(cloud, timeout=60)
    execution = cloud.start_execution({}, state_machine_arn=arn)
    cloud.advance(5)
    cloud.client("stepfunctions").send_task_failure(
        taskToken=_token(cloud, url), error="Rejected", cause="not on a Friday"
    )
    cloud.run_until_idle()

    described = cloud.wait_for_execution(execution)
    assert (described["status"], described["error"], described["cause"]) == (
        "FAILED",
        "Rejected",
        "not on a Friday",
    )


def test_a_task_token_wait_times_out_in_virtual_time(cloud: LocalCloud) -> None:
    arn, url = _token_wait(cloud, timeout=60)
    execution = cloud.start_execution({}, state_machine_arn=arn)
    cloud.run_until_idle()

    described = cloud.wait_for_execution(execution)
    assert json.loads(described["output"]) == {"timed_out": True}
    assert ("TaskTimedOut", 60.0) in events(cloud, execution)
    with pytest.raises(cloud.client("stepfunctions").exceptions.TaskTimedOut):
        cloud.client("stepfunctions").send_task_success(taskToken=_token(cloud, url), output="{}")


def test_stopping_an_execution_parked_on_a_task_token_aborts_it_without_a_timeout(
    cloud: LocalCloud,
) -> None:
    arn, _ = _token_wait(cloud, timeout=60)
    execution = cloud.start_execution({}, state_machine_arn=arn)
    cloud.advance(10)
    cloud.client("stepfunctions").stop_execution(executionArn=execution)
    cloud.run_until_idle()

    assert cloud.wait_for_execution(execution)["status"] == "ABORTED"
    kinds = [kind for kind, _ in events(cloud, execution)]
    assert "TaskTimedOut" not in kinds  # no States.Timeout for a Catch to route
    assert "PassStateEntered" not in kinds
    assert kinds[-1] == "ExecutionAborted"
