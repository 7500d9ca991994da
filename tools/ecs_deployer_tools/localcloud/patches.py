"""Every patch the local cloud applies to moto 5.2.5, in one place.

`moto_patches(runtime, scheduler)` installs them all for the duration of a `with` block
and restores moto afterwards. Each patch restores one AWS behaviour that the real template,
ASL or handlers depend on and that moto lacks:

CloudFormation
  1. `AWS::StepFunctions::StateMachine`: moto reads only `DefinitionString` and always
     creates into the plain backend. AWS also accepts `Definition` (an object) and
     `DefinitionS3Location` (what `sam package` produces from `DefinitionUri`), applies
     `DefinitionSubstitutions`, and honours `StateMachineType`, `LoggingConfiguration` and
     `TracingConfiguration`. The state machine is created in the backend that serves the
     API (the ASL-executing parser backend under `execute_state_machine`), and
     `Fn::GetAtt <sm>.Arn` resolves.
  2. `AWS::Lambda::LayerVersion`: moto ignores `LayerName` and `CompatibleArchitectures`
     and has no physical id, so `!Ref Layer` (the version ARN on AWS) yields an object.
  3. `AWS::Lambda::Function`: moto drops `Layers`, `Architectures`, `Tags`,
     `TracingConfig`, `EphemeralStorage` and `LoggingConfig`.
  4. `AWS::SQS::QueuePolicy` is unknown to moto (skipped with a warning): it sets the
     queues' `Policy` attribute, as on AWS.

Lambda
  5. `Invoke` of a function registered with the in-process runtime runs its real handler
     (moto would start a Docker container) and returns `X-Amz-Function-Error: Unhandled`
     with the runtime's error payload when it fails.

EventBridge
  6. Rule targets that are state machines start an execution with the event (or its
     `Input`/`InputPath`/`InputTransformer` result) as input; moto raises
     NotImplementedError for them. The event has AWS's shape (ISO `time`, no
     `ingestion-time`). Disabled rules deliver nothing, as on AWS. Other target types
     keep moto's delivery.
 12. `TestEventPattern` answers `{"Result": true|false}` with the matcher that routes
     the emulator's events; moto answers with an empty body.

CloudFormation (more)
 13. `DescribeStacks` shows a list parameter (`CommaDelimitedList`) as CloudFormation
     does, `a,b`; moto shows its Python list, `['a', 'b']`.

ECR
  7. `PutImage` emits the "ECR Image Action" PUSH event on the default bus, one per call
     (one tag per call, as ECR does), and `BatchDeleteImage` emits one DELETE event per
     deleted image tag. moto's own re-tagging deletes inside PutImage emit nothing.

Step Functions (moto's interpreter is LocalStack's; where the port diverges from AWS)
  8. Optimized service integrations (`arn:aws:states:::states:startExecution`...) convert
     the state's PascalCase parameters to the API's member names and the API's response
     back to PascalCase (`ExecutionArn`, `StartDate`), from the botocore service model,
     with timestamps as epoch milliseconds: state data is JSON. moto stubs this
     normalisation out, so botocore rejects `StateMachineArn` with a KeyError and the
     task fails with States.Runtime (and a datetime in the output breaks DescribeExecution).
  9. A Map iteration that fails with a `States.*` error (States.Runtime, States.Timeout...)
     fails the Map state with that error, catchable by the Map's Catch. moto wraps it in
     a "custom" error name, which rejects the `States.` prefix with a ValueError.
 10. Context object timestamps (`$$.Execution.StartTime`, `$$.State.EnteredTime`) are
     strings like "2026-11-22T10:15:30.123Z", as on AWS; moto puts a datetime (which
     breaks DescribeExecution once it lands in state data) and a `+00:00` isoformat.
     (Their time is virtual: 17.)
 11. StartExecution is atomic: of two concurrent starts with one name, one gets
     ExecutionAlreadyExists (or, same input, the same execution). moto checks and adds
     without a lock, so two dispatches of one digest could both start a child. Without
     a name, the execution is named by a UUID (moto names it "None", once). Names are
     drawn, like moto's own ids, from moto's generator, which the cloud seeds.

Virtual time (the clock and scheduler are `virtual_time.py`'s): moto runs executions in
free threads and waits in real time, so which of two executions reaches a Lambda first was
up to the OS scheduler. On AWS nothing orders them either; here the test does.
 14. Each execution is one thread that runs only at its turn (`Scheduler.spawn`). moto
     adds a thread for the program (joined with the machine's TimeoutSeconds in real
     time), per Task state, per Map iteration and per Parallel branch, each waited for at
     once: here they run inline in the execution's thread (Map iterations and Parallel
     branches one after the other), and TimeoutSeconds counts virtual time.
 15. Wait states (Seconds, SecondsPath, Timestamp, TimestampPath) and Retry intervals park
     the execution in virtual time; Retry jitter draws from the scheduler's seeded
     generator. moto waits in real time, and a Retry interval ignores StopExecution.
 16. StopExecution (and the cloud shutting down) wakes a parked execution at once; a
     driver's StopExecution lets it unwind before returning. Stopping an execution that
     has not run yet aborts it; moto raises an AttributeError (it has no environment yet).
 17. Timestamps come from the virtual clock: execution start and stop dates (so
     `$$.Execution.StartTime`), `$$.State.EnteredTime`, history events, EventBridge event
     times (whole seconds in the event, as on AWS), ECR's `imagePushedAt` (milliseconds,
     as ECR records it; moto keeps whole seconds).

Step Functions → EventBridge → Lambda
 18. An execution that ends emits "Step Functions Execution Status Change" on the default
     bus (status SUCCEEDED, FAILED, TIMED_OUT or ABORTED; detail as DescribeExecution
     reports it, dates in epoch milliseconds), as Step Functions does ("Step Functions
     events in EventBridge", Step Functions Developer Guide); moto emits nothing. It is
     emitted from the execution's own thread once its status is final, so whatever the
     event starts has run when the execution is seen idle (on AWS delivery is
     asynchronous, best effort). RUNNING is not emitted: nothing here listens to it.
     Rule targets that are Lambda functions get the event as an asynchronous ("Event")
     Invoke, as EventBridge delivers to Lambda; moto raises NotImplementedError for them.
     A failed delivery is logged, never raised to the sender.

Everything else the deploy ASL uses already matches AWS; `tests/localcloud/
test_asl_support.py` pins it down.
"""

