"""Every patch the local cloud applies to moto 5.2.5, one module per AWS service.

Each patch restores one AWS behaviour that the real template, ASL or handlers depend on and
that moto lacks; each module's docstring lists its patches and why:

* `cloudformation.py`: the template's resources and parameters as AWS creates and shows them;
* `awslambda.py`: Invoke runs the stack's handlers in the in-process runtime;
* `events.py`: rules deliver to state machines and Lambda functions, TestEventPattern,
  event times;
* `ecr.py`: digests, tags, image indexes and replication as ECR has them, the events ECR
  emits, `imagePushedAt` in milliseconds;
* `ssm.py`: the "Parameter Store Change" events Parameter Store emits;
* `stepfunctions.py`: where moto's interpreter diverges from AWS, and the execution status
  change events;
* `stepfunctions_scheduling.py`: executions take turns on virtual time;
* `ecs.py`: ECS as the ECS simulation (`ecs_sim/`) makes it behave. `EcsSimulation`
  installs these while it is installed, not `moto_patches`: a scenario may go without it;
* `codedeploy.py`: CodeDeploy deployments that progress (`codedeploy/`), installed by
  `CodeDeploySimulation` likewise.

All of them go through a `Patcher` (`patcher.py`), which restores moto exactly.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING

from ecs_deployer_tools.localcloud.patches import (
    awslambda,
    cloudformation,
    ecr,
    events,
    ssm,
    stepfunctions,
    stepfunctions_scheduling,
)
from ecs_deployer_tools.localcloud.patches.patcher import Patcher

if TYPE_CHECKING:
    from collections.abc import Iterator

    from ecs_deployer_tools.localcloud.runtime import LambdaRuntime
    from ecs_deployer_tools.localcloud.virtual_time import Scheduler


@contextmanager
def moto_patches(runtime: LambdaRuntime, scheduler: Scheduler) -> Iterator[None]:
    """Install every patch but ECS's for the `with` block; `runtime` serves Lambda Invoke,
    `scheduler` runs the executions on virtual time."""
    with Patcher() as patcher:
        cloudformation.install(patcher)
        awslambda.install(patcher, runtime)
        events.install(patcher)
        ecr.install(patcher)
        ssm.install(patcher)
        stepfunctions.install(patcher)
        stepfunctions_scheduling.install(patcher, scheduler)
        yield
