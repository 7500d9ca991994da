"""In-process Lambda runtime: runs the real handlers of the stack's functions.

moto cannot run Lambda code without Docker, so every Invoke of a stack function is routed
here (see `patches/awslambda.py`). The runtime behaves like the AWS Python runtime where the
state machine can tell the difference:

* one "execution environment" per function: `app.py` is imported once (cold start) under a
  unique module name, with the function's environment, and re-imported after a crash or a
  configuration change, as Lambda replaces the environment then;
* each invocation sees the function's environment variables in `os.environ` and a context
  object with the attributes of `awslambdaric`'s `LambdaContext`;
* an exception becomes `FunctionError: Unhandled` with the runtime's error payload, so the
  ASL's Retry and Catch see the same `errorType` as on AWS.

Invocations are serialized by one lock: handlers are short and never sleep, and
`os.environ` is process-wide, so two functions' environments must never overlap.

Time is the runtime's clock's (the local cloud's virtual clock): the handlers' own `clock`,
the context's remaining time and the log stream's date.
"""

from __future__ import annotations

import gc
import importlib.util
import io
import itertools
import json
import os
import sys
import threading
import traceback
import uuid
from collections import Counter
from contextlib import contextmanager, nullcontext, redirect_stdout
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol
from unittest.mock import patch

from botocore.client import BaseClient

from ecs_deployer.clock import Clock, SystemClock

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping
    from pathlib import Path
    from types import ModuleType
    from typing import TextIO

# Runtime errors that make Lambda throw the execution environment away.
_ENVIRONMENT_KILLING_PREFIXES = ("Runtime.", "Sandbox.")
_module_generation = itertools.count(1)


@dataclass(frozen=True)
class FunctionSource:
    """Where a stack function's code lives in the checkout (from the template's CodeUri)."""

    logical_id: str
    code_dir: Path
    handler: str


@dataclass(frozen=True)
class FunctionConfig:
    """The parts of a function's (moto) configuration that an invocation depends on."""

    function_name: str
    function_arn: str
    version: str
    memory_size: int
    timeout: int
    region: str
    runtime: str
    log_group_name: str
    environment: Mapping[str, str]


@dataclass(frozen=True)
class InvocationResult:
    payload: bytes
    function_error: str | None = None


class LambdaContext:
    """The context object of the Python runtime (`awslambdaric.lambda_context`).

    `memory_limit_in_mb` is a string, as the runtime reads it from the environment.
    """

    def __init__(
        self,
        config: FunctionConfig,
        request_id: str,
        log_stream_name: str,
        clock: Clock,
        deadline: float,
    ) -> None:
        self.function_name = config.function_name
        self.function_version = config.version
        self.invoked_function_arn = config.function_arn
        self.memory_limit_in_mb = str(config.memory_size)
        self.aws_request_id = request_id
        self.log_group_name = config.log_group_name
        self.log_stream_name = log_stream_name
        self.identity = None
        self.client_context = None
        self._clock = clock
        self._deadline = deadline

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - self._clock.now().timestamp()) * 1000))


@dataclass
class _Fault:
    error_type: str
    error_message: str | None
    remaining: int
    after_handler: bool
    spared: int = 0  # invocations still to run normally before this fault starts


