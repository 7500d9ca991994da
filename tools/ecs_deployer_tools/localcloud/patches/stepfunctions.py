r"""Step Functions: where moto's interpreter (LocalStack's) diverges from AWS, and the events
Step Functions emits. How executions run on virtual time is `stepfunctions_scheduling.py`.

1. Optimized service integrations (`arn:aws:states:::states:startExecution`...) convert
   the state's PascalCase parameters to the API's member names and the API's response
   back to PascalCase (`ExecutionArn`, `StartDate`), from the botocore service model,
   with timestamps as epoch milliseconds: state data is JSON. moto stubs this
   normalisation out, so botocore rejects `StateMachineArn` with a KeyError and the
   task fails with States.Runtime (and a datetime in the output breaks DescribeExecution).
2. A Map iteration that fails with a `States.*` error (States.Runtime, States.Timeout...)
   fails the Map state with that error, catchable by the Map's Catch. moto wraps it in
   a "custom" error name, which rejects the `States.` prefix with a ValueError.
3. Context object timestamps (`$$.Execution.StartTime`, `$$.State.EnteredTime`) are
   strings like "2026-11-22T10:15:30.123Z", as on AWS; moto puts a datetime (which
   breaks DescribeExecution once it lands in state data) and a `+00:00` isoformat.
   Their time is virtual: `EnteredTime` is the virtual clock's, `StartTime` the
   execution's start date (`stepfunctions_scheduling.py`, 4).
4. StartExecution is atomic: of two concurrent starts with one name, one gets
   ExecutionAlreadyExists (or, same input, the same execution). moto checks and adds
   without a lock, so two dispatches of one digest could both start a child. Without
   a name, the execution is named by a UUID (moto names it "None", once). Names are
   drawn, like moto's own ids, from moto's generator, which the cloud seeds.
5. An execution that ends emits "Step Functions Execution Status Change" on the default
   bus (status SUCCEEDED, FAILED, TIMED_OUT or ABORTED; detail as DescribeExecution
   reports it, dates in epoch milliseconds), as Step Functions does ("Step Functions
   events in EventBridge", Step Functions Developer Guide); moto emits nothing. It is
   emitted from the execution's own thread once its status is final, so whatever the
   event starts has run when the execution is seen idle (on AWS delivery is
   asynchronous, best effort). RUNNING is not emitted: nothing here listens to it.
   Rules deliver it to Lambda functions as `events.py` (2) does.

Limits, enforced as AWS enforces them ("Step Functions service quotas" and "Handling errors
in Step Functions workflows", Step Functions Developer Guide; StartExecution in the API
reference):
6. `States.ALL` catches neither `States.DataLimitExceeded` (state data over 256 KiB, a
   terminal error) nor `States.Runtime`: they fail the execution. moto's `States.ALL`
   matches every error, so a Catch hid an oversized result. (moto already raises
   `States.DataLimitExceeded` for a state output over 256 KiB.)
7. An execution's history holds at most 25,000 events; the event that would be the
   25,001st fails the execution instead. AWS documents that the execution fails, not
   with which error: here it is `States.Runtime`, which nothing can catch. moto's
   history grows without bound.
8. StartExecution refuses a name longer than 80 characters or with a character the API
   reference forbids (white space, `<>{}[]?*"#%\^|~`$&,;:/`, control characters) with
   `InvalidName`; moto accepts any name.
9. SendTaskFailure fails the waiting task with its `error` and its `cause` (SendTaskFailure
   in the API reference; a Catch's ResultPath then holds both, "Handling errors in Step
   Functions workflows"); moto's handler drops the cause.

Everything else the deploy ASL uses already matches AWS; `tests/localcloud/
test_asl_support.py` pins it down.
"""

from __future__ import annotations

import functools
import logging
import re
import threading
from datetime import UTC, datetime
from enum import Enum
from typing import TYPE_CHECKING, Any

import botocore.session
from botocore import xform_name
from moto.core.responses import ActionResult, EmptyResult
from moto.moto_api._internal import mock_random
from moto.stepfunctions.exceptions import InvalidName
from moto.stepfunctions.parser.api import HistoryEventType, TaskFailedEventDetails
from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import (
    CustomErrorName,
)
from moto.stepfunctions.parser.asl.component.common.error_name.error_equals_decl import (
    ErrorEqualsDecl,
)
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
    FailureEvent,
    FailureEventException,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import (
    StatesErrorName,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
    StatesErrorNameType,
)
from moto.stepfunctions.parser.asl.component.state import state as state_module
from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration import (
    iteration_worker,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
    state_task_service,
)
from moto.stepfunctions.parser.asl.component.state.state import CommonStateField
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
from moto.stepfunctions.parser.backend import execution_worker
from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication
from moto.stepfunctions.parser.models import StepFunctionsParserBackend
from moto.stepfunctions.responses import StepFunctionResponse

from ecs_deployer_tools.localcloud import virtual_time
from ecs_deployer_tools.localcloud.patches.events import put_event

if TYPE_CHECKING:
    from collections.abc import Callable

    from botocore.model import OperationModel
    from moto.stepfunctions.parser.asl.component.common.error_name.error_name import (
        ErrorName,
    )
    from moto.stepfunctions.parser.asl.eval.environment import Environment

    from ecs_deployer_tools.localcloud.patches.patcher import Patcher

log = logging.getLogger(__name__)


