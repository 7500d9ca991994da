"""The in-process Lambda runtime, without moto: environment, context, errors, faults."""

from __future__ import annotations

import gc
import json
import os
from dataclasses import replace
from typing import Any

import boto3
import pytest
from moto import mock_aws

from ecs_deployer_tools.localcloud.runtime import (
    ApiCallRecorder,
    Caller,
    FunctionConfig,
    FunctionSource,
    LambdaFaults,
    LambdaRuntime,
)
from tests.localcloud.conftest import FIXTURES

PROBE = FunctionSource("ProbeFunction", FIXTURES / "functions" / "probe", "app.lambda_handler")


def config(**environment: str) -> FunctionConfig:
    return FunctionConfig(
        function_name="stack-ProbeFunction-ABC",
        function_arn="arn:aws:lambda:us-east-1:123456789012:function:stack-ProbeFunction-ABC",
        version="$LATEST",
        memory_size=256,
        timeout=30,
        region="eu-west-1",
        runtime="python3.13",
        log_group_name="/aws/lambda/stack-ProbeFunction-ABC",
        environment=environment,
    )


@pytest.fixture
def runtime() -> LambdaRuntime:
    runtime = LambdaRuntime(ApiCallRecorder(), LambdaFaults())
    runtime.register("stack-ProbeFunction-ABC", PROBE)
    return runtime


def call(runtime: LambdaRuntime, event: dict[str, Any], **environment: str) -> Any:
    result = runtime.invoke(config(**environment), json.dumps(event).encode())
    return result.function_error, json.loads(result.payload)


def test_handler_sees_its_environment_and_a_lambda_context(runtime: LambdaRuntime) -> None:
    error, answer = call(runtime, {"n": 1}, PROBE="one")

    assert error is None
    assert answer["event"] == {"n": 1}
    assert answer["probe"] == "one"
    assert answer["init"] == {"PROBE": "one", "AWS_LAMBDA_FUNCTION_NAME": "stack-ProbeFunction-ABC"}
    assert answer["handler"] == "app.lambda_handler"
    assert answer["task_root"] == str(PROBE.code_dir)
    context = answer["context"]
    assert context["function_name"] == "stack-ProbeFunction-ABC"
    assert context["function_version"] == "$LATEST"
    assert context["invoked_function_arn"].endswith(":function:stack-ProbeFunction-ABC")
    assert context["memory_limit_in_mb"] == "256"  # a string, as in the Python runtime
    assert context["log_group_name"] == "/aws/lambda/stack-ProbeFunction-ABC"
    assert "]" in context["log_stream_name"]
    assert 0 < context["remaining_ms"] <= 30_000
    assert len(context["aws_request_id"]) == 36


def test_environment_is_restored_after_each_invocation(runtime: LambdaRuntime) -> None:
    before = dict(os.environ)
    call(runtime, {}, PROBE="one")
    assert dict(os.environ) == before


def test_one_cold_start_until_the_configuration_changes(runtime: LambdaRuntime) -> None:
    call(runtime, {}, PROBE="one")
    call(runtime, {}, PROBE="one")
    assert runtime.cold_starts["ProbeFunction"] == 1

    _, answer = call(runtime, {}, PROBE="two")  # a new configuration: a new environment
    assert answer["init"]["PROBE"] == "two"
    assert runtime.cold_starts["ProbeFunction"] == 2


def test_exception_becomes_the_python_runtime_error_payload(runtime: LambdaRuntime) -> None:
    error, payload = call(runtime, {"raise": "no such app"})

    assert error == "Unhandled"
    assert set(payload) == {"errorMessage", "errorType", "requestId", "stackTrace"}
    assert payload["errorType"] == "LookupError"
    assert payload["errorMessage"] == "no such app"
    assert len(payload["stackTrace"]) == 1  # only the function's frames
    assert "probe/app.py" in payload["stackTrace"][0]


def test_init_failure_is_reported_and_retried_on_the_next_call(runtime: LambdaRuntime) -> None:
    error, payload = call(runtime, {}, PROBE_FAIL_INIT="1")
    assert (error, payload["errorType"]) == ("Unhandled", "RuntimeError")

    error, _ = call(runtime, {})
    assert error is None