class LambdaFaults:
    """Fault injection: "the next N invocations of function <logical id> fail"."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: dict[str, list[_Fault]] = {}

    def inject(
        self,
        logical_id: str,
        *,
        count: int = 1,
        error_type: str = "Runtime.ExitError",
        error_message: str | None = None,
        after_handler: bool = False,
        after: int = 0,
    ) -> None:
        """Fail the next `count` invocations of `logical_id` with `error_type`.

        `after_handler=True` runs the handler first and fails afterwards (a crash after the
        side effects, before the response), for idempotency scenarios. A `Runtime.*` or
        `Sandbox.*` error also discards the execution environment (next call cold-starts).
        `after` lets that many invocations run normally first (to hit a later step that
        shares the function, such as the second lock checkpoint).
        """
        if count < 1 or after < 0:
            raise ValueError("count must be at least 1 and after at least 0")
        with self._lock:
            self._faults.setdefault(logical_id, []).append(
                _Fault(error_type, error_message, count, after_handler, after)
            )

    def pending(self, logical_id: str) -> int:
        """How many injected failures of `logical_id` are still to happen."""
        with self._lock:
            return sum(f.remaining for f in self._faults.get(logical_id, []))

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def take(self, logical_id: str) -> _Fault | None:
        with self._lock:
            queue = self._faults.get(logical_id)
            if not queue:
                return None
            fault = queue[0]
            if fault.spared:
                fault.spared -= 1
                return None
            fault.remaining -= 1
            if fault.remaining == 0:
                queue.pop(0)
            return fault


class FunctionOutput(io.StringIO):
    """What the functions print (`LambdaRuntime.output`), line by line: a metric (an EMF
    line, a JSON object whose first key is `_aws`, which CloudWatch Logs turns into a metric)
    is kept in `metrics`; a log line goes on to `logs`, or nowhere when None. Never closed:
    loggers may hold it."""

    def __init__(self, logs: TextIO | None = None) -> None:
        super().__init__()
        self.metrics: list[dict[str, Any]] = []
        self._logs = logs
        self._line = ""

    def write(self, text: str) -> int:
        self._line += text  # print() writes its text and its newline apart
        *lines, self._line = self._line.split("\n")
        for line in lines:
            if line.startswith('{"_aws"'):
                self.metrics.append(json.loads(line))
            elif self._logs is not None:
                self._logs.write(line + "\n")
        if self._logs is not None:
            self._logs.flush()
        return len(text)


# The caller of the calls that reach the local cloud's HTTP server. Not a logical id, which
# is alphanumeric: it never names a function.
HTTP_CLIENTS = "http-clients"


@dataclass(frozen=True)
class Caller:
    """The stack function whose code is running: its logical id and its (physical) name."""

    logical_id: str
    function_name: str


class CallAuthorizer(Protocol):
    """Decides, as IAM would, whether a Lambda's call may go on (`iam/guard.py`)."""

    def authorize(self, caller: Caller, client: BaseClient, operation: str, params: Any) -> None:
        """Return to let the call go on; raise the service's error to refuse it."""

    def runtime_writes(self, caller: Caller, config: FunctionConfig, log_stream: str) -> None:
        """The Lambda service's own writes (logs, traces) for one invocation."""


class ApiCallRecorder:
    """Counts AWS API calls per caller, as `{"ecs.UpdateService": n}`: each of the deployer's
    Lambdas (by logical id), and the HTTP clients of the local cloud (`HTTP_CLIENTS`).

    A Lambda's calls are counted on the client side: botocore's `BaseClient._make_api_call`
    is wrapped while `install()` is active, and a call counts only when its thread is inside
    an in-process Lambda invocation, so seeding, the tests and the Step Functions
    interpreter's own Invoke calls are not counted. Each call of a client method counts
    once, whatever botocore's retries did inside it; each page of a paginator is a call.
    HTTP clients' calls are counted on the server side (`server.py`), one per request, so a
    client's retries count too. The service name is the boto3 client name, as in
    `boto3.client("stepfunctions")`.

    With an `authorizer`, each Lambda call is counted and then authorized: a refused call
    raises its error before it reaches moto, as AWS refuses it before acting.
    """

    def __init__(self, authorizer: CallAuthorizer | None = None) -> None:
        self._lock = threading.Lock()
        self._calls: list[tuple[str, str]] = []
        self._local = threading.local()
        self.authorizer = authorizer

    @contextmanager
    def install(self) -> Iterator[None]:
        original = BaseClient._make_api_call  # type: ignore[attr-defined]  # private, unstubbed
        recorder = self

        def _make_api_call(client: BaseClient, operation_name: str, api_params: Any) -> Any:
            caller = recorder.current_caller()
            if caller is not None:
                service = client.meta.service_model.service_name
                recorder.record(caller.logical_id, f"{service}.{operation_name}")
                if recorder.authorizer is not None:
                    recorder.authorizer.authorize(caller, client, operation_name, api_params)
            return original(client, operation_name, api_params)

        with patch.object(BaseClient, "_make_api_call", _make_api_call):
            yield

    @contextmanager
    def inside(self, caller: Caller) -> Iterator[None]:
        """Mark this thread as running `caller`'s code (nests for nested invocations)."""
        stack: list[Caller] = self._local.__dict__.setdefault("stack", [])
        stack.append(caller)
        try:
            yield
        finally:
            stack.pop()

    def current_caller(self) -> Caller | None:
        stack: list[Caller] = self._local.__dict__.get("stack", [])
        return stack[-1] if stack else None

    def invoked(self, caller: Caller, config: FunctionConfig, log_stream: str) -> None:
        """An invocation starts: the Lambda service writes its logs (and traces)."""
        if self.authorizer is not None:
            self.authorizer.runtime_writes(caller, config, log_stream)

    def record(self, caller: str, call: str) -> None:
        """Count one call, `"service.Operation"`, of `caller`."""
        with self._lock:
            self._calls.append((caller, call))

    def counts(self, caller: str | None = None) -> dict[str, int]:
        """Calls per `service.Operation`, of every Lambda or of one caller (a Lambda's
        logical id or `HTTP_CLIENTS`)."""
        with self._lock:
            return dict(
                Counter(
                    call
                    for who, call in self._calls
                    if who == caller or (caller is None and who != HTTP_CLIENTS)
                )
            )

    def reset(self) -> None:
        with self._lock:
            self._calls.clear()


