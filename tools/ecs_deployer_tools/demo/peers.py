"""Peers for the benchmark, run against the local cloud as their users run them.

`aws_cli_deploy` is the sequence CI pipelines run with the AWS CLI, and the official GitHub
Action (amazon-ecs-deploy-task-definition) runs with the SDK, for one service: describe the
family's task definition, register it with the new image, UpdateService, then wait with
the SDKs' `ServicesStable` waiter (`aws ecs wait services-stable`). Its verdict is the
waiter's: success once every service shows one deployment with all its tasks running.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import WaiterError

from ecs_deployer.domain.taskdef import registration_input, with_image

if TYPE_CHECKING:
    from collections.abc import Callable

    from mypy_boto3_ecs import ECSClient

# The waiter polls every 15 s, 40 times. Its 15 s pass in the local cloud's virtual time
# (the caller's `advance`), where the simulated rollout moves on.
WAITER_ATTEMPTS = 40
WAITER_DELAY_SECONDS = 15.0
_MAX_ATTEMPTS_EXCEEDED = "Max attempts exceeded"  # botocore's reason, as opposed to a failure


@dataclass(frozen=True)
class PeerRun:
    succeeded: bool  # the tool's own verdict
    calls: Counter[str]  # its ECS calls, by operation


def aws_cli_deploy(
    ecs: ECSClient,
    cluster: str,
    service: str,
    *,
    family: str,
    container: str,
    image: str,
    advance: Callable[[float], None],
) -> PeerRun:
    """Deploy ``image`` into ``container`` of ``service`` as the AWS CLI sequence does;
    ``advance(seconds)`` lets the waiter's delay pass in the local cloud."""
    calls: Counter[str] = Counter()

    def count(model: Any, **_: Any) -> None:
        calls[model.name] += 1

    ecs.meta.events.register("before-call.ecs", count)
    try:
        described = ecs.describe_task_definition(taskDefinition=family)["taskDefinition"]
        wanted = with_image(registration_input(described), [container], image, family)
        registered = ecs.register_task_definition(**wanted)
        arn = registered["taskDefinition"]["taskDefinitionArn"]
        ecs.update_service(cluster=cluster, service=service, taskDefinition=arn)
        waiter = ecs.get_waiter("services_stable")
        for attempt in range(WAITER_ATTEMPTS):
            if attempt:
                advance(WAITER_DELAY_SECONDS)
            try:  # one attempt of the waiter at a time, so its delay is virtual
                waiter.wait(
                    cluster=cluster,
                    services=[service],
                    WaiterConfig={"Delay": 0, "MaxAttempts": 1},
                )
            except WaiterError as error:
                if _MAX_ATTEMPTS_EXCEEDED not in str(error):
                    break  # a failure state (the service is MISSING, DRAINING, INACTIVE)
                continue
            return PeerRun(succeeded=True, calls=calls)
        return PeerRun(succeeded=False, calls=calls)
    finally:
        ecs.meta.events.unregister("before-call.ecs", count)
