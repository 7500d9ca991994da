"""`LocalCloud`: the real template, ASL, handlers and layer, running on moto in this process.

    with LocalCloud("template.yaml", extensions=[EcsSimulation(faults)]) as cloud:
        outputs = cloud.deploy_stack({"ClusterNames": "prod", "RepositoryNames": "shop"})
        cloud.client("ecr").create_repository(repositoryName="shop")
        cloud.push_image("shop", "v1.0.0")              # the rule starts the state machine
        cloud.lambda_faults.inject("CheckServicesFunction", count=1)  # one crash
        arn = cloud.start_execution({"app": "shop", "image_tag": "v1.0.0"})
        for event in cloud.execution_history(arn):     # live, as events happen
            print(event["type"])
        cloud.api_calls                                 # {"ecs.DescribeServices": 3, ...}

moto's state is process-wide, so one `LocalCloud` is active at a time. `start_server()`
serves the same state over HTTP (moto's ThreadedMotoServer) for `aws --endpoint-url` and
any other client; Lambdas keep running in this process.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
import uuid
from contextlib import AbstractContextManager, ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Self

import boto3
from moto import mock_aws
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.stepfunctions.parser.utils import TMP_THREADS
from moto.stepfunctions.responses import get_backend as sfn_backend

from ecs_deployer_tools.localcloud.patches import moto_patches
from ecs_deployer_tools.localcloud.runtime import ApiCallRecorder, LambdaFaults, LambdaRuntime
from ecs_deployer_tools.localcloud.stack import package_and_transform

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping, Sequence
    from types import TracebackType

    from mypy_boto3_stepfunctions.type_defs import HistoryEventTypeDef

ACCOUNT_ID: str = DEFAULT_ACCOUNT_ID
DEFAULT_REGION = "us-east-1"
ARTIFACTS_BUCKET = "ecs-deployer-local-artifacts"
# Step Functions executions are interpreted by moto's ASL parser backend.
_MOTO_CONFIG: Any = {"stepfunctions": {"execute_state_machine": True}}
_CAPABILITIES: Any = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]
_STOP_GRACE_SECONDS = 5.0
# The interpreter logs every error it then handles (a Choice on an absent field, a caught
# task failure): the execution history already says all of it. Werkzeug logs each request.
_QUIET_LOGGERS = ("moto.stepfunctions.parser", "werkzeug")
# The shell's settings that would break the emulator: an endpoint sends in-process calls
# over HTTP, a profile may name credentials that do not exist here.
_HOST_VARIABLES = ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_DEFAULT_PROFILE")


class ScaledClock:
    """Wall-clock time from its creation on, running ``scale`` times faster."""

    def __init__(self, scale: float = 1.0) -> None:
        if scale < 1:
            raise ValueError("time_scale must be at least 1")
        self.scale = scale
        self._start = datetime.now(UTC)
        self._start_monotonic = time.monotonic()

    def now(self) -> datetime:
        elapsed = time.monotonic() - self._start_monotonic
        return self._start + timedelta(seconds=elapsed * self.scale)


class LocalCloud:
    """An emulated AWS account with the stack deployed from the checkout's template."""

    _active: ClassVar[LocalCloud | None] = None
    _active_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(
        self,
        template: Path | str = "template.yaml",
        *,
        stack_name: str = "ecs-deployer",
        region: str = DEFAULT_REGION,
        extensions: Iterable[AbstractContextManager[Any]] = (),
        time_scale: float = 1.0,
    ) -> None:
        """`extensions` are entered once moto is active and left before it stops (the
        ECS simulation, a scenario's own patches...). With `time_scale` above 1, the
        deployer's Lambdas see time pass that much faster (timeouts in minutes take
        seconds); Step Functions' Wait states keep real time."""
        self.template_path = Path(template).resolve()
        self.stack_name = stack_name
        self.region = region
        self.account_id = ACCOUNT_ID
        self.api_recorder = ApiCallRecorder()
        self.lambda_faults = LambdaFaults()
        self.clock = ScaledClock(time_scale)
        self.runtime = LambdaRuntime(self.api_recorder, self.lambda_faults, self.clock)
        self._extensions = list(extensions)
        self._exit_stack: ExitStack | None = None
        self._session: boto3.session.Session | None = None
        self._clients: dict[str, Any] = {}
        self.endpoint_url: str | None = None

    # -- lifecycle ------------------------------------------------------------------------

    def __enter__(self) -> Self:
        with LocalCloud._active_lock:
            if LocalCloud._active is not None:
                raise RuntimeError("a LocalCloud is already active: moto's state is process-wide")
            LocalCloud._active = self
        stack = ExitStack()
        try:
            stack.callback(self._release)
            stack.enter_context(_without_host_variables())
            stack.enter_context(mock_aws(config=_MOTO_CONFIG))
            for name in _QUIET_LOGGERS:
                stack.enter_context(_quiet(name))
            stack.enter_context(moto_patches(self.runtime))
            stack.enter_context(self.api_recorder.install())
            stack.callback(self._stop_executions)
            for extension in self._extensions:
                stack.enter_context(extension)
        except BaseException:
            stack.close()
            raise
        self._exit_stack = stack
        # A session of our own: boto3's default session is not safe across threads.
        self._session = boto3.session.Session(region_name=self.region)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._exit_stack is not None:
            self._exit_stack.close()

    def _release(self) -> None:
        self._exit_stack = None
        self._session = None
        self._clients.clear()
        self.runtime.reset()
        self.endpoint_url = None
        with LocalCloud._active_lock:
            LocalCloud._active = None

    def _stop_executions(self) -> None:
        """Stop running executions before moto goes away under their threads."""
        backend = sfn_backend(self.account_id, self.region)
        now = datetime.now(UTC)
        for state_machine in backend.state_machines:
            for execution in state_machine.executions:
                # The parser backend's executions; env is None until the worker starts.
                worker = getattr(execution, "exec_worker", None)
                if execution.status == "RUNNING" and worker is not None and worker.env:
                    execution.stop(stop_date=now, error=None, cause=None)
        deadline = time.monotonic() + _STOP_GRACE_SECONDS
        for thread in list(TMP_THREADS):
            thread.join(max(0.0, deadline - time.monotonic()))
        TMP_THREADS.clear()

    def start_server(self, port: int = 4566, host: str = "127.0.0.1") -> str:
        """Serve this cloud over HTTP (port 0: any free port); return the endpoint URL."""
        stack = self._require_active()
        server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
        server.start()
        stack.callback(server.stop)
        bound_host, bound_port = server.get_host_and_port()
        self.endpoint_url = f"http://{bound_host}:{bound_port}"
        return self.endpoint_url

    # -- clients --------------------------------------------------------------------------

    def client(self, service_name: str) -> Any:
        """A boto3 client bound to the emulator (in process; clients are thread-safe)."""
        self._require_active()
        if service_name not in self._clients:
            assert self._session is not None
            self._clients[service_name] = self._session.client(service_name)  # type: ignore[call-overload]
        return self._clients[service_name]

    # -- the stack ------------------------------------------------------------------------

    def deploy_stack(self, parameters: Mapping[str, str] | None = None) -> dict[str, str]:
        """Package, transform and create the stack from the template; return its outputs."""
        parameters = dict(parameters or {})
        s3 = self.client("s3")
        if self.region == "us-east-1":
            s3.create_bucket(Bucket=ARTIFACTS_BUCKET)
        else:
            location = {"LocationConstraint": self.region}
            s3.create_bucket(Bucket=ARTIFACTS_BUCKET, CreateBucketConfiguration=location)

        def upload(key: str, content: bytes) -> str:
            s3.put_object(Bucket=ARTIFACTS_BUCKET, Key=key, Body=content)
            return f"s3://{ARTIFACTS_BUCKET}/{key}"

        packaged = package_and_transform(
            self.template_path,
            parameters,
            upload,
            region=self.region,
            account_id=self.account_id,
        )
        cloudformation = self.client("cloudformation")
        cloudformation.create_stack(
            StackName=self.stack_name,
            TemplateBody=json.dumps(packaged.template),
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
            Capabilities=_CAPABILITIES,
        )
        stack = cloudformation.describe_stacks(StackName=self.stack_name)["Stacks"][0]
        if stack["StackStatus"] != "CREATE_COMPLETE":
            reason = stack.get("StackStatusReason", "")
            raise RuntimeError(f"stack {self.stack_name}: {stack['StackStatus']} {reason}")
        resources = self.stack_resources()
        for logical_id, source in packaged.functions.items():
            self.runtime.register(resources[logical_id], source)
        return self.outputs

    @property
    def outputs(self) -> dict[str, str]:
        stack = self.client("cloudformation").describe_stacks(StackName=self.stack_name)
        return {o["OutputKey"]: o["OutputValue"] for o in stack["Stacks"][0].get("Outputs", [])}

    def stack_resources(self, resource_type: str | None = None) -> dict[str, str]:
        """Logical id → physical id of the stack's resources (of one type, if given)."""
        paginator = self.client("cloudformation").get_paginator("list_stack_resources")
        return {
            summary["LogicalResourceId"]: summary["PhysicalResourceId"]
            for page in paginator.paginate(StackName=self.stack_name)
            for summary in page["StackResourceSummaries"]
            if resource_type in (None, summary["ResourceType"])
        }

    def state_machine_arn(self) -> str:
        """The stack's state machine (the template has exactly one)."""
        machines = list(self.stack_resources("AWS::StepFunctions::StateMachine").values())
        if len(machines) != 1:
            raise LookupError(f"expected one state machine in the stack, found {machines}")
        return machines[0]

    # -- ECR ------------------------------------------------------------------------------

    def push_image(
        self, repository: str, tags: str | Sequence[str], manifest: str | None = None
    ) -> str:
        """Push an image like `docker push`: one PutImage per tag, one digest; return it.

        The digest is the sha256 of the manifest, as ECR computes it; without a manifest a
        fresh one (a new image) is made.
        """
        manifest = manifest or image_manifest()
        digest = f"sha256:{hashlib.sha256(manifest.encode()).hexdigest()}"
        ecr = self.client("ecr")
        for tag in [tags] if isinstance(tags, str) else tags:
            ecr.put_image(
                repositoryName=repository,
                imageManifest=manifest,
                imageTag=tag,
                imageDigest=digest,
            )
        return digest

    # -- Step Functions -------------------------------------------------------------------

    def start_execution(
        self,
        execution_input: Mapping[str, Any] | str,
        *,
        name: str | None = None,
        state_machine_arn: str | None = None,
    ) -> str:
        """Start an execution of the stack's state machine; return its ARN."""
        body = execution_input if isinstance(execution_input, str) else json.dumps(execution_input)
        response = self.client("stepfunctions").start_execution(
            stateMachineArn=state_machine_arn or self.state_machine_arn(),
            name=name or str(uuid.uuid4()),
            input=body,
        )
        return str(response["executionArn"])

    def wait_for_execution(self, execution_arn: str, timeout: float = 60.0) -> dict[str, Any]:
        """Wait until the execution leaves RUNNING; return DescribeExecution's answer."""
        sfn = self.client("stepfunctions")
        deadline = time.monotonic() + timeout
        while True:
            described: dict[str, Any] = sfn.describe_execution(executionArn=execution_arn)
            if described["status"] != "RUNNING":
                return described
            if time.monotonic() > deadline:
                raise TimeoutError(f"{execution_arn} still RUNNING after {timeout}s")
            time.sleep(0.02)

    def execution_history(
        self,
        execution_arn: str,
        *,
        follow: bool = True,
        timeout: float | None = None,
        poll_seconds: float = 0.05,
    ) -> Iterator[HistoryEventTypeDef]:
        """The execution's history events, in order; with `follow`, live until it ends."""
        sfn = self.client("stepfunctions")
        deadline = None if timeout is None else time.monotonic() + timeout
        seen = 0
        while True:
            # Status first: once it is final, the history read after it is complete.
            running = sfn.describe_execution(executionArn=execution_arn)["status"] == "RUNNING"
            events = sfn.get_execution_history(executionArn=execution_arn)["events"]
            yield from events[seen:]
            seen = len(events)
            if not (follow and running):
                return
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"{execution_arn} still RUNNING after {timeout}s")
            time.sleep(poll_seconds)

    # -- accounting -----------------------------------------------------------------------

    @property
    def api_calls(self) -> dict[str, int]:
        """AWS API calls made by the stack's Lambdas, as {"ecs.UpdateService": n, ...}."""
        return self.api_recorder.counts()

    def reset_api_calls(self) -> None:
        self.api_recorder.reset()

    def _require_active(self) -> ExitStack:
        if self._exit_stack is None:
            raise RuntimeError("LocalCloud is not active: use it as a context manager")
        return self._exit_stack


@contextmanager
def _without_host_variables() -> Iterator[None]:
    saved = {name: os.environ.pop(name) for name in _HOST_VARIABLES if name in os.environ}
    try:
        yield
    finally:
        os.environ.update(saved)


@contextmanager
def _quiet(logger_name: str) -> Iterator[None]:
    logger = logging.getLogger(logger_name)
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


def image_manifest(seed: str | None = None) -> str:
    """A Docker image manifest (v2); the same ``seed`` gives the same image (digest), no
    seed a new, unique one."""
    layer = hashlib.sha256((seed or uuid.uuid4().hex).encode()).hexdigest()
    config = hashlib.sha256(layer.encode()).hexdigest()
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "size": 1469,
                "digest": f"sha256:{config}",
            },
            "layers": [
                {
                    "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                    "size": 3370706,
                    "digest": f"sha256:{layer}",
                }
            ],
        }
    )