@dataclass
class _Environment:
    """One warm execution environment: the imported handler module and its config."""

    module: ModuleType
    module_name: str
    environment: dict[str, str]


class LambdaRuntime:
    """Routes invocations of registered functions to their handlers, in this process."""

    def __init__(
        self, recorder: ApiCallRecorder, faults: LambdaFaults, clock: Clock | None = None
    ) -> None:
        """``clock`` (by default the wall clock) replaces each handler module's ``clock`` at
        cold start (see ecs_deployer.clock): the local cloud's time is virtual."""
        self._recorder = recorder
        self._faults = faults
        self._clock: Clock = clock or SystemClock()
        self._lock = threading.RLock()
        self._sources: dict[str, FunctionSource] = {}
        self._warm: dict[str, _Environment] = {}
        self.cold_starts: Counter[str] = Counter()
        # Where the functions print (their log streams, in AWS: JSON logs and EMF metrics);
        # None: this process's stdout. Invocations run one at a time (the lock), so the
        # redirection holds for exactly one function's init and handler.
        self.output: TextIO | None = None

    def register(self, function_name: str, source: FunctionSource) -> None:
        with self._lock:
            self._sources[function_name] = source

    def handles(self, function_name: str) -> bool:
        return function_name in self._sources

    def reset(self) -> None:
        """Forget every function and warm environment."""
        with self._lock:
            for function_name in list(self._warm):
                self._discard(function_name)
            self._sources.clear()

    def invoke(self, config: FunctionConfig, payload: str | bytes | None) -> InvocationResult:
        source = self._sources[config.function_name]
        request_id = str(uuid.uuid4())
        caller = Caller(source.logical_id, config.function_name)
        with self._lock, self._recorder.inside(caller):
            fault = self._faults.take(source.logical_id)
            if fault is not None and not fault.after_handler:
                return self._fail(config, fault, request_id)
            result = self._run(caller, config, source, payload, request_id)
            if fault is not None:
                return self._fail(config, fault, request_id)
            return result

    def _run(
        self,
        caller: Caller,
        config: FunctionConfig,
        source: FunctionSource,
        payload: str | bytes | None,
        request_id: str,
    ) -> InvocationResult:
        now = self._clock.now()
        log_stream = f"{now:%Y/%m/%d}/[{config.version}]{uuid.uuid4().hex}"
        self._recorder.invoked(caller, config, log_stream)
        environment = _lambda_environment(config, source, log_stream)
        printing = redirect_stdout(self.output) if self.output is not None else nullcontext()
        with _environ(environment), printing:
            try:
                handler = self._handler(config, source, environment)
            except _InitError as error:
                return _error_result(error.error_type, str(error), request_id)
            except Exception as error:  # any init failure is the function's error
                return _exception_result(error, request_id)
            deadline = now.timestamp() + config.timeout
            context = LambdaContext(config, request_id, log_stream, self._clock, deadline)
            try:
                event = json.loads(payload or b"{}")
                response = handler(event, context)
            except Exception as error:  # the runtime reports every exception
                return _exception_result(error, request_id)
        try:
            return InvocationResult(json.dumps(response, default=_decimal_serializer).encode())
        except (TypeError, ValueError) as error:
            return _error_result("Runtime.MarshalError", f"Unable to marshal response: {error}")

    def _handler(
        self, config: FunctionConfig, source: FunctionSource, environment: dict[str, str]
    ) -> Any:
        warm = self._warm.get(config.function_name)
        if warm is not None and warm.environment != _without_per_call(environment):
            self._discard(config.function_name)  # a configuration change replaces environments
            warm = None
        if warm is None:
            warm = self._cold_start(config, source, environment)
        module_attr = source.handler.rsplit(".", 1)[-1]
        handler = getattr(warm.module, module_attr, None)
        if handler is None:
            module_path = source.handler.rsplit(".", 1)[0]
            raise _InitError(
                "Runtime.HandlerNotFound",
                f"Handler '{module_attr}' missing on module '{module_path}'",
            )
        return handler

    def _cold_start(
        self, config: FunctionConfig, source: FunctionSource, environment: dict[str, str]
    ) -> _Environment:
        module_path, _, _ = source.handler.rpartition(".")
        file = source.code_dir.joinpath(*module_path.split(".")).with_suffix(".py")
        module_name = f"_localcloud_{source.logical_id}_{next(_module_generation)}"
        spec = importlib.util.spec_from_file_location(module_name, file)
        if spec is None or spec.loader is None or not file.is_file():
            raise _InitError(
                "Runtime.ImportModuleError",
                f"Unable to import module '{module_path}': No module named '{module_path}'",
            )
        module = importlib.util.module_from_spec(spec)
        # Registered before running: dataclasses and msgspec resolve names via sys.modules.
        sys.modules[module_name] = module
        collecting = gc.isenabled()
        try:
            spec.loader.exec_module(module)
        except ImportError as error:
            del sys.modules[module_name]
            message = f"Unable to import module '{module_path}': {error}"
            raise _InitError("Runtime.ImportModuleError", message) from error
        except BaseException:
            del sys.modules[module_name]
            raise
        finally:
            # A handler pauses the collector for its init and freezes what the init made (a
            # sandbox holds one handler, and Lambda discards it if its init fails); this
            # process holds many and goes on: neither may outlive the init here.
            gc.unfreeze()
            if collecting:
                gc.enable()
        if hasattr(module, "clock"):
            setattr(module, "clock", self._clock)  # noqa: B010  (module attribute, set by name)
        warm = _Environment(module, module_name, _without_per_call(environment))
        self._warm[config.function_name] = warm
        self.cold_starts[source.logical_id] += 1
        return warm

    def _discard(self, function_name: str) -> None:
        warm = self._warm.pop(function_name, None)
        if warm is not None:
            sys.modules.pop(warm.module_name, None)

    def _fail(self, config: FunctionConfig, fault: _Fault, request_id: str) -> InvocationResult:
        if fault.error_type.startswith(_ENVIRONMENT_KILLING_PREFIXES):
            self._discard(config.function_name)
            message = fault.error_message or (
                f"RequestId: {request_id} Error: Runtime exited with error: exit status 1"
            )
            return _error_result(fault.error_type, message)
        message = fault.error_message or f"Injected fault: {fault.error_type}"
        return _error_result(fault.error_type, message, request_id)


