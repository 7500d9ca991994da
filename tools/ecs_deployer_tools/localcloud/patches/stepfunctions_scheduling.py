"""Step Functions executions take turns on virtual time (the clock and scheduler are
`virtual_time.py`'s).

moto runs executions in free threads and waits in real time, so which of two executions
reaches a Lambda first was up to the OS scheduler. On AWS nothing orders them either;
here the test does.

1. Each execution is one thread that runs only at its turn (`Scheduler.spawn`). moto
   adds a thread for the program (joined with the machine's TimeoutSeconds in real
   time), per Task state, per Map iteration and per Parallel branch, each waited for at
   once: here they run inline in the execution's thread (Map iterations and Parallel
   branches one after the other), and TimeoutSeconds counts virtual time.
2. Wait states (Seconds, SecondsPath, Timestamp, TimestampPath) and Retry intervals park
   the execution in virtual time; Retry jitter draws from the scheduler's seeded
   generator. moto waits in real time, and a Retry interval ignores StopExecution.
3. StopExecution (and the cloud shutting down) wakes a parked execution at once; a
   driver's StopExecution lets it unwind before returning. Stopping an execution that
   has not run yet aborts it; moto raises an AttributeError (it has no environment yet).
4. Timestamps come from the virtual clock: execution start and stop dates (so
   `$$.Execution.StartTime`) and history events. The other virtual timestamps:
   `$$.State.EnteredTime` (`stepfunctions.py`, 3), EventBridge event times (`events.py`,
   4), ECR's `imagePushedAt` (`ecr.py`, 2).
5. A `.waitForTaskToken` Task parks its execution in virtual time until SendTaskSuccess
   or SendTaskFailure (whoever calls it: a Lambda, a driver, a timer's event) wakes it, or
   its TimeoutSeconds pass (States.Timeout), or StopExecution aborts it (no timeout then,
   as on AWS); moto waits on a thread event in real time.
   A token whose task is closed (timed out, or already sent) answers TaskTimedOut, as on
   AWS ("The task token has either expired or the task associated with the token has
   already been closed", SendTaskSuccess's API reference); moto answers InvalidToken once
   the execution has ended.
"""

from __future__ import annotations

import types
from datetime import UTC, timedelta
from typing import TYPE_CHECKING, Any

