"""The one way the local cloud patches moto: replacements that come off exactly."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from ecs_deployer_tools.localcloud.patches.patcher import Patcher

if TYPE_CHECKING:
    from collections.abc import Callable


class Base:
    def greet(self, name: str) -> str:
        return f"hello {name}"

    @classmethod
    def kind(cls) -> str:
        return "base"


class Child(Base):
    def own(self) -> str:
        return "own"


def _attributes() -> dict[str, dict[str, object]]:
    return {cls.__name__: dict(vars(cls)) for cls in (Base, Child)}


def test_restore_puts_own_attributes_back_and_removes_inherited_ones() -> None:
    before = _attributes()
    with Patcher() as patcher:
        patcher.replace(Child, "own", lambda _self: "replaced")
        patcher.replace(Child, "greet", lambda _self, name: f"hi {name}")  # inherited
        patcher.replace(Child, "missing", 1, create=True)

        assert (Child().own(), Child().greet("x"), Base().greet("x")) == (
            "replaced",
            "hi x",
            "hello x",
        )
        assert _attributes() != before

    assert _attributes() == before
    assert not hasattr(Child, "missing")


def test_around_hands_the_original_to_the_handler() -> None:
    with Patcher() as patcher:
        patcher.around(Base, "greet", lambda original, self, name: original(self, name).upper())

        assert Child().greet("x") == "HELLO X"
        assert Base.greet.__name__ == "greet"

    assert Base().greet("x") == "hello x"


def test_wrap_sees_the_current_attribute_and_stacks() -> None:
    def shout(original: Callable[[], str]) -> object:
        return classmethod(lambda _cls: original() + "!")

    patcher = Patcher()
    patcher.wrap(Base, "kind", shout)
    patcher.wrap(Base, "kind", shout)  # wraps the first replacement
    assert Child.kind() == "base!!"

    patcher.restore()

    assert Child.kind() == "base"
    patcher.replace(Base, "kind", classmethod(lambda _cls: "again"))  # usable again
    assert Base.kind() == "again"
    patcher.restore()
    assert Base.kind() == "base"


def test_an_unknown_attribute_is_refused() -> None:
    with Patcher() as patcher, pytest.raises(AttributeError):
        patcher.replace(Base, "missing", 1)