from __future__ import annotations

import copy
import functools
import json
import logging
import threading
import types
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from enum import Enum
from typing import TYPE_CHECKING, Any, cast
from unittest.mock import patch

import botocore.session
from botocore import xform_name
from jsonpath_ng.ext.parser import parse as jsonpath
from moto.awslambda.models import LambdaBackend, LambdaFunction, LayerVersion
from moto.awslambda.utils import get_backend as lambda_backend
from moto.cloudformation import parsing as cfn_parsing
from moto.cloudformation.models import Stack as CloudFormationStack
from moto.ecr.models import ECRBackend, Image
from moto.events import models as events_models
from moto.events.models import EventPattern, Rule, events_backends
from moto.events.responses import EventsHandler
from moto.events.utils import EventMessageType, EventTemplateParser
from moto.moto_api._internal import mock_random
from moto.s3.models import s3_backends
from moto.sqs.models import sqs_backends
from moto.stepfunctions.models import StateMachine
from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import (
    CustomErrorName,
)
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
    FailureEventException,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import (
    StatesErrorName,
)
from moto.stepfunctions.parser.asl.component.common.retry import (
    jitter_strategy_decl,
    retrier_decl,
)
from moto.stepfunctions.parser.asl.component.eval_component import EvalComponent
from moto.stepfunctions.parser.asl.component.program.program import Program
from moto.stepfunctions.parser.asl.component.state import state as state_module
from moto.stepfunctions.parser.asl.component.state.exec import execute_state
from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration import (
    iteration_worker,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.inline_iteration_component import (  # noqa: E501
    InlineIterationComponent,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_parallel.branch_worker import (
    BranchWorker,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
    state_task_service,
)
from moto.stepfunctions.parser.asl.component.state.wait.wait_function.timestamp import (
    Timestamp,
)
from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import (
    WaitFunction,
)
from moto.stepfunctions.parser.asl.eval.event.event_manager import EventManager
from moto.stepfunctions.parser.backend import execution_worker
from moto.stepfunctions.parser.backend.execution import (
    BaseExecutionWorkerCommunication,
    Execution,
)
from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker
from moto.stepfunctions.parser.models import StepFunctionsParserBackend
from moto.stepfunctions.responses import get_backend as sfn_backend
from moto.stepfunctions.utils import cfn_to_api_tags
from moto.utilities.arns import parse_arn
from moto.utilities.utils import get_partition

from ecs_deployer_tools.localcloud import virtual_time
from ecs_deployer_tools.localcloud.runtime import FunctionConfig

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from botocore.model import OperationModel
    from moto.stepfunctions.parser.asl.component.common.error_name.error_name import (
        ErrorName,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.inline_iteration_component import (  # noqa: E501
        InlineIterationComponentEvalInput,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.iteration_worker import (  # noqa: E501
        IterationWorker,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.job import (
        JobPool,
    )
    from moto.stepfunctions.parser.asl.eval.environment import Environment

    from ecs_deployer_tools.localcloud.runtime import LambdaRuntime
    from ecs_deployer_tools.localcloud.virtual_time import Scheduler

log = logging.getLogger(__name__)

_original_send_to_targets = Rule.send_to_targets
_original_put_image = ECRBackend.put_image
_original_batch_delete_image = ECRBackend.batch_delete_image
_original_function_from_cfn = LambdaFunction.create_from_cloudformation_json
_original_invoke = LambdaBackend.invoke
_original_sm_attribute = StateMachine.get_cfn_attribute
_original_resource_class_from_type = cfn_parsing.resource_class_from_type
_original_start_execution = StepFunctionsParserBackend.start_execution
_original_execution_start = Execution.start
_original_worker_stop = ExecutionWorker.stop
# moto leaves it unannotated.
_original_reflect_status: Callable[[BaseExecutionWorkerCommunication], None] = (
    BaseExecutionWorkerCommunication._reflect_execution_status
)
_original_image_init = Image.__init__
_original_terminated = BaseExecutionWorkerCommunication.terminated


@contextmanager
def moto_patches(runtime: LambdaRuntime, scheduler: Scheduler) -> Iterator[None]:
    """Install every patch (see the module docstring); `runtime` serves Lambda Invoke,
    `scheduler` runs the executions on virtual time."""

    def invoke(  # noqa: PLR0917 - moto's positional signature
        backend: LambdaBackend,
        function_name: str,
        qualifier: str | None,
        body: Any,
        headers: Any,
        response_headers: dict[str, str],
    ) -> str | bytes | None:
        function = backend.get_function(function_name, qualifier)
        if not runtime.handles(function.function_name):
            return _original_invoke(
                backend, function_name, qualifier, body, headers, response_headers
            )
        invocation_type = headers.get("X-Amz-Invocation-Type") or "RequestResponse"
        if invocation_type == "DryRun":
            return b""
        # An asynchronous ("Event") invocation runs before returning: handlers are short.
        result = runtime.invoke(_function_config(function), body)
        if result.function_error:
            response_headers["x-amz-function-error"] = result.function_error
        response_headers["x-amz-executed-version"] = str(function.version)
        payload = b"" if invocation_type == "Event" else result.payload
        response_headers["Content-Length"] = str(len(payload))
        return payload

    replacements: list[tuple[object, str, object]] = [
        (StateMachine, "create_from_cloudformation_json", classmethod(_state_machine_from_cfn)),
        (StateMachine, "has_cfn_attr", classmethod(_state_machine_has_attr)),
        (StateMachine, "get_cfn_attribute", _state_machine_attribute),
        (LayerVersion, "create_from_cloudformation_json", classmethod(_layer_version_from_cfn)),
        (LambdaFunction, "create_from_cloudformation_json", classmethod(_function_from_cfn)),
        (LambdaBackend, "invoke", invoke),
        (Rule, "send_to_targets", _send_to_targets),
        (ECRBackend, "put_image", _put_image),
        (ECRBackend, "batch_delete_image", _batch_delete_image),
        (state_task_service.StateTaskService, "_normalise_parameters", _normalise_parameters),
        (state_task_service.StateTaskService, "_normalise_response", _normalise_response),
        (iteration_worker, "CustomErrorName", _propagated_error_name),
        (cfn_parsing, "resource_class_from_type", _resource_class_from_type),
        (execution_worker, "ExecutionData", _execution_data),
        (state_module, "StateData", _state_data),
        (StepFunctionsParserBackend, "start_execution", _start_execution_atomically),
        (EventsHandler, "test_event_pattern", _test_event_pattern),
        (CloudFormationStack, "parameter_list", property(_parameter_list)),
        (execute_state, "Thread", _Inline),
        (InlineIterationComponent, "_launch_worker", _launch_iteration_inline),
        (BranchWorker, "start", _start_branch_inline),
        (Timestamp, "_get_wait_seconds", _seconds_until_timestamp),
        (Execution, "start", _start_at_virtual_time),
        (BaseExecutionWorkerCommunication, "_reflect_execution_status", _reflect_status),
        (BaseExecutionWorkerCommunication, "terminated", _terminated_with_event),
        (EventManager, "_get_current_timestamp", staticmethod(virtual_time.now)),
        (events_models, "unix_time", _unix_time),
        (events_models, "unix_time_millis", _unix_time_millis),
        (Image, "__init__", _image_pushed_now),
        *_scheduling(scheduler),
    ]
    with ExitStack() as stack:
        for target, name, replacement in replacements:
            stack.enter_context(patch.object(target, name, replacement))
        # LayerVersion has no physical_resource_id attribute to patch: create it.
        layer_arn = property(lambda layer: layer.arn)
        stack.enter_context(
            patch.object(LayerVersion, "physical_resource_id", layer_arn, create=True)
        )
        yield


# --- 1. AWS::StepFunctions::StateMachine ------------------------------------------------


def _state_machine_from_cfn(
    _cls: type[StateMachine],
    /,
    resource_name: str,
    cloudformation_json: dict[str, Any],
    account_id: str,
    region_name: str,
    **_kwargs: Any,
) -> StateMachine:
    properties = cloudformation_json["Properties"]
    definition = _definition(properties, account_id, region_name)
    for key, value in (properties.get("DefinitionSubstitutions") or {}).items():
        text = value if isinstance(value, str) else json.dumps(value)
        definition = definition.replace(f"${{{key}}}", text)
    return sfn_backend(account_id, region_name).create_state_machine(
        name=properties.get("StateMachineName", resource_name),
        definition=definition,
        roleArn=properties.get("RoleArn", ""),
        tags=cfn_to_api_tags(properties.get("Tags", [])),
        loggingConfiguration=_camel_keys(properties.get("LoggingConfiguration")),
        tracingConfiguration=_camel_keys(properties.get("TracingConfiguration")),
        sm_type=properties.get("StateMachineType"),
    )


def _definition(properties: dict[str, Any], account_id: str, region_name: str) -> str:
    if "DefinitionString" in properties:
        return str(properties["DefinitionString"])
    if "Definition" in properties:
        return json.dumps(properties["Definition"])
    location = properties["DefinitionS3Location"]
    backend = s3_backends[account_id][get_partition(region_name)]
    key = backend.get_object(location["Bucket"], location["Key"], location.get("Version"))
    if key is None:
        raise ValueError(f"no state machine definition at {location}")
    return key.value.decode()


def _camel_keys(value: Any) -> Any:
    """CloudFormation's PascalCase property → the API's camelCase shape."""
    if isinstance(value, dict):
        return {key[:1].lower() + key[1:]: _camel_keys(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_camel_keys(item) for item in value]
    return value


def _state_machine_has_attr(_cls: type[StateMachine], /, attr: str) -> bool:
    return attr in {"Arn", "Name", "DefinitionString", "RoleArn", "StateMachineName", "Tags"}


def _state_machine_attribute(state_machine: StateMachine, attribute_name: str) -> Any:
    if attribute_name == "Arn":
        return state_machine.arn
    return _original_sm_attribute(state_machine, attribute_name)


# --- 2. AWS::Lambda::LayerVersion and 3. AWS::Lambda::Function -------------------------


def _layer_version_from_cfn(
    _cls: type[LayerVersion],
    /,
    resource_name: str,
    cloudformation_json: dict[str, Any],
    account_id: str,
    region_name: str,
    **_kwargs: Any,
) -> LayerVersion:
    properties = cloudformation_json["Properties"]
    spec = {"Content": properties["Content"], "LayerName": properties.get("LayerName")}
    spec["LayerName"] = spec["LayerName"] or resource_name
    optional = ("Description", "CompatibleRuntimes", "CompatibleArchitectures", "LicenseInfo")
    spec.update({name: properties[name] for name in optional if name in properties})
    return lambda_backend(account_id, region_name).publish_layer_version(spec)


_FUNCTION_PROPERTIES = (
    "Description",
    "MemorySize",
    "Publish",
    "Timeout",
    "VpcConfig",
    "Environment",
    "ReservedConcurrentExecutions",
    "Layers",
    "Architectures",
    "TracingConfig",
    "EphemeralStorage",
    "LoggingConfig",
)


def _function_from_cfn(
    _cls: type[LambdaFunction],
    /,
    resource_name: str,
    cloudformation_json: dict[str, Any],
    account_id: str,
    region_name: str,
    **kwargs: Any,
) -> LambdaFunction:
    properties = cloudformation_json["Properties"]
    if "ZipFile" in properties["Code"]:  # moto's inline-code conversion stays moto's
        return _original_function_from_cfn(
            resource_name, cloudformation_json, account_id, region_name, **kwargs
        )
    spec = {
        "Code": properties["Code"],
        "FunctionName": resource_name,
        "Handler": properties.get("Handler"),
        "Role": properties["Role"],
        "Runtime": properties.get("Runtime"),
    }
    spec.update({name: properties[name] for name in _FUNCTION_PROPERTIES if name in properties})
    if "Tags" in properties:
        spec["Tags"] = {tag["Key"]: tag["Value"] for tag in properties["Tags"]}
    return lambda_backend(account_id, region_name).create_function(spec)


# --- 4. AWS::SQS::QueuePolicy ----------------------------------------------------------


class _QueuePolicy:
    """moto's model interface for AWS::SQS::QueuePolicy. Not a CloudFormationModel
    subclass: those join moto's registry for good, and a patch must come off."""

    def __init__(self, policy_id: str) -> None:
        self.physical_resource_id = policy_id

    def is_created(self) -> bool:
        return True

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **_kwargs: Any,
    ) -> _QueuePolicy:
        properties = cloudformation_json["Properties"]
        policy = json.dumps(properties["PolicyDocument"])
        backend = sqs_backends[account_id][region_name]
        for queue_url in properties["Queues"]:
            backend.set_queue_attributes(queue_url.rsplit("/", 1)[-1], {"Policy": policy})
        return cls(resource_name)


def _resource_class_from_type(resource_type: str) -> Any:
    if resource_type == "AWS::SQS::QueuePolicy":
        return _QueuePolicy
    return _original_resource_class_from_type(resource_type)


# --- 5. Lambda Invoke ------------------------------------------------------------------


def _function_config(function: LambdaFunction) -> FunctionConfig:
    return FunctionConfig(
        function_name=function.function_name,
        function_arn=function.function_arn,
        version=str(function.version),
        memory_size=int(function.memory_size),
        timeout=int(function.timeout),
        region=function.region,
        runtime=str(function.run_time),
        log_group_name=function.logs_group_name,
        environment={k: str(v) for k, v in function.environment_vars.items()},
    )


# --- 6. EventBridge → Step Functions ---------------------------------------------------


def _send_to_targets(
    rule: Rule, original_event: EventMessageType, transform_input: bool = True
) -> None:
    if rule.state != "ENABLED" or not rule.event_pattern.matches_event(original_event):
        return
    others = []
    for target in rule.targets:
        arn = parse_arn(target["Arn"])
        if arn.service == "states" and arn.resource_type == "stateMachine":
            _start_execution(target, _aws_event(original_event), arn.account, arn.region)
        elif arn.service == "lambda":  # 18.
            _invoke_target(target, _aws_event(original_event), arn.account, arn.region)
        else:
            others.append(target)
    if others:
        # moto's delivery reads only the rule's attributes: hand it a copy with the rest.
        rest = copy.copy(rule)
        rest.targets = others
        _original_send_to_targets(rest, original_event, transform_input)


def _aws_event(event: EventMessageType) -> dict[str, Any]:
    """The event as targets receive it on AWS: ISO `time`, no moto-internal keys."""
    shaped = {key: value for key, value in event.items() if key != "ingestion-time"}
    when = event.get("time")
    if isinstance(when, int | float):  # moto keeps epoch seconds
        shaped["time"] = datetime.fromtimestamp(when, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return shaped


def _target_input(target: dict[str, Any], event: dict[str, Any]) -> Any:
    if "Input" in target:
        return json.loads(target["Input"])
    if "InputPath" in target:
        matches = jsonpath(target["InputPath"]).find(event)
        return matches[0].value if matches else None
    if "InputTransformer" in target:
        transformer = target["InputTransformer"]
        # moto's template parser also offers <aws.events.event.ingestion-time>.
        with_ingestion_time = cast("EventMessageType", {**event, "ingestion-time": event["time"]})
        return EventTemplateParser.parse(
            input_template=transformer.get("InputTemplate"),
            input_paths_map=transformer.get("InputPathsMap", {}),
            event=with_ingestion_time,
        )
    return event


def _start_execution(
    target: dict[str, Any], event: dict[str, Any], account: str, region: str
) -> None:
    try:
        sfn_backend(account, region).start_execution(
            target["Arn"],
            name=str(mock_random.uuid4()),
            execution_input=json.dumps(_target_input(target, event)),
        )
    except Exception:
        # EventBridge retries and then drops (or dead-letters): the sender never sees it.
        log.exception("EventBridge could not start %s", target["Arn"])


# --- 7. ECR events ---------------------------------------------------------------------

# Depth of ECR backend calls on this thread: PutImage re-tags through BatchDeleteImage.
_ecr_depth = threading.local()


@contextmanager
def _ecr_call() -> Iterator[bool]:
    """Yield whether this is the outermost ECR call on this thread (the API action)."""
    depth = getattr(_ecr_depth, "value", 0)
    _ecr_depth.value = depth + 1
    try:
        yield depth == 0
    finally:
        _ecr_depth.value = depth


def _put_image(  # noqa: PLR0917 - moto's positional signature
    backend: ECRBackend,
    repository_name: str,
    image_manifest: str,
    image_tag: str,
    image_manifest_mediatype: str | None = None,
    digest: str | None = None,
) -> Any:
    with _ecr_call() as outermost:
        image = _original_put_image(
            backend, repository_name, image_manifest, image_tag, image_manifest_mediatype, digest
        )
    if outermost:
        detail = _ecr_detail("PUSH", repository_name, image.get_image_digest(), image_tag)
        detail["manifest-media-type"] = image.image_manifest_media_type
        config = json.loads(image_manifest).get("config", {})
        if "mediaType" in config:
            detail["artifact-media-type"] = config["mediaType"]
        _emit_ecr_event(backend, detail)
    return image


def _batch_delete_image(
    backend: ECRBackend,
    repository_name: str,
    registry_id: str | None = None,
    image_ids: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    with _ecr_call() as outermost:
        response: dict[str, Any] = _original_batch_delete_image(
            backend, repository_name, registry_id, image_ids
        )
    if outermost:
        for deleted in response["imageIds"]:
            detail = _ecr_detail("DELETE", repository_name, deleted.image_digest, deleted.image_tag)
            _emit_ecr_event(backend, detail)
    return response


def _ecr_detail(action: str, repository: str, digest: str, tag: str | None) -> dict[str, Any]:
    detail = {
        "result": "SUCCESS",
        "repository-name": repository,
        "image-digest": digest,
        "action-type": action,
    }
    if tag is not None:
        detail["image-tag"] = tag
    return detail


def _emit_ecr_event(backend: ECRBackend, detail: dict[str, Any]) -> None:
    events_backends[backend.account_id][backend.region_name].put_events(
        [
            {
                "Source": "aws.ecr",
                "DetailType": "ECR Image Action",
                "Detail": json.dumps(detail),
                "Resources": [],
            }
        ]
    )


# --- 8. Step Functions service integrations: request/response normalisation ------------


@functools.cache
def _operation_model(service_name: str, snake_action: str) -> OperationModel:
    model = _botocore_session().get_service_model(service_name)
    names = {xform_name(name): name for name in model.operation_names}
    return model.operation_model(names[snake_action])


@functools.cache
def _botocore_session() -> botocore.session.Session:
    return botocore.session.Session()


def _normalise_parameters(
    task: state_task_service.StateTaskService,
    parameters: dict[str, Any],
    boto_service_name: str | None = None,
    service_action_name: str | None = None,
) -> None:
    operation = _operation_model(
        task._get_boto_service_name(boto_service_name),
        task._get_boto_service_action(service_action_name),
    )
    if operation.input_shape is not None:
        task._to_boto_request(parameters, operation.input_shape)


def _normalise_response(
    task: state_task_service.StateTaskService,
    response: Any,
    boto_service_name: str | None = None,
    service_action_name: str | None = None,
) -> None:
    operation = _operation_model(
        task._get_boto_service_name(boto_service_name),
        task._get_boto_service_action(service_action_name),
    )
    if operation.output_shape is not None:
        task._from_boto_response(response, operation.output_shape)
    _json_timestamps(response)


def _json_timestamps(value: Any) -> None:
    """Replace datetimes by epoch milliseconds, in place."""
    items = (
        value.items()
        if isinstance(value, dict)
        else enumerate(value)
        if isinstance(value, list)
        else ()
    )
    for key, item in list(items):
        if isinstance(item, datetime):
            value[key] = int(item.timestamp() * 1000)
        else:
            _json_timestamps(item)


# --- 9. Map iterations failing with States.* errors ------------------------------------


def _propagated_error_name(error_name: str | None) -> ErrorName:
    """The iteration's error as the Map state's error: States.* names stay States errors."""
    if error_name is not None and error_name.startswith("States."):
        return StatesErrorName.from_name(error_name)
    return CustomErrorName(error_name)


# --- 10. Context object timestamps -----------------------------------------------------


def _aws_timestamp(value: datetime | str) -> str:
    """ISO 8601 in UTC with milliseconds and a Z, as the context object carries them."""
    when = datetime.fromisoformat(value) if isinstance(value, str) else value
    when = when.astimezone(UTC)
    return f"{when:%Y-%m-%dT%H:%M:%S}.{when.microsecond // 1000:03d}Z"


def _execution_data(**fields: Any) -> dict[str, Any]:
    return {**fields, "StartTime": _aws_timestamp(fields["StartTime"])}


def _state_data(**fields: Any) -> dict[str, Any]:
    return {**fields, "EnteredTime": _aws_timestamp(virtual_time.now())}


# --- 11. Atomic, named StartExecution --------------------------------------------------------

_start_execution_lock = threading.Lock()


def _start_execution_atomically(
    backend: StepFunctionsParserBackend,
    state_machine_arn: str,
    name: str | None = None,
    execution_input: Any = None,
    trace_header: Any = None,
) -> Any:
    with _start_execution_lock:
        return _original_start_execution(
            backend,
            state_machine_arn,
            name or str(mock_random.uuid4()),
            execution_input,
            trace_header,
        )


# --- 12. EventBridge TestEventPattern ---------------------------------------------------


def _test_event_pattern(handler: EventsHandler) -> str:
    pattern = EventPattern.load(handler._get_param("EventPattern"))
    event = json.loads(handler._get_param("Event"))
    return json.dumps({"Result": bool(pattern.matches_event(event))})


# --- 13. CloudFormation list parameters -------------------------------------------------


def _parameter_list(stack: CloudFormationStack) -> list[dict[str, Any]]:
    hidden = stack.resource_map.no_echo_parameter_keys
    return [
        {
            "ParameterKey": key,
            "ParameterValue": "****"
            if key in hidden
            else ",".join(value)
            if isinstance(value, list)
            else value,
        }
        for key, value in stack.resource_map.resolved_parameters.items()
    ]


# --- 14-16. Executions take turns on virtual time ----------------------------------------


class _Inline:
    """A thread the interpreter starts and at once waits for, run inline instead: starting
    it runs its target in the execution's own thread (the one that holds the turn)."""

    def __init__(self, target: Callable[[], object], **_thread_options: object) -> None:
        self._target = target

    def start(self) -> None:
        self._target()

    def join(self, timeout: float | None = None) -> None:
        """Nothing to wait for: the target ran in `start`."""


def _launch_iteration_inline(
    component: InlineIterationComponent,
    env: Environment,
    eval_input: InlineIterationComponentEvalInput,
    job_pool: JobPool,
) -> IterationWorker:
    # The first worker takes every job in turn; the others find the pool empty.
    worker = component._create_worker(env=env, eval_input=eval_input, job_pool=job_pool)
    worker.eval()
    return worker


def _start_branch_inline(worker: BranchWorker) -> None:
    worker._program.eval(worker.env)
    worker._branch_worker_comm.on_terminated(env=worker.env)


def _seconds_until_timestamp(wait: Timestamp, env: Environment) -> float:
    wait.string.eval(env=env)
    text: str = env.stack.pop()
    when = wait._from_timestamp_string(timestamp=text)
    if when is None:
        raise FailureEventException(wait._create_failure_event(env, text))
    return (when.replace(tzinfo=UTC) - virtual_time.now()).total_seconds()


def _scheduling(scheduler: Scheduler) -> list[tuple[object, str, object]]:
    """The replacements that run executions as the scheduler's fibers."""
    # StopExecution's arguments for executions stopped before their first turn.
    stopped_early: dict[object, tuple[Any, Any, Any]] = {}

    def start_worker(worker: ExecutionWorker) -> None:
        name = worker._evaluation_details.execution_details.name
        scheduler.spawn(worker, name, worker._execution_logic)

    def stop_worker(
        worker: ExecutionWorker, stop_date: datetime, error: str | None, cause: str | None
    ) -> None:
        if worker.env is None:
            stopped_early[worker] = (stop_date, cause, error)
        else:
            _original_worker_stop(worker, stop_date, error, cause)
        scheduler.halt(worker)

    def eval_program(program: Program, env: Environment) -> None:
        env.next_state_name = program.start_at.start_at_name
        if not env.is_frame() and (early := stopped_early.pop(scheduler.current_key(), None)):
            env.set_stop(*early)
            program._eval_body(env)  # records ExecutionAborted, as AWS does
            return
        timeout = program.timeout_seconds.timeout_seconds if program.timeout_seconds else None
        with scheduler.time_limit(timeout, env.set_timed_out):
            EvalComponent.eval(program, env)

    def wait_interval(_wait: WaitFunction, env: Environment, wait_seconds: float) -> None:  # noqa: ARG001 - moto's keyword arguments
        scheduler.sleep(wait_seconds)

    return [
        (ExecutionWorker, "start", start_worker),
        (ExecutionWorker, "stop", stop_worker),
        (Program, "eval", eval_program),
        (WaitFunction, "_wait_interval", wait_interval),
        (retrier_decl, "time", types.SimpleNamespace(sleep=scheduler.sleep)),
        (jitter_strategy_decl, "random", scheduler.random),
    ]


# --- 17. Timestamps from the virtual clock ----------------------------------------------


def _start_at_virtual_time(execution: Execution) -> None:
    # Before the original: it hands the start date to the context object.
    execution.start_date = virtual_time.now()
    _original_execution_start(execution)


def _reflect_status(communication: BaseExecutionWorkerCommunication) -> None:
    _original_reflect_status(communication)
    communication.execution.stop_date = virtual_time.now()


def _unix_time(dt: datetime | None = None) -> float:
    return (dt or virtual_time.now()).replace(tzinfo=UTC).timestamp()


def _unix_time_millis(dt: datetime | None = None) -> float:
    return _unix_time(dt) * 1000.0


def _image_pushed_now(image: Image, *args: Any, **kwargs: Any) -> None:
    _original_image_init(image, *args, **kwargs)
    pushed = virtual_time.now()
    # moto annotates whole seconds (int); its serializer takes a datetime as well.
    image.image_pushed_at = pushed.replace(microsecond=pushed.microsecond // 1000 * 1000)  # type: ignore[assignment]


# --- 18. Step Functions status-change events; EventBridge → Lambda -----------------------


def _terminated_with_event(communication: BaseExecutionWorkerCommunication) -> None:
    _original_terminated(communication)
    execution = communication.execution
    described: dict[str, Any] = dict(execution.to_describe_output())
    _json_timestamps(described)  # startDate and stopDate in epoch milliseconds
    status = described["status"]
    detail = {
        "executionArn": described["executionArn"],
        "stateMachineArn": described["stateMachineArn"],
        "name": described["name"],
        "status": status.value if isinstance(status, Enum) else status,
        "startDate": described["startDate"],
        "stopDate": described.get("stopDate"),
        "input": described.get("input"),
        "inputDetails": {"included": True},
        "output": described.get("output"),
        "outputDetails": {"included": True} if "output" in described else None,
        "error": described.get("error"),
        "cause": described.get("cause"),
    }
    try:
        events_backends[execution.account_id][execution.region_name].put_events(
            [
                {
                    "Source": "aws.states",
                    "DetailType": "Step Functions Execution Status Change",
                    "Detail": json.dumps(detail),
                    "Resources": [described["executionArn"]],
                }
            ]
        )
    except Exception:
        log.exception("could not emit the status change of %s", described["executionArn"])


def _invoke_target(
    target: dict[str, Any], event: dict[str, Any], account: str, region: str
) -> None:
    try:
        lambda_backend(account, region).invoke(
            target["Arn"],
            None,
            json.dumps(_target_input(target, event)),
            {"X-Amz-Invocation-Type": "Event"},
            {},
        )
    except Exception:
        # EventBridge retries and then drops (or dead-letters): the sender never sees it.
        log.exception("EventBridge could not invoke %s", target["Arn"])
