"""`CodeDeploySimulation`: the simulated CodeDeploy installed into moto, one at a time.

Installing applies `localcloud/patches/codedeploy.py`, which makes moto's CodeDeploy
deployments progress (`deployments.py`) under one lock, as the scenario's faults say.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Final, Self

from ecs_deployer_tools.localcloud import virtual_time
from ecs_deployer_tools.localcloud.codedeploy.deployments import CodeDeployDeployments
from ecs_deployer_tools.localcloud.codedeploy.faults import CodeDeployFaults
from ecs_deployer_tools.localcloud.patches import codedeploy as codedeploy_patches
from ecs_deployer_tools.localcloud.patches.patcher import Patcher

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime
    from types import TracebackType


class _Installed:
    """The one simulation that may patch moto at a time."""

    lock: Final = threading.Lock()
    simulation: CodeDeploySimulation | None = None


class CodeDeploySimulation:
    """Makes moto's CodeDeploy deployments progress, and inject `faults`, while installed.

    Use as a context manager (a `LocalCloud` extension), or `install()` and `uninstall()`.
    """

    def __init__(
        self, faults: CodeDeployFaults | None = None, clock: Callable[[], datetime] | None = None
    ) -> None:
        """`clock` is the simulated CodeDeploy's time; the local cloud's virtual clock by
        default."""
        self.faults = faults or CodeDeployFaults()
        self.lock = threading.RLock()
        self.now = clock or virtual_time.now
        # Reads the scenario when it needs it: a test may swap `faults` meanwhile.
        self.deployments = CodeDeployDeployments(lambda: self.faults, self.now)
        self._patcher = Patcher()

    def __enter__(self) -> Self:
        self.install()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.uninstall()

    @property
    def installed(self) -> bool:
        return _Installed.simulation is self

    def install(self) -> None:
        """Patch moto's CodeDeploy; raises RuntimeError if a simulation is installed."""
        with _Installed.lock:
            if _Installed.simulation is not None:
                raise RuntimeError("a CodeDeploySimulation is already installed")
            try:
                codedeploy_patches.install(self._patcher, self)
            except BaseException:
                self._patcher.restore()  # never leave moto half patched
                raise
            _Installed.simulation = self

    def uninstall(self) -> None:
        """Restore moto's CodeDeploy; a no-op when this simulation is not installed."""
        with _Installed.lock:
            if _Installed.simulation is not self:
                return
            self._patcher.restore()
            _Installed.simulation = None

    def locked(self, handler: Callable[..., Any]) -> Callable[..., Any]:
        """`handler` run under the simulation's lock, as every patched call is."""

        def run(*args: Any, **kwargs: Any) -> Any:
            with self.lock:
                return handler(*args, **kwargs)

        return run