from moto.stepfunctions.parser.api import InvalidToken, TaskTimedOut
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
    FailureEventException,
)
from moto.stepfunctions.parser.asl.component.common.retry import (
    jitter_strategy_decl,
    retrier_decl,
)
from moto.stepfunctions.parser.asl.component.eval_component import EvalComponent
from moto.stepfunctions.parser.asl.component.program.program import Program
from moto.stepfunctions.parser.asl.component.state.exec import execute_state
from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.inline_iteration_component import (  # noqa: E501
    InlineIterationComponent,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_parallel.branch_worker import (
    BranchWorker,
)
from moto.stepfunctions.parser.asl.component.state.wait.wait_function.timestamp import (
    Timestamp,
)
from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import (
    WaitFunction,
)
from moto.stepfunctions.parser.asl.eval.callback.callback import (
    CallbackEndpoint,
    CallbackOutcomeSuccess,
)
from moto.stepfunctions.parser.asl.eval.event.event_manager import EventManager
from moto.stepfunctions.parser.backend.execution import (
    BaseExecutionWorkerCommunication,
    Execution,
)
from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker
from moto.stepfunctions.parser.models import StepFunctionsParserBackend

from ecs_deployer_tools.localcloud import virtual_time

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

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

    from ecs_deployer_tools.localcloud.patches.patcher import Patcher
    from ecs_deployer_tools.localcloud.virtual_time import Scheduler


def install(patcher: Patcher, scheduler: Scheduler) -> None:
    """Apply this module's patches; `scheduler` runs the executions."""
    # 1. Inline threads.
    patcher.replace(execute_state, "Thread", _Inline)
    patcher.replace(InlineIterationComponent, "_launch_worker", _launch_iteration_inline)
    patcher.replace(BranchWorker, "start", _start_branch_inline)
    # 1.-3. Executions as the scheduler's fibers.
    _schedule(patcher, scheduler)
    # 2. Waits until a timestamp.
    patcher.replace(Timestamp, "_get_wait_seconds", _seconds_until_timestamp)
    # 4. Timestamps.
    patcher.around(Execution, "start", _start_at_virtual_time)
    patcher.around(BaseExecutionWorkerCommunication, "_reflect_execution_status", _reflect_status)
    patcher.replace(EventManager, "_get_current_timestamp", staticmethod(virtual_time.now))


# --- 1. Threads run inline -----------------------------------------------------------------


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


# --- 1.-3. Executions take turns; waits and stops on virtual time --------------------------


def _schedule(patcher: Patcher, scheduler: Scheduler) -> None:
    """Run executions as the scheduler's fibers, their waits parked in virtual time."""
    # StopExecution's arguments for executions stopped before their first turn.
    stopped_early: dict[object, tuple[Any, Any, Any]] = {}

    def start_worker(worker: ExecutionWorker) -> None:
        name = worker._evaluation_details.execution_details.name
        scheduler.spawn(worker, name, worker._execution_logic)

    def stop_worker(
        original: Callable[[ExecutionWorker, datetime, str | None, str | None], None],
        worker: ExecutionWorker,
        stop_date: datetime,
        error: str | None,
        cause: str | None,
    ) -> None:
        if worker.env is None:
            stopped_early[worker] = (stop_date, cause, error)
        else:
            original(worker, stop_date, error, cause)
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

    patcher.replace(ExecutionWorker, "start", start_worker)
    patcher.around(ExecutionWorker, "stop", stop_worker)
    patcher.replace(Program, "eval", eval_program)
    patcher.replace(WaitFunction, "_wait_interval", wait_interval)
    patcher.replace(retrier_decl, "time", types.SimpleNamespace(sleep=scheduler.sleep))
    patcher.replace(jitter_strategy_decl, "random", scheduler.random)
    _park_callbacks(patcher, scheduler)


# A wait for a task token without TimeoutSeconds lasts as long as its execution may: a year.
# TaskTimedOut's description in SendTaskSuccess's API reference.
_TASK_CLOSED_MESSAGE = (
    "The task token has either expired or the task associated with the token has already "
    "been closed."
)
_LONGEST_CALLBACK_SECONDS = 365 * 86_400.0


def _park_callbacks(patcher: Patcher, scheduler: Scheduler) -> None:
    """5. Waits for a task token park in virtual time; a notification wakes them."""
    callbacks = _Callbacks(scheduler)
    patcher.around(CallbackEndpoint, "wait", callbacks.wait)
    patcher.around(CallbackEndpoint, "notify", callbacks.notified)
    for action in ("send_task_success", "send_task_failure", "send_task_heartbeat"):
        patcher.around(StepFunctionsParserBackend, action, callbacks.answered)


class _Callbacks:
    """The executions waiting for a task token, and the tokens whose wait ended."""

    def __init__(self, scheduler: Scheduler) -> None:
        self._scheduler = scheduler
        self._waiting: dict[CallbackEndpoint, object] = {}  # -> the parked execution's key
        self._closed: set[str] = set()

    def wait(
        self,
        original: Callable[[CallbackEndpoint, float | None], Any],
        endpoint: CallbackEndpoint,
        timeout: float | None = None,
    ) -> Any:
        scheduler = self._scheduler
        key = scheduler.current_key()
        if key is None:  # not an execution's wait
            return original(endpoint, timeout)
        seconds = _LONGEST_CALLBACK_SECONDS if timeout is None else timeout
        deadline = virtual_time.now() + timedelta(seconds=seconds)
        self._waiting[endpoint] = key
        try:
            while endpoint.get_outcome() is None and not scheduler.halted():
                remaining = (deadline - virtual_time.now()).total_seconds()
                if remaining <= 0:
                    break
                scheduler.sleep(remaining)
        finally:
            self._waiting.pop(endpoint, None)
            self._closed.add(endpoint.callback_id)
        if endpoint.get_outcome() is None and scheduler.halted():
            # Stopped: the execution aborts here. moto would take the missing outcome for a
            # timeout (States.Timeout, which a Catch routes on); on AWS a stopped
            # execution's history ends ExecutionAborted, no task failure before it.
            return CallbackOutcomeSuccess(endpoint.callback_id, "null")
        return endpoint.get_outcome()

    def notified(
        self, original: Callable[..., None], endpoint: CallbackEndpoint, *args: Any, **kwargs: Any
    ) -> None:
        original(endpoint, *args, **kwargs)
        key = self._waiting.get(endpoint)
        if key is not None:
            self._scheduler.wake(key)

    def answered(
        self, original: Callable[..., Any], backend: Any, task_token: str, *args: Any, **kwargs: Any
    ) -> Any:
        try:
            return original(backend, task_token, *args, **kwargs)
        except InvalidToken:
            if task_token in self._closed:
                # moto's class names no type: its own `raise TaskTimedOut()` fails.
                raise TaskTimedOut(_TASK_CLOSED_MESSAGE, "TaskTimedOut") from None
            raise


def _seconds_until_timestamp(wait: Timestamp, env: Environment) -> float:
    wait.string.eval(env=env)
    text: str = env.stack.pop()
    when = wait._from_timestamp_string(timestamp=text)
    if when is None:
        raise FailureEventException(wait._create_failure_event(env, text))
    return (when.replace(tzinfo=UTC) - virtual_time.now()).total_seconds()


# --- 4. Timestamps from the virtual clock ----------------------------------------------


def _start_at_virtual_time(original: Callable[[Execution], None], execution: Execution) -> None:
    # Before the original: it hands the start date to the context object.
    execution.start_date = virtual_time.now()
    original(execution)


def _reflect_status(
    original: Callable[[BaseExecutionWorkerCommunication], None],
    communication: BaseExecutionWorkerCommunication,
) -> None:
    original(communication)
    communication.execution.stop_date = virtual_time.now()