def test_a_failed_init_leaves_the_garbage_collector_on(runtime: LambdaRuntime) -> None:
    # The probe, as each handler, pauses the collector until its init's end.
    error, _ = call(runtime, {}, PROBE_FAIL_INIT="1")

    assert error == "Unhandled"
    assert gc.isenabled()


def test_what_an_init_froze_goes_back_to_the_collector(runtime: LambdaRuntime) -> None:
    # The probe, as each handler, freezes what its init made: a sandbox holds one handler,
    # this process many, whose garbage must stay collectable.
    error, _ = call(runtime, {})

    assert error is None
    assert gc.get_freeze_count() == 0


def test_missing_handler_and_module(runtime: LambdaRuntime) -> None:
    runtime.register("stack-ProbeFunction-ABC", replace(PROBE, handler="app.nope"))
    _, payload = call(runtime, {})
    assert payload["errorType"] == "Runtime.HandlerNotFound"

    runtime.register("stack-ProbeFunction-ABC", replace(PROBE, handler="missing.handler"))
    _, payload = call(runtime, {})
    assert payload["errorType"] == "Runtime.ImportModuleError"


def test_response_marshalling(runtime: LambdaRuntime) -> None:
    assert call(runtime, {"answer": "decimal"}) == (None, {"price": 1.5})

    error, payload = call(runtime, {"answer": "unserializable"})
    assert (error, payload["errorType"]) == ("Unhandled", "Runtime.MarshalError")


def test_injected_crash_fails_n_calls_and_discards_the_environment(runtime: LambdaRuntime) -> None:
    faults = LambdaFaults()
    runtime = LambdaRuntime(ApiCallRecorder(), faults)
    runtime.register("stack-ProbeFunction-ABC", PROBE)
    call(runtime, {})
    faults.inject("ProbeFunction", count=2)

    for _ in range(2):
        error, payload = call(runtime, {})
        assert error == "Unhandled"
        assert payload["errorType"] == "Runtime.ExitError"
        assert "Runtime exited with error" in payload["errorMessage"]
        assert "stackTrace" not in payload  # a crash, not an exception
    assert faults.pending("ProbeFunction") == 0
    assert call(runtime, {})[0] is None
    assert runtime.cold_starts["ProbeFunction"] == 2  # the crash killed the environment


def test_fault_after_handler_runs_the_handler_first() -> None:
    faults = LambdaFaults()
    recorder = ApiCallRecorder()
    runtime = LambdaRuntime(recorder, faults)
    runtime.register("stack-ProbeFunction-ABC", PROBE)
    faults.inject("ProbeFunction", error_type="TransientAwsError", after_handler=True)

    error, payload = call(runtime, {})

    assert error == "Unhandled"
    assert payload["errorType"] == "TransientAwsError"
    assert runtime.cold_starts["ProbeFunction"] == 1  # the handler ran
    assert call(runtime, {})[0] is None
    assert runtime.cold_starts["ProbeFunction"] == 1  # an exception keeps the environment


def test_inject_rejects_a_count_below_one() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        LambdaFaults().inject("ProbeFunction", count=0)


@mock_aws
def test_recorder_counts_only_calls_made_inside_an_invocation() -> None:
    recorder = ApiCallRecorder()
    ssm = boto3.client("ssm", region_name="us-east-1")
    with recorder.install():
        ssm.describe_parameters()  # the test's own call
        with recorder.inside(Caller("ResolveFunction", "stack-ResolveFunction-1")):
            ssm.describe_parameters()
            ssm.get_parameters(Names=["/a"])
        with recorder.inside(Caller("LockFunction", "stack-LockFunction-1")):
            ssm.describe_parameters()
    ssm.describe_parameters()  # not installed any more

    assert recorder.counts() == {"ssm.DescribeParameters": 2, "ssm.GetParameters": 1}
    assert recorder.counts("LockFunction") == {"ssm.DescribeParameters": 1}
    recorder.reset()
    assert recorder.counts() == {}
