"""moto's Step Functions interpreter on the ASL features the deploy state machine uses.

Each test creates a tiny state machine of its own on the mini stack's functions, so a
divergence from AWS shows up here, named, rather than deep inside a deployment scenario.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from ecs_deployer_tools.localcloud.cloud import LocalCloud

ROLE = "arn:aws:iam::123456789012:role/asl-tests"
AWS_TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def invoke(function: str, payload: Any, **fields: Any) -> dict[str, Any]:
    """A lambda:invoke Task state, the way the deploy ASL writes them."""
    return {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": function, **payload},
        "OutputPath": "$.Payload",
        **fields,
    }


def run(cloud: LocalCloud, definition: dict[str, Any], execution_input: Any) -> dict[str, Any]:
    arns = cloud.stack_resources("AWS::Lambda::Function")
    text = json.dumps(definition)
    for logical_id, name in arns.items():
        text = text.replace(f"<{logical_id}>", name)
    sfn = cloud.client("stepfunctions")
    name = f"asl-{len(sfn.list_state_machines()['stateMachines'])}"
    machine = sfn.create_state_machine(name=name, definition=text, roleArn=ROLE)
    arn = cloud.start_execution(execution_input, state_machine_arn=machine["stateMachineArn"])
    return cloud.wait_for_execution(arn)


def output(described: dict[str, Any]) -> Any:
    assert described["status"] == "SUCCEEDED", described
    return json.loads(described["output"])


def test_lambda_invoke_with_output_path_and_context_object(cloud: LocalCloud) -> None:
    definition = {
        "StartAt": "Echo",
        "States": {
            "Echo": invoke(
                "<EchoFunction>",
                {
                    "Payload": {
                        "input.$": "$",
                        "execution.$": "$$.Execution",
                        "sm.$": "$$.StateMachine.Id",
                    }
                },
                TimeoutSeconds=60,
                End=True,
            )
        },
    }
    described = run(cloud, definition, {"app": "shop"})
    echoed = output(described)["input"]

    assert echoed["input"] == {"app": "shop"}
    assert echoed["sm"] == described["stateMachineArn"]
    assert echoed["execution"]["Id"] == described["executionArn"]
    assert echoed["execution"]["Input"] == {"app": "shop"}
    assert AWS_TIMESTAMP.match(echoed["execution"]["StartTime"])


def test_retry_with_full_jitter_recovers_from_an_injected_crash(cloud: LocalCloud) -> None:
    cloud.lambda_faults.inject("EchoFunction", count=2, error_type="Runtime.ExitError")
    retry = {
        "ErrorEquals": ["Lambda.ServiceException", "Runtime.ExitError"],
        "IntervalSeconds": 1,
        "MaxAttempts": 3,
        "BackoffRate": 2,
        "MaxDelaySeconds": 1,
        "JitterStrategy": "FULL",
    }
    definition = {
        "StartAt": "Echo",
        "States": {"Echo": invoke("<EchoFunction>", {"Payload.$": "$"}, Retry=[retry], End=True)},
    }
    cold_starts = cloud.runtime.cold_starts["EchoFunction"]

    described = run(cloud, definition, {"n": 1})

    assert output(described)["input"] == {"n": 1}
    failures = [
        event["taskFailedEventDetails"]["error"]
        for event in cloud.execution_history(described["executionArn"])
        if event["type"] == "TaskFailed"
    ]
    assert failures == ["Runtime.ExitError", "Runtime.ExitError"]
    assert cloud.runtime.cold_starts["EchoFunction"] == cold_starts + 1


def test_catch_sees_the_error_type_and_fail_uses_error_and_cause_paths(cloud: LocalCloud) -> None:
    definition = {
        "StartAt": "Flaky",
        "States": {
            "Flaky": invoke(
                "<FlakyFunction>",
                {"Payload.$": "$"},
                Catch=[
                    {"ErrorEquals": ["States.ALL"], "ResultPath": "$.failure", "Next": "Failed"}
                ],
                End=True,
            ),
            "Failed": {
                "Type": "Fail",
                "ErrorPath": "$.failure.Error",
                "CausePath": "$.failure.Cause",
            },
        },
    }
    described = run(cloud, definition, {"raise": "ValueError", "message": "bad config"})

    assert described["status"] == "FAILED"
    assert described["error"] == "ValueError"
    cause = json.loads(described["cause"])
    assert cause["errorType"] == "ValueError"
    assert cause["errorMessage"] == "bad config"
    assert cause["stackTrace"]


def test_catch_with_null_result_path_and_task_failed_matching(cloud: LocalCloud) -> None:
    definition = {
        "StartAt": "Flaky",
        "States": {
            "Flaky": invoke(
                "<FlakyFunction>",
                {"Payload.$": "$"},
                Catch=[{"ErrorEquals": ["States.TaskFailed"], "ResultPath": None, "Next": "Kept"}],
                End=True,
            ),
            "Kept": {"Type": "Succeed"},
        },
    }
    assert output(run(cloud, definition, {"raise": "ValueError"})) == {"raise": "ValueError"}


def test_choice_wait_seconds_path_and_intrinsics(cloud: LocalCloud) -> None:
    definition = {
        "StartAt": "Route",
        "States": {
            "Route": {
                "Type": "Choice",
                "Choices": [
                    {"Variable": "$.errors[0]", "IsPresent": True, "Next": "Broken"},
                    {"Variable": "$.kind", "StringEquals": "deploy", "Next": "Pause"},
                ],
                "Default": "Broken",
            },
            "Pause": {"Type": "Wait", "SecondsPath": "$.options.poll_seconds", "Next": "Describe"},
            "Describe": {
                "Type": "Pass",
                "Parameters": {
                    "text.$": "States.JsonToString($.options)",
                    "name.$": "States.Format('{}-{}', $.kind, $.options.poll_seconds)",
                },
                "End": True,
            },
            "Broken": {"Type": "Fail", "Error": "ConfigError"},
        },
    }
    described = run(cloud, definition, {"kind": "deploy", "options": {"poll_seconds": 1}})

    assert output(described) == {"text": '{"poll_seconds":1}', "name": "deploy-1"}
    waited = described["stopDate"] - described["startDate"]
    assert waited.total_seconds() == 1  # virtual time: exactly the wait
    assert run(cloud, definition, {"kind": "deploy", "errors": ["x"]})["error"] == "ConfigError"


def test_map_starts_child_executions_and_catches_duplicates(cloud: LocalCloud) -> None:
    definition = {
        "StartAt": "Dispatch",
        "States": {
            "Dispatch": {
                "Type": "Map",
                "ItemsPath": "$.targets",
                "MaxConcurrency": 10,
                "ItemSelector": {
                    "target.$": "$$.Map.Item.Value",
                    "state_machine.$": "$$.StateMachine.Id",
                },
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "INLINE"},
                    "StartAt": "Start",
                    "States": {
                        "Start": {
                            "Type": "Task",
                            "Resource": "arn:aws:states:::states:startExecution",
                            "Parameters": {
                                "StateMachineArn.$": "$.state_machine",
                                "Name.$": "$.target.name",
                                "Input.$": "$.target.input",
                            },
                            "ResultSelector": {"arn.$": "$.ExecutionArn", "at.$": "$.StartDate"},
                            "ResultPath": "$.started",
                            "Catch": [
                                {
                                    "ErrorEquals": [
                                        "StepFunctions.ExecutionAlreadyExistsException"
                                    ],
                                    "ResultPath": None,
                                    "Next": "Duplicate",
                                }
                            ],
                            "Next": "Started",
                        },
                        "Started": {
                            "Type": "Pass",
                            "Parameters": {"status": "STARTED", "arn.$": "$.started.arn"},
                            "End": True,
                        },
                        "Duplicate": {
                            "Type": "Pass",
                            "Parameters": {"status": "DUPLICATE"},
                            "End": True,
                        },
                    },
                },
                "ResultPath": "$.dispatched",
                "Next": "Done",
            },
            "Done": {"Type": "Succeed", "OutputPath": "$.dispatched"},
        },
    }
    child: dict[str, Any] = {"targets": []}  # a child runs the same machine and dispatches nothing
    # The second item has the first one's name but another input: AWS refuses it.
    targets = [
        {"name": "shop-0123", "input": child},
        {"name": "shop-0123", "input": {"targets": [], "other": True}},
    ]
    described = run(cloud, definition, {"targets": targets})

    results = output(described)
    assert sorted(r["status"] for r in results) == ["DUPLICATE", "STARTED"]
    started = next(r for r in results if r["status"] == "STARTED")
    assert started["arn"].endswith(":shop-0123")
    assert cloud.wait_for_execution(started["arn"])["status"] == "SUCCEEDED"


def _map_of(item_state: dict[str, Any], catch: list[str]) -> dict[str, Any]:
    return {
        "StartAt": "Each",
        "States": {
            "Each": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "INLINE"},
                    "StartAt": "Item",
                    "States": {"Item": {**item_state, "End": True}},
                },
                "Catch": [{"ErrorEquals": catch, "ResultPath": "$.failure", "Next": "Caught"}],
                "End": True,
            },
            "Caught": {"Type": "Pass", "Parameters": {"error.$": "$.failure.Error"}, "End": True},
        },
    }


def test_map_iteration_failing_with_a_states_error_fails_the_map_with_it(cloud: LocalCloud) -> None:
    broken = {"Type": "Pass", "Parameters": {"x.$": "$.missing"}}
    definition = _map_of(broken, catch=["States.Runtime"])
    assert output(run(cloud, definition, {"items": [1]})) == {"error": "States.Runtime"}


@pytest.mark.parametrize("error", ["TransientAwsError", "ValueError"])
def test_retry_matches_custom_error_names_only(cloud: LocalCloud, error: str) -> None:
    retry = {
        "ErrorEquals": ["TransientAwsError"],
        "IntervalSeconds": 1,
        "MaxAttempts": 1,
        "JitterStrategy": "FULL",
    }
    definition = {
        "StartAt": "Flaky",
        "States": {"Flaky": invoke("<FlakyFunction>", {"Payload.$": "$"}, Retry=[retry], End=True)},
    }
    described = run(cloud, definition, {"raise": error})

    attempts = sum(
        1
        for event in cloud.execution_history(described["executionArn"])
        if event["type"] == "TaskFailed"
    )
    assert (described["error"], attempts) == (error, 2 if error == "TransientAwsError" else 1)


@pytest.mark.parametrize(
    ("item_state", "item", "error"),
    [
        # Three copies of a 100 KB item: a state output over 256 KiB.
        (
            {"Type": "Pass", "Parameters": {"a.$": "$", "b.$": "$", "c.$": "$"}},
            "x" * 100_000,
            "States.DataLimitExceeded",
        ),
        ({"Type": "Pass", "Parameters": {"x.$": "$.missing"}}, {}, "States.Runtime"),
    ],
)
def test_states_all_catches_neither_data_limit_nor_runtime_errors(
    cloud: LocalCloud, item_state: dict[str, Any], item: Any, error: str
) -> None:
    described = run(cloud, _map_of(item_state, ["States.ALL"]), {"items": [item]})
    assert (described["status"], described["error"]) == ("FAILED", error)


def test_an_execution_fails_once_its_history_holds_25000_events(cloud: LocalCloud) -> None:
    definition = {
        "StartAt": "Count",
        "States": {
            "Count": {
                "Type": "Pass",
                "Parameters": {"n.$": "States.MathAdd($.n, 1)"},
                "Next": "Again?",
            },
            # Bounded, so that without the limit the execution ends (SUCCEEDED) instead.
            "Again?": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.n", "NumericLessThan": 10_000, "Next": "Count"}],
                "Default": "Done",
            },
            "Done": {"Type": "Succeed"},
        },
    }
    described = run(cloud, definition, {"n": 0})
    history = list(cloud.execution_history(described["executionArn"]))
    assert (described["status"], described["error"]) == ("FAILED", "States.Runtime")
    assert "25000 events" in described["cause"]
    assert 25_000 <= len(history) <= 25_010


@pytest.mark.parametrize("name", ["has space", "a/b", "x" * 81, "brace{", "tab\tname"])
def test_start_execution_refuses_names_the_api_forbids(cloud: LocalCloud, name: str) -> None:
    sfn = cloud.client("stepfunctions")
    machine = sfn.create_state_machine(
        name="names",
        definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}),
        roleArn=ROLE,
    )
    with pytest.raises(sfn.exceptions.InvalidName):
        sfn.start_execution(stateMachineArn=machine["stateMachineArn"], name=name)
    assert sfn.start_execution(stateMachineArn=machine["stateMachineArn"], name="ok-name_1")
