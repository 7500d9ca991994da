"""Peers for the benchmark, run in-process against the local cloud as their users run them,
on its virtual clock: a peer's sleeps between polls let virtual time pass (the local cloud
runs whatever wakes meanwhile), so a poll interval costs no wall-clock time and a run's
``seconds`` are simulated, the same on every machine.

`aws_cli_deploy` is the sequence CI pipelines run with the AWS CLI, and the official GitHub
Action (amazon-ecs-deploy-task-definition) runs with the SDK, for one service: describe the
family's task definition, register it with the new image, UpdateService, then wait with
the SDKs' `ServicesStable` waiter (`aws ecs wait services-stable`). Its verdict is the
waiter's: success once every service shows one deployment with all its tasks running.

`ecs_deploy_cli` is fabfuel's ecs-deploy (`ecs deploy CLUSTER SERVICE --image CONTAINER
IMAGE`, pinned in the dev dependencies), its click command called in this process. It reads
the service's task definition, registers a copy with the new image, updates the service,
then polls once a second until the service has one deployment whose tasks all run
(DescribeServices, then ListTasks and DescribeTasks), or its PRIMARY deployment FAILED, or
its timeout (300 s) passed; then it deregisters the revision it replaced.
"""

from __future__ import annotations

from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime, tzinfo
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, Self
from unittest.mock import patch

from botocore.exceptions import WaiterError

from ecs_deployer.domain.taskdef import registration_input, with_image
from ecs_deployer_tools.localcloud import virtual_time

if TYPE_CHECKING:
    from collections.abc import Callable

    from ecs_deployer_tools.localcloud.cloud import LocalCloud

# The waiter's defaults (botocore's ecs waiters-2.json, ServicesStable): a describe every
# 15 s, 40 times, then it fails.
WAITER_DELAY = 15
WAITER_ATTEMPTS = 40
# ecs-deploy's defaults: `--sleep-time 1`, `--timeout 300`.
ECS_DEPLOY_SLEEP = 1
ECS_DEPLOY_TIMEOUT = 300


@dataclass(frozen=True)
class PeerRun:
    succeeded: bool  # the tool's own verdict
    calls: Counter[str]  # its ECS calls, by operation
    seconds: float  # simulated time from its start to its verdict


def _counter(calls: Counter[str]) -> Callable[..., None]:
    """A botocore event handler (before-call.ecs) counting each ECS call in ``calls``."""

    def count(model: Any, **_: Any) -> None:
        calls[model.name] += 1

    return count


def aws_cli_deploy(
    cloud: LocalCloud, cluster: str, service: str, *, family: str, container: str, image: str
) -> PeerRun:
    """Deploy ``image`` into ``container`` of ``service`` as the AWS CLI sequence does."""
    calls: Counter[str] = Counter()
    ecs = cloud.client("ecs")
    count = _counter(calls)
    started = cloud.clock.now()

    def run(succeeded: bool) -> PeerRun:
        return PeerRun(succeeded, calls, (cloud.clock.now() - started).total_seconds())

    ecs.meta.events.register("before-call.ecs", count)
    try:
        described = ecs.describe_task_definition(taskDefinition=family)["taskDefinition"]
        wanted = with_image(registration_input(described), [container], image, family)
        registered = ecs.register_task_definition(**wanted)
        arn = registered["taskDefinition"]["taskDefinitionArn"]
        ecs.update_service(cluster=cluster, service=service, taskDefinition=arn)
        # The waiter's sleeps (botocore.waiter's only use of `time`) let virtual time pass.
        with patch("botocore.waiter.time", SimpleNamespace(sleep=cloud.advance)):
            try:
                ecs.get_waiter("services_stable").wait(
                    cluster=cluster,
                    services=[service],
                    WaiterConfig={"Delay": WAITER_DELAY, "MaxAttempts": WAITER_ATTEMPTS},
                )
            except WaiterError:
                return run(succeeded=False)
        return run(succeeded=True)
    finally:
        ecs.meta.events.unregister("before-call.ecs", count)


class _VirtualDatetime(datetime):
    """`datetime` whose now() is the local cloud's: ecs-deploy's timeout and the window in
    which it reads service events run on virtual time."""

    @classmethod
    def now(cls, tz: tzinfo | None = None) -> Self:
        return cls.fromtimestamp(virtual_time.now().timestamp(), tz)


def ecs_deploy_cli(
    cloud: LocalCloud, cluster: str, service: str, *, container: str, image: str
) -> PeerRun:
    """`ecs deploy CLUSTER SERVICE --image CONTAINER IMAGE`, as a CI job runs it."""
    # ecs-deploy is a dev dependency (the benchmark's and the tests' alone); click comes with it.
    from click.testing import CliRunner  # noqa: PLC0415
    from ecs_deploy import cli  # noqa: PLC0415
    from ecs_deploy.ecs import EcsClient  # noqa: PLC0415

    calls: Counter[str] = Counter()

    def get_client(*_: Any, **__: Any) -> Any:
        client = EcsClient(region=cloud.region)  # boto3 clients: moto answers in-process
        client.boto.meta.events.register("before-call.ecs", _counter(calls))
        return client

    started = cloud.clock.now()
    with ExitStack() as patches:
        patches.enter_context(patch.object(cli, "get_client", get_client))
        patches.enter_context(patch.object(cli, "sleep", cloud.advance))
        patches.enter_context(patch.object(cli, "datetime", _VirtualDatetime))
        patches.enter_context(patch("ecs_deploy.ecs.datetime", _VirtualDatetime))
        arguments = [cluster, service, "--image", container, image, "--region", cloud.region]
        defaults = ["--sleep-time", str(ECS_DEPLOY_SLEEP), "--timeout", str(ECS_DEPLOY_TIMEOUT)]
        result = CliRunner().invoke(cli.deploy, [*arguments, *defaults])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception  # a crash is no verdict
    seconds = (cloud.clock.now() - started).total_seconds()
    return PeerRun(result.exit_code == 0, calls, seconds)
