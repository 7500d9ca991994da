"""The one way the local cloud patches moto: a `Patcher` replaces attributes of classes and
modules, and restores them exactly.

`moto_patches` holds one for the patches every local cloud needs; each `MotoSimulation`
(ECS's, CodeDeploy's) one for its own patches while it is installed. Restoring undoes the
replacements newest first: a class's own attribute is put back, an inherited one removed
again, so moto is left as it was found.
"""

from __future__ import annotations

import functools
import threading
from abc import ABC, abstractmethod
from contextlib import ExitStack
from typing import TYPE_CHECKING, Any, ClassVar, Self
from unittest.mock import patch

if TYPE_CHECKING:
    from collections.abc import Callable
    from types import TracebackType


class Patcher:
    """Replacements that last until `restore`, or until the end of a `with` block."""

    def __init__(self) -> None:
        self._applied = ExitStack()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.restore()

    def replace(self, owner: object, name: str, value: object, *, create: bool = False) -> None:
        """`owner.name` becomes `value`; `create` allows a name that `owner` lacks."""
        self._applied.enter_context(patch.object(owner, name, value, create=create))

    def wrap(self, owner: object, name: str, make: Callable[[Any], object]) -> None:
        """`owner.name` becomes `make(current)`, a replacement that delegates to the current
        attribute as `getattr` reads it (a class's method is its plain function)."""
        self.replace(owner, name, make(getattr(owner, name)))

    def around(self, owner: object, name: str, handler: Callable[..., Any]) -> None:
        """The function or method `owner.name(*args)` becomes `handler(original, *args)`."""

        def make(original: Callable[..., Any]) -> Callable[..., Any]:
            @functools.wraps(original)
            def patched(*args: Any, **kwargs: Any) -> Any:
                return handler(original, *args, **kwargs)

            return patched

        self.wrap(owner, name, make)

    def restore(self) -> None:
        """Undo every replacement, newest first; the patcher may then be used again."""
        self._applied.close()


class MotoSimulation(ABC):
    """A simulation that patches moto while it is installed: as a context manager (a
    `LocalCloud` extension), or through `install()` and `uninstall()`. One of each kind may
    be installed at a time: two would patch the same calls."""

    _installing: ClassVar = threading.Lock()
    _installed: ClassVar[dict[type[MotoSimulation], MotoSimulation]] = {}

    def __init__(self) -> None:
        self._patcher = Patcher()

    @abstractmethod
    def _patch(self, patcher: Patcher) -> None:
        """Apply this simulation's patches with ``patcher``."""

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
        """Whether this simulation currently patches moto."""
        return self._installed.get(type(self)) is self

    def install(self) -> None:
        """Patch moto; raises RuntimeError if a simulation of this kind is installed."""
        with self._installing:
            if type(self) in self._installed:
                raise RuntimeError(f"a {type(self).__name__} is already installed")
            try:
                self._patch(self._patcher)
            except BaseException:
                self._patcher.restore()  # never leave moto half patched
                raise
            self._installed[type(self)] = self

    def uninstall(self) -> None:
        """Restore moto; a no-op when this simulation is not installed."""
        with self._installing:
            if not self.installed:
                return
            self._patcher.restore()
            del self._installed[type(self)]
