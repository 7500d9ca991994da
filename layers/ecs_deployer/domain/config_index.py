"""The config index: which apps' configs want pushes to each ECR repository.

Dispatching a push reads only the configs of the apps the index lists for the pushed
repository, so its cost does not grow with the number of apps. The index is derived from the
configs alone: an app's repositories are its config's ``raw_trigger_repositories`` (one home:
an invalid config that seems to want a repository is listed too, so a push to it reports the
broken config, as a full read does). A parameter that is not a String cannot be read as text:
it is listed as unreadable, and every push reports it.

The indexer keeps the index current from Parameter Store's change events, one app at a time
(``app_update``); a scheduled reconcile compares it with a full read (``drift``) and fixes
what drifted, since those events are best effort. Pure: the table (``aws/dynamodb.py``) and
the step (``steps/config_index.py``) do the reading and writing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ecs_deployer.config.parsing import raw_trigger_repositories
from ecs_deployer.errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Mapping


@dataclass(frozen=True)
class ConfigIndex:
    """App → the repositories its config wants; and the apps whose config is unreadable."""

    repositories: Mapping[str, frozenset[str]] = field(default_factory=dict)
    unreadable: frozenset[str] = frozenset()


def wanted_repositories(text: str | ConfigError) -> frozenset[str] | None:
    """The repositories a config's text wants; None for an unreadable parameter."""
    if isinstance(text, ConfigError):
        return None
    return frozenset(raw_trigger_repositories(text))


def index_of(texts: Mapping[str, str | ConfigError]) -> ConfigIndex:
    """The index of every app's config (as ``ConfigStore.load_all_texts`` reads them). An
    app that wants no repository has no entry: nothing to dispatch to it."""
    repositories: dict[str, frozenset[str]] = {}
    unreadable: set[str] = set()
    for app, text in texts.items():
        wanted = wanted_repositories(text)
        if wanted is None:
            unreadable.add(app)
        elif wanted:
            repositories[app] = wanted
    return ConfigIndex(repositories, frozenset(unreadable))


@dataclass(frozen=True)
class AppUpdate:
    """What makes one app's part of the stored index what its config wants.

    An app's part is its entry (the repositories it wants: ``stored``, or None while it is
    listed as unreadable) and the repositories that list it (``listed``: what a push reads).
    The two agree unless a write was cut short; both are compared with ``wanted``.
    """

    app: str
    wanted: frozenset[str] | None  # None: the parameter is unreadable
    stored: frozenset[str] | None
    listed: frozenset[str]

    @property
    def to_list(self) -> frozenset[str]:
        """Repositories that must list the app and do not."""
        return (self.wanted or frozenset()) - self.listed

    @property
    def to_unlist(self) -> frozenset[str]:
        """Repositories that list the app and must not."""
        return self.listed - (self.wanted or frozenset())

    @property
    def entry_changed(self) -> bool:
        return self.stored != self.wanted

    @property
    def fixes(self) -> int:
        """Items this update writes: the app's entry, and each repository's listing of it."""
        return int(self.entry_changed) + len(self.to_list) + len(self.to_unlist)


def _stored_entry(index: ConfigIndex, app: str) -> frozenset[str] | None:
    return None if app in index.unreadable else index.repositories.get(app, frozenset())


def app_update(app: str, stored: ConfigIndex, wanted: frozenset[str] | None) -> AppUpdate:
    """The update one app's changed (or deleted: wanting nothing) config makes, from its
    stored entry alone: the indexer trusts that the repositories listing it agree."""
    entry = _stored_entry(stored, app)
    return AppUpdate(app, wanted, entry, entry or frozenset())


def drift(
    stored: ConfigIndex, listed: Mapping[str, frozenset[str]], wanted: ConfigIndex
) -> list[AppUpdate]:
    """Every app whose part of the stored index (its entry in ``stored``, the repositories
    that list it in ``listed``) differs from what its config wants: the reconcile's fixes."""
    apps = set(stored.repositories) | stored.unreadable | set(listed)
    apps |= set(wanted.repositories) | wanted.unreadable
    updates = (
        AppUpdate(
            app,
            _stored_entry(wanted, app),
            _stored_entry(stored, app),
            listed.get(app, frozenset()),
        )
        for app in sorted(apps)
    )
    return [update for update in updates if update.fixes]