def install(patcher: Patcher) -> None:
    """Apply this module's patches."""
    task_service = state_task_service.StateTaskService
    patcher.replace(task_service, "_normalise_parameters", _normalise_parameters)
    patcher.replace(task_service, "_normalise_response", _normalise_response)
    patcher.replace(iteration_worker, "CustomErrorName", _propagated_error_name)
    patcher.replace(execution_worker, "ExecutionData", _execution_data)
    patcher.replace(state_module, "StateData", _state_data)
    patcher.around(StepFunctionsParserBackend, "start_execution", _start_execution_atomically)
    patcher.around(BaseExecutionWorkerCommunication, "terminated", _terminated_with_event)
    patcher.around(ErrorEqualsDecl, "_eval_body", _error_equals)
    patcher.around(CommonStateField, "_eval_body", _bounded_history)
    patcher.replace(StepFunctionResponse, "send_task_failure", _send_task_failure)


def _send_task_failure(self: StepFunctionResponse) -> ActionResult:
    """9. The failure's error and cause reach the waiting task."""
    backend: StepFunctionsParserBackend = self.stepfunction_backend  # type: ignore[assignment]
    backend.send_task_failure(
        self._get_param("taskToken"), error=self._get_param("error"), cause=self._get_param("cause")
    )
    return EmptyResult()


# --- 1. Service integrations: request/response normalisation ----------------------------


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


# --- 2. Map iterations failing with States.* errors ------------------------------------


def _propagated_error_name(error_name: str | None) -> ErrorName:
    """The iteration's error as the Map state's error: States.* names stay States errors."""
    if error_name is not None and error_name.startswith("States."):
        return StatesErrorName.from_name(error_name)
    return CustomErrorName(error_name)


# --- 3. Context object timestamps -----------------------------------------------------


def _aws_timestamp(value: datetime | str) -> str:
    """ISO 8601 in UTC with milliseconds and a Z, as the context object carries them."""
    when = datetime.fromisoformat(value) if isinstance(value, str) else value
    when = when.astimezone(UTC)
    return f"{when:%Y-%m-%dT%H:%M:%S}.{when.microsecond // 1000:03d}Z"


def _execution_data(**fields: Any) -> dict[str, Any]:
    return {**fields, "StartTime": _aws_timestamp(fields["StartTime"])}


def _state_data(**fields: Any) -> dict[str, Any]:
    return {**fields, "EnteredTime": _aws_timestamp(virtual_time.now())}


# --- 4. Atomic, named StartExecution --------------------------------------------------------

_start_execution_lock = threading.Lock()


def _start_execution_atomically(  # noqa: PLR0917 - moto's positional signature
    original: Callable[..., Any],
    backend: StepFunctionsParserBackend,
    state_machine_arn: str,
    name: str | None = None,
    execution_input: Any = None,
    trace_header: Any = None,
) -> Any:
    if name is not None:
        _check_execution_name(name)
    with _start_execution_lock:
        return original(
            backend,
            state_machine_arn,
            name or str(mock_random.uuid4()),
            execution_input,
            trace_header,
        )


# --- 5. Status-change events -------------------------------------------------------------


def _terminated_with_event(
    original: Callable[[BaseExecutionWorkerCommunication], None],
    communication: BaseExecutionWorkerCommunication,
) -> None:
    original(communication)
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
        put_event(
            execution.account_id,
            execution.region_name,
            source="aws.states",
            detail_type="Step Functions Execution Status Change",
            detail=detail,
            resources=[described["executionArn"]],
        )
    except Exception:
        log.exception("could not emit the status change of %s", described["executionArn"])


# --- 6. What States.ALL cannot catch ---------------------------------------------------------

_UNCATCHABLE = frozenset(
    {StatesErrorNameType.StatesStatesDataLimitExceeded, StatesErrorNameType.StatesRuntime}
)


def _error_equals(
    original: Callable[[ErrorEqualsDecl, Environment], None],
    decl: ErrorEqualsDecl,
    env: Environment,
) -> None:
    error_name = env.stack[-1]
    original(decl, env)
    terminal = isinstance(error_name, StatesErrorName) and error_name.typ in _UNCATCHABLE
    if terminal and error_name not in decl.error_names:
        env.stack[-1] = False


# --- 7. At most 25,000 history events --------------------------------------------------------

MAX_HISTORY_EVENTS = 25_000


def _bounded_history(
    original: Callable[[CommonStateField, Environment], None],
    state: CommonStateField,
    env: Environment,
) -> None:
    """Checked as each state is entered: the execution fails at the first state entered
    once its history holds 25,000 events (a state adds a handful)."""
    recorded = env.event_manager._event_id_gen._next_id - 1
    if recorded >= MAX_HISTORY_EVENTS:
        runtime = StatesErrorNameType.StatesRuntime
        raise FailureEventException(
            failure_event=FailureEvent(
                env=env,
                error_name=StatesErrorName(typ=runtime),
                event_type=HistoryEventType.TaskFailed,
                event_details=EventDetails(  # type: ignore[typeddict-item]  # moto declares it total
                    taskFailedEventDetails=TaskFailedEventDetails(
                        error=runtime.to_name(),
                        cause=f"the execution history reached {MAX_HISTORY_EVENTS} events",
                    )
                ),
            )
        )
    original(state, env)


# --- 8. Execution names ------------------------------------------------------------------------

_FORBIDDEN_IN_NAMES = re.compile(
    r'[\s<>{}\[\]?*"#%\\^|~`$&,;:/\x00-\x1f\x7f-\x9f\ufffe\uffff\ud800-\udfff]'
)


def _check_execution_name(name: str) -> None:
    if not 1 <= len(name) <= 80 or _FORBIDDEN_IN_NAMES.search(name):
        raise InvalidName(f"Invalid Name: '{name}'")
