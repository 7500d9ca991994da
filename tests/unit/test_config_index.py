"""The config index: built from the configs' texts, and the updates that bring a stored index
(or one app's part of it) to what the configs want."""

from __future__ import annotations

import json

from ecs_deployer.domain.config_index import (
    AppUpdate,
    ConfigIndex,
    app_update,
    drift,
    index_of,
)
from ecs_deployer.errors import ConfigError


def config(*repositories: str) -> str:
    return json.dumps({"cluster": "demo", "trigger": {"repositories": list(repositories)}})


SECURE = ConfigError("config of app 'vault' is a SecureString parameter")


def test_each_app_is_indexed_under_the_repositories_its_config_wants() -> None:
    index = index_of(
        {
            "shop": config("shop", "shop-worker"),
            "billing": config("billing"),
            "broken": "trigger: {repositories: [shop]}\nservices: 3",  # invalid, wants shop
            "manual": json.dumps({"cluster": "demo"}),  # no trigger: pushes never deploy it
            "garbled": "{: not yaml",
            "vault": SECURE,
        }
    )

    assert index.repositories == {
        "shop": frozenset({"shop", "shop-worker"}),
        "billing": frozenset({"billing"}),
        "broken": frozenset({"shop"}),
    }
    assert index.unreadable == {"vault"}


def test_an_edited_config_leaves_its_old_repositories_and_joins_its_new_ones() -> None:
    stored = ConfigIndex({"shop": frozenset({"shop", "old"})})

    update = app_update("shop", stored, frozenset({"shop", "new"}))

    assert update.to_list == {"new"}
    assert update.to_unlist == {"old"}
    assert update.entry_changed
    assert update.fixes == 3


def test_a_deleted_config_leaves_every_repository() -> None:
    update = app_update("shop", ConfigIndex({"shop": frozenset({"shop"})}), frozenset())

    assert update.to_list == frozenset()
    assert update.to_unlist == {"shop"}
    assert update.entry_changed


def test_an_unchanged_config_writes_nothing() -> None:
    update = app_update("shop", ConfigIndex({"shop": frozenset({"shop"})}), frozenset({"shop"}))

    assert update.fixes == 0


def test_a_config_that_becomes_unreadable_leaves_its_repositories_and_is_listed_as_such() -> None:
    update = app_update("vault", ConfigIndex({"vault": frozenset({"shop"})}), None)

    assert update.to_unlist == {"shop"}
    assert (update.stored, update.wanted) == (frozenset({"shop"}), None)
    assert update.entry_changed


def test_no_drift_when_the_stored_index_is_what_the_configs_want() -> None:
    wanted = ConfigIndex({"shop": frozenset({"shop"})}, frozenset({"vault"}))

    assert drift(wanted, {"shop": frozenset({"shop"})}, wanted) == []


def test_drift_finds_missed_events_and_half_written_updates() -> None:
    wanted = ConfigIndex(
        {"shop": frozenset({"shop"}), "new": frozenset({"new"}), "half": frozenset({"h"})}
    )
    stored = ConfigIndex(
        {"shop": frozenset({"shop"}), "gone": frozenset({"g"}), "half": frozenset({"h"})}
    )
    # "half": its entry was written, its repository's listing was not.
    listed = {"shop": frozenset({"shop"}), "gone": frozenset({"g"})}

    updates = drift(stored, listed, wanted)

    assert updates == [
        AppUpdate("gone", frozenset(), frozenset({"g"}), frozenset({"g"})),
        AppUpdate("half", frozenset({"h"}), frozenset({"h"}), frozenset()),
        AppUpdate("new", frozenset({"new"}), frozenset(), frozenset()),
    ]
    # gone: its entry and one listing; half: one listing; new: its entry and one listing
    assert [update.fixes for update in updates] == [2, 1, 2]
