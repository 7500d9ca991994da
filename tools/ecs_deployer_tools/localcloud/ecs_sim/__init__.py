"""ECS simulation for the local cloud: deployments and tasks that progress like on AWS.

moto's ECS never progresses a deployment nor stops a task. While an `EcsSimulation` is
installed, code calling the real boto3 ECS API, in-process under `moto.mock_aws()` or
through moto's server in the same process, sees ECS behave as on AWS. Where to look:

* `faults.py`: the scenario, `EcsFaults`: what goes wrong for which service (`RolloutFault`)
  and which task family (`TaskFault`), and how often ECS throttles;
* `rollouts.py`: how a service rollout progresses with the clock, to COMPLETED, FAILED, a
  circuit breaker rollback or a deleted service;
* `service_deployments.py`: the service deployment each rollout is, with the statuses
  ListServiceDeployments, DescribeServiceDeployments and StopServiceDeployment show;
* `strategies.py`: the lifecycle stages of a BLUE_GREEN, LINEAR or CANARY deployment, its
  bake times and lifecycle hooks (PAUSE ones answered by ContinueServiceDeployment);
* `tasks.py`: how a task starts, runs and exits (or fails to start) with the clock, and
  StopTask; a stopped task is forgotten after an hour;
* `consistency.py`: eventual consistency: the describes right after a change that do not
  show it yet;
* `simulation.py`: `EcsSimulation`, which installs the simulation (one at a time, every call
  under one lock, on an ECS brought to the clock's time), throttles, and reads the state
  for assertions;
* `ids.py`: the ids the simulation makes (seeded, so runs repeat) and reads from ARNs;
* `localcloud/patches/ecs.py`: which of moto's ECS calls the simulation takes over, and why.

Usage::

    faults = EcsFaults(
        services={"web": RolloutFault(RolloutOutcome.AUTO_ROLLBACK)},
        tasks={"migrate": TaskFault(TaskOutcome.EXIT, exit_code=1)},
        throttle_rate=0.1,
    )
    with mock_aws(), EcsSimulation(faults) as sim:
        ...  # drive the deployer
        assert sim.primary_task_definition("web", cluster="prod").endswith(":1")
"""

from ecs_deployer_tools.localcloud.ecs_sim.faults import (
    EcsFaults,
    RolloutFault,
    RolloutOutcome,
    TaskFault,
    TaskOutcome,
)
from ecs_deployer_tools.localcloud.ecs_sim.simulation import EcsSimulation
from ecs_deployer_tools.localcloud.ecs_sim.strategies import HookFault, HookOutcome

__all__ = [
    "EcsFaults",
    "EcsSimulation",
    "HookFault",
    "HookOutcome",
    "RolloutFault",
    "RolloutOutcome",
    "TaskFault",
    "TaskOutcome",
]