class _InitError(Exception):
    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type


_PER_CALL_VARIABLES = ("AWS_LAMBDA_LOG_STREAM_NAME",)


def _without_per_call(environment: Mapping[str, str]) -> dict[str, str]:
    """The environment that identifies an execution environment (log stream varies)."""
    return {k: v for k, v in environment.items() if k not in _PER_CALL_VARIABLES}


def _lambda_environment(
    config: FunctionConfig, source: FunctionSource, log_stream: str
) -> dict[str, str]:
    """The variables the Lambda service sets, then the function's own."""
    return {
        "AWS_REGION": config.region,
        "AWS_DEFAULT_REGION": config.region,
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{config.runtime}",
        "AWS_LAMBDA_FUNCTION_NAME": config.function_name,
        "AWS_LAMBDA_FUNCTION_VERSION": config.version,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(config.memory_size),
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_LAMBDA_LOG_GROUP_NAME": config.log_group_name,
        "AWS_LAMBDA_LOG_STREAM_NAME": log_stream,
        "LAMBDA_TASK_ROOT": str(source.code_dir),
        "_HANDLER": source.handler,
        # No X-Ray here: the Tracer would trace into the void, and patch the botocore of the
        # emulator's own process.
        "POWERTOOLS_TRACE_DISABLED": "true",
        **config.environment,
    }


@contextmanager
def _environ(overlay: Mapping[str, str]) -> Iterator[None]:
    """`os.environ` plus `overlay`, restored afterwards.

    Restored key by key (never cleared): other threads read `os.environ` meanwhile.
    """
    saved = dict(os.environ)
    os.environ.update(overlay)
    try:
        yield
    finally:
        for name in [name for name in os.environ if name not in saved]:
            del os.environ[name]
        for name, value in saved.items():
            if os.environ.get(name) != value:
                os.environ[name] = value


def _decimal_serializer(value: object) -> float:
    # The Python runtime's JSON encoder turns Decimal (DynamoDB numbers) into floats.
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"{value!r} is not JSON serializable")


def _exception_result(error: Exception, request_id: str) -> InvocationResult:
    # Frames of the function's code only, as the runtime strips its own.
    frames = [
        frame
        for frame in traceback.extract_tb(error.__traceback__)
        if frame.filename != __file__ and not frame.filename.startswith("<frozen")
    ]
    return _error_result(
        type(error).__name__, str(error), request_id, traceback.format_list(frames)
    )


def _error_result(
    error_type: str,
    message: str,
    request_id: str | None = None,
    stack_trace: list[str] | None = None,
) -> InvocationResult:
    """The Python runtime's error payload; runtime crashes carry no requestId/stackTrace."""
    body: dict[str, Any] = {"errorMessage": message, "errorType": error_type}
    if request_id is not None:
        body["requestId"] = request_id
        body["stackTrace"] = stack_trace or []
    return InvocationResult(json.dumps(body).encode(), function_error="Unhandled")
