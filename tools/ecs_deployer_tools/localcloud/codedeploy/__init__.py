"""A minimal CodeDeploy for the local cloud: ECS blue/green deployments that progress.

moto stores CodeDeploy's applications, deployment groups and deployments but never runs a
deployment. While a `CodeDeploySimulation` is installed, a deployment runs the ECS
lifecycle events on the virtual clock, moves the ECS service's task sets as CodeDeploy
does, fails or hangs as the scenario says, and is rolled back by a rollback deployment.
Where to look:

* `faults.py`: the scenario, `CodeDeployFaults`: which deployment group's deployments fail
  a hook or never end (`GroupFault`), and the pace of lifecycle events;
* `deployments.py`: how a deployment progresses, what it does to the ECS service, how it
  fails, stops and is rolled back;
* `simulation.py`: `CodeDeploySimulation`, which installs the simulation;
* `localcloud/patches/codedeploy.py`: which of moto's CodeDeploy calls are taken over or
  added, and why.

Usage::

    faults = CodeDeployFaults(groups={"web-dg": GroupFault(GroupOutcome.HOOK_FAILS)})
    with LocalCloud(extensions=[EcsSimulation(), CodeDeploySimulation(faults)]) as cloud:
        ...
"""

from ecs_deployer_tools.localcloud.codedeploy.faults import (
    LIFECYCLE_EVENTS,
    CodeDeployFaults,
    GroupFault,
    GroupOutcome,
)
from ecs_deployer_tools.localcloud.codedeploy.simulation import CodeDeploySimulation

__all__ = [
    "LIFECYCLE_EVENTS",
    "CodeDeployFaults",
    "CodeDeploySimulation",
    "GroupFault",
    "GroupOutcome",
]
