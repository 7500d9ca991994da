"""`CodeDeploySimulation`: the simulated CodeDeploy installed into moto, one at a time.

Installing applies `localcloud/patches/codedeploy.py`, which makes moto's CodeDeploy
deployments progress (`deployments.py`) under one lock, as the scenario's faults say.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from ecs_deployer_tools.localcloud import virtual_time
from ecs_deployer_tools.localcloud.codedeploy.deployments import CodeDeployDeployments
from ecs_deployer_tools.localcloud.codedeploy.faults import CodeDeployFaults
from ecs_deployer_tools.localcloud.patches import codedeploy as codedeploy_patches
from ecs_deployer_tools.localcloud.patches.patcher import MotoSimulation, Patcher

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime


class CodeDeploySimulation(MotoSimulation):
    """Makes moto's CodeDeploy deployments progress, and inject `faults`, while installed.

    Use as a context manager (a `LocalCloud` extension), or `install()` and `uninstall()`.
    """

    def __init__(
        self, faults: CodeDeployFaults | None = None, clock: Callable[[], datetime] | None = None
    ) -> None:
        """`clock` is the simulated CodeDeploy's time; the local cloud's virtual clock by
        default."""
        super().__init__()
        self.faults = faults or CodeDeployFaults()
        self.lock = threading.RLock()
        self.now = clock or virtual_time.now
        # Reads the scenario when it needs it: a test may swap `faults` meanwhile.
        self.deployments = CodeDeployDeployments(lambda: self.faults, self.now)

    def _patch(self, patcher: Patcher) -> None:
        codedeploy_patches.install(patcher, self)

    def locked(self, handler: Callable[..., Any]) -> Callable[..., Any]:
        """`handler` run under the simulation's lock, as every patched call is."""

        def run(*args: Any, **kwargs: Any) -> Any:
            with self.lock:
                return handler(*args, **kwargs)

        return run
