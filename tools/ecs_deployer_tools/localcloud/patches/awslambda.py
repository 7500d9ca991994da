"""Lambda: the stack's functions run in the in-process runtime (`runtime.py`), not Docker.

1. `Invoke` of a function registered with the in-process runtime runs its real handler
   (moto would start a Docker container) and returns `X-Amz-Function-Error: Unhandled`
   with the runtime's error payload when it fails.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from moto.awslambda.models import LambdaBackend, LambdaFunction

from ecs_deployer_tools.localcloud.runtime import FunctionConfig

if TYPE_CHECKING:
    from collections.abc import Callable

    from ecs_deployer_tools.localcloud.patches.patcher import Patcher
    from ecs_deployer_tools.localcloud.runtime import LambdaRuntime


def install(patcher: Patcher, runtime: LambdaRuntime) -> None:
    """Apply this module's patches; `runtime` serves Invoke."""
    patcher.around(LambdaBackend, "invoke", functools.partial(_invoke, runtime))


def _invoke(  # noqa: PLR0917 - moto's positional signature
    runtime: LambdaRuntime,
    original: Callable[..., str | bytes | None],
    backend: LambdaBackend,
    function_name: str,
    qualifier: str | None,
    body: Any,
    headers: Any,
    response_headers: dict[str, str],
) -> str | bytes | None:
    function = backend.get_function(function_name, qualifier)
    if not runtime.handles(function.function_name):
        return original(backend, function_name, qualifier, body, headers, response_headers)
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
