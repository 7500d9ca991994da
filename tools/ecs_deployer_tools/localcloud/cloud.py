"""`LocalCloud`: the real template, ASL, handlers and layer, running on moto in this process.

    with LocalCloud("template.yaml", extensions=[EcsSimulation(faults)]) as cloud:
        outputs = cloud.deploy_stack(runner.STACK_PARAMETERS)  # ecs_deployer_tools.demo
        cloud.client("ecr").create_repository(repositoryName="shop")
        cloud.push_image("shop", "v1.0.0")              # the rule starts the state machine
        cloud.advance(0.15)                             # it runs until it waits; time passes
        cloud.push_image("shop", "v2.0.0")              # a second push, 0.15 s later
        cloud.lambda_faults.inject("CheckServicesFunction", count=1)  # one crash
        cloud.run_until_idle()                          # everything runs to its end
        arn = cloud.start_execution({"app": "shop", "image_tag": "v1.0.0"})
        for event in cloud.execution_history(arn):     # live, as events happen
            print(event["type"])
        cloud.api_calls                                 # {"ecs.DescribeServices": 3, ...}
        cloud.client_calls                              # the same, of start_server's clients
        cloud.iam.ledger                                # each Lambda call's IAM decision

Time is virtual (`virtual_time.py`): executions run one at a time, only while the caller
drives (`run_until_idle`, `advance`, `wait_for_execution`, `execution_history`), and the
clock jumps from one wake-up to the next, so a scenario interleaves the same way on every
run and a Wait of an hour takes no time.

Every call a stack Lambda makes is authorized against its role as deployed (`iam/`): a call
the role does not allow fails with AccessDeniedException, as on AWS.

moto's state is process-wide, so one `LocalCloud` is active at a time. `start_server()`
serves the same state over HTTP for `aws --endpoint-url` and any other client; Lambdas keep
running in this process, and virtual time then follows the wall clock for clients that
poll in real time.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import uuid
from contextlib import AbstractContextManager, ExitStack, contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Self

import boto3
from moto import mock_aws
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.moto_api._internal import mock_random
from moto.stepfunctions.parser.utils import TMP_THREADS
from moto.stepfunctions.responses import get_backend as sfn_backend

from ecs_deployer_tools.localcloud.iam.guard import IamGuard
from ecs_deployer_tools.localcloud.images import MultiPlatformImage, image_manifest
from ecs_deployer_tools.localcloud.patches import moto_patches
from ecs_deployer_tools.localcloud.patches.events import fire_schedule
from ecs_deployer_tools.localcloud.runtime import (
    HTTP_CLIENTS,
    ApiCallRecorder,
    LambdaFaults,
    LambdaRuntime,
)
from ecs_deployer_tools.localcloud.sam_template import load_template, package_and_transform
from ecs_deployer_tools.localcloud.server import LocalServer
from ecs_deployer_tools.localcloud.virtual_time import (
    DEFAULT_MAX_SECONDS,
    DEFAULT_MAX_TURNS,
    Scheduler,
    StillRunningError,
    VirtualClock,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
    from types import TracebackType

    from mypy_boto3_ecr import ECRClient
    from mypy_boto3_stepfunctions.type_defs import HistoryEventTypeDef

ACCOUNT_ID: str = DEFAULT_ACCOUNT_ID
DEFAULT_REGION = "us-east-1"
ARTIFACTS_BUCKET = "ecs-deployer-local-artifacts"
# The deploy role of an account apps run in, beside the stack's template.
TARGET_ROLE_TEMPLATE = "templates/target-account-role.yaml"
# Another account's forwarding of its events to the deployer's bus, beside the stack's
# template: a central registry's pushes, a target account's ECS events.
ECR_FORWARDING_TEMPLATE = "templates/ecr-forwarding.yaml"
ECS_EVENTS_FORWARDING_TEMPLATE = "templates/ecs-events-forwarding.yaml"
# The deploy roles' grants, whichever account's role used them (`IamGuard.declare_role`).
TARGET_ROLE_LEDGER_KEY = "TargetAccountRole"
# The role the local cloud's own clients act as in another account (never authorized: only
# the stack's functions' calls are).
_ACCOUNT_OPERATOR = "localcloud-operator"
# Step Functions executions are interpreted by moto's ASL parser backend.
_MOTO_CONFIG: Any = {"stepfunctions": {"execute_state_machine": True}}
_CAPABILITIES: Any = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]
# The interpreter logs every error it then handles (a Choice on an absent field, a caught
# task failure): the execution history already says all of it. Werkzeug logs each request.
_QUIET_LOGGERS = ("moto.stepfunctions.parser", "werkzeug")
# The shell's settings that would break the emulator: an endpoint sends in-process calls
# over HTTP, a profile may name credentials that do not exist here.
_HOST_VARIABLES = ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_DEFAULT_PROFILE")


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
        enforce_iam: bool = True,
    ) -> None:
        """`extensions` are entered once moto is active and left before it stops (the
        ECS simulation, a scenario's own patches...). `time_scale` is how much faster than
        the wall clock virtual time runs once `start_server` serves the cloud. Without
        `enforce_iam`, calls IAM refuses still go on (and are still in `iam.ledger`)."""
        if time_scale <= 0:
            raise ValueError("time_scale must be positive")
        self.template_path = Path(template).resolve()
        self.stack_name = stack_name
        self.region = region
        self.account_id = ACCOUNT_ID
        self.time_scale = time_scale
        self.iam = IamGuard(ACCOUNT_ID, enforce=enforce_iam)
        self.api_recorder = ApiCallRecorder(self.iam)
        self.lambda_faults = LambdaFaults()
        self.clock = VirtualClock()
        self.scheduler = Scheduler(self.clock)
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
            # The same ids (event ids, execution names...) on every run: what a test sees
            # does not depend on which run it is.
            mock_random.seed(0)
            for name in _QUIET_LOGGERS:
                stack.enter_context(_quiet(name))
            stack.enter_context(self.scheduler.activate())
            stack.enter_context(moto_patches(self.runtime, self.scheduler))
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
        """Stop running executions (each unwinds at once) before moto goes away."""
        self.scheduler.stand_still()
        backend = sfn_backend(self.account_id, self.region)
        for state_machine in backend.state_machines:
            for execution in state_machine.executions:
                # The parser backend's executions; exec_worker is None until started.
                worker = getattr(execution, "exec_worker", None)
                if worker is not None and execution.status == "RUNNING":
                    execution.stop(stop_date=self.clock.now(), error=None, cause=None)
        self.scheduler.close()
        TMP_THREADS.clear()  # moto's list of its threads: here, Task states run inline

    def start_server(
        self, port: int = 4566, host: str = "127.0.0.1", *, real_time: bool = True
    ) -> str:
        """Serve this cloud over HTTP (port 0: any free port); return the endpoint URL.

        With `real_time`, virtual time follows the wall clock (`time_scale` times faster)
        for clients that poll in real time; either way, POST /_localcloud/time/advance
        and /_localcloud/time/run-until-idle drive it (see `server.py`). Each request is
        counted in `client_calls`.
        """
        stack = self._require_active()
        if real_time:
            self.scheduler.follow_wall_clock(self.time_scale)
            stack.callback(self.scheduler.stand_still)
        server = LocalServer(self.scheduler, self.api_recorder, host, port)
        server.start()
        stack.callback(server.stop)
        self.endpoint_url = server.endpoint_url
        return self.endpoint_url

    # -- virtual time ---------------------------------------------------------------------

    def run_until_idle(
        self,
        *,
        max_seconds: float = DEFAULT_MAX_SECONDS,
        max_turns: int = DEFAULT_MAX_TURNS,
        after_turn: Callable[[], None] | None = None,
    ) -> None:
        """Run every execution to its end, jumping virtual time from wake-up to wake-up.

        ``after_turn`` runs after each turn of an execution (a live view reads history
        there). Raises `StillRunningError` rather than jump more than ``max_seconds`` ahead or
        run more than ``max_turns`` turns.
        """
        self.scheduler.run_until_idle(
            max_seconds=max_seconds, max_turns=max_turns, after_turn=after_turn
        )

    def advance(
        self,
        seconds: float,
        *,
        max_turns: int = DEFAULT_MAX_TURNS,
        after_turn: Callable[[], None] | None = None,
    ) -> None:
        """Let ``seconds`` of virtual time pass, running what is ready or wakes meanwhile."""
        self.scheduler.advance(seconds, max_turns=max_turns, after_turn=after_turn)

    # -- clients --------------------------------------------------------------------------

    def client(self, service_name: str, *, account: str | None = None) -> Any:
        """A boto3 client bound to the emulator (in process; clients are thread-safe); with
        `account`, one acting in that account (an account apps run in)."""
        self._require_active()
        key = service_name if account in (None, self.account_id) else f"{service_name}@{account}"
        if key not in self._clients:
            session = self._session if key == service_name else self._account_session(account)
            assert session is not None
            self._clients[key] = session.client(service_name)  # type: ignore[call-overload]
        return self._clients[key]

    def _account_session(self, account: str | None) -> boto3.session.Session:
        """A session acting in `account`: moto decides the account from the access key, and
        AssumeRole's keys act in the role's account (moto's sts backend)."""
        credentials = self.client("sts").assume_role(
            RoleArn=f"arn:aws:iam::{account}:role/{_ACCOUNT_OPERATOR}",
            RoleSessionName="localcloud",
        )["Credentials"]
        return boto3.session.Session(
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
            region_name=self.region,
        )

    def deploy_target_role(self, account: str, parameters: Mapping[str, str]) -> str:
        """Create the deploy role of an account apps run in, from
        templates/target-account-role.yaml, in `account`; return its ARN. The functions'
        calls through it are authorized against it, and its grants are counted."""
        outputs = self._deploy_beside(TARGET_ROLE_TEMPLATE, account, parameters)
        role_arn = outputs["DeployRoleArn"]
        self.iam.declare_role(account, role_arn, TARGET_ROLE_LEDGER_KEY)
        return role_arn

    def deploy_forwarding(
        self, forwarding_template: str, account: str, parameters: Mapping[str, str]
    ) -> None:
        """Forward `account`'s events to the deployer's bus: `forwarding_template`
        (ECR_FORWARDING_TEMPLATE, ECS_EVENTS_FORWARDING_TEMPLATE) deployed in `account`."""
        self._deploy_beside(forwarding_template, account, parameters)

    def _deploy_beside(
        self, template: str, account: str, parameters: Mapping[str, str]
    ) -> dict[str, str]:
        """Create a stack of `template` (a path beside the stack's template) in `account`,
        named after the stack and the template's stem; return its outputs."""
        body = load_template(self.template_path.parent / template)
        name = f"{self.stack_name}-{Path(template).stem}"
        cloudformation = self.client("cloudformation", account=account)
        cloudformation.create_stack(
            StackName=name,
            TemplateBody=json.dumps(body),
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
            Capabilities=_CAPABILITIES,
        )
        stack = cloudformation.describe_stacks(StackName=name)["Stacks"][0]
        return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}

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
            self.iam.declare(logical_id, resources[logical_id], self.region)
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
        self,
        repository: str,
        tags: str | Sequence[str],
        manifest: str | None = None,
        *,
        region: str | None = None,
        account: str | None = None,
    ) -> str:
        """Push an image like `docker push`: one PutImage per tag, one digest; return it.

        ECR makes the digest (the sha256 of the manifest); without a manifest a fresh one
        (a new image) is made. With `region`, the push goes to that region's registry
        (see `replicate_registry`); with `account`, to that account's (a central registry).
        """
        manifest = manifest or image_manifest()
        ecr = self._ecr(region) if account is None else self.client("ecr", account=account)
        with self.scheduler.exclusive():  # one push, even while serving in real time
            pushed = [
                ecr.put_image(repositoryName=repository, imageManifest=manifest, imageTag=tag)
                for tag in ([tags] if isinstance(tags, str) else tags)
            ]
        return str(pushed[0]["image"]["imageId"]["imageDigest"])

    def push_multiplatform(
        self, repository: str, tags: str | Sequence[str], image: MultiPlatformImage
    ) -> str:
        """Push a multi-platform image (`images.multi_platform_image`) as `docker buildx
        build --push` does: each platform's manifest and attestation manifest by digest,
        untagged (one event each), then the index once per tag; return the index's digest.
        """
        ecr = self._ecr(None)
        with self.scheduler.exclusive():
            for manifest in image.untagged:
                # buildx PUTs a manifest the registry already holds without error (a re-push
                # of the same image); PutImage refuses it.
                with suppress(ecr.exceptions.ImageAlreadyExistsException):
                    ecr.put_image(repositoryName=repository, imageManifest=manifest)
        return self.push_image(repository, tags, image.index)

    def replicate_registry(self, source_region: str, repositories: Sequence[str]) -> None:
        """Replicate `source_region`'s registry into this cloud's region, as ECR's
        PutReplicationConfiguration does, with `repositories` created there: an image pushed
        to one of them from now on (`push_image(..., region=source_region)`) arrives here
        as an "ECR Replication Action" event, and no PUSH event."""
        ecr = self._ecr(source_region)
        for repository in repositories:
            ecr.create_repository(repositoryName=repository)
        ecr.put_replication_configuration(
            replicationConfiguration={
                "rules": [
                    {"destinations": [{"region": self.region, "registryId": self.account_id}]}
                ]
            }
        )

    def _ecr(self, region: str | None) -> ECRClient:
        """ECR in `region` (default: this cloud's)."""
        if region in (None, self.region):
            ecr: ECRClient = self.client("ecr")
            return ecr
        assert self._session is not None
        return self._session.client("ecr", region_name=region)  # not cached: rarely used

    # -- EventBridge ----------------------------------------------------------------------

    def fire_schedule(self, rule_name: str) -> None:
        """One tick of the stack's schedule rule `rule_name` (`patches/events.py`, item 5)."""
        with self.scheduler.exclusive():
            fire_schedule(self.account_id, self.region, rule_name)

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
        machine = state_machine_arn or self.state_machine_arn()
        with self.scheduler.exclusive():
            response = self.client("stepfunctions").start_execution(
                stateMachineArn=machine, name=name or str(uuid.uuid4()), input=body
            )
        return str(response["executionArn"])

    def wait_for_execution(
        self, execution_arn: str, *, max_turns: int = DEFAULT_MAX_TURNS
    ) -> dict[str, Any]:
        """Run executions (this one and whichever else takes a turn) until this one leaves
        RUNNING; return DescribeExecution's answer."""
        self.scheduler.run_until(lambda: not self._running(execution_arn), max_turns=max_turns)
        described: dict[str, Any] = self.client("stepfunctions").describe_execution(
            executionArn=execution_arn
        )
        return described

    def execution_history(
        self, execution_arn: str, *, follow: bool = True, max_turns: int = DEFAULT_MAX_TURNS
    ) -> Iterator[HistoryEventTypeDef]:
        """The execution's history events, in order; with `follow`, live until it ends,
        running one turn of the executions between reads."""
        sfn = self.client("stepfunctions")
        seen = 0
        for _ in range(max_turns + 1):
            # Status first: once it is final, the history read after it is complete.
            running = self._running(execution_arn)
            events = sfn.get_execution_history(executionArn=execution_arn)["events"]
            yield from events[seen:]
            seen = len(events)
            if not (follow and running):
                return
            if not self.scheduler.step():
                raise StillRunningError(f"{execution_arn} is RUNNING, but no execution runs")
        raise StillRunningError(f"{execution_arn} still RUNNING after {max_turns} turns")

    def _running(self, execution_arn: str) -> bool:
        described = self.client("stepfunctions").describe_execution(executionArn=execution_arn)
        return bool(described["status"] == "RUNNING")

    # -- accounting -----------------------------------------------------------------------

    @property
    def api_calls(self) -> dict[str, int]:
        """AWS API calls made by the stack's Lambdas, as {"ecs.UpdateService": n, ...}."""
        return self.api_recorder.counts()

    @property
    def client_calls(self) -> dict[str, int]:
        """AWS API calls of `start_server`'s HTTP clients, one per request, as `api_calls`."""
        return self.api_recorder.counts(HTTP_CLIENTS)

    def reset_api_calls(self) -> None:
        """Forget every call counted so far, the Lambdas' and the HTTP clients'."""
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
