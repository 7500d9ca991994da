"""Property: every malformed input or config ends in a named error and changes nothing in ECS."""

from __future__ import annotations

import copy
import json
from typing import TYPE_CHECKING, Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from ecs_deployer.aws.clients import ecr_client, ecs_client, sfn_client
from ecs_deployer.aws.ecr import EcrGateway
from ecs_deployer.aws.ssm import ConfigStore
from ecs_deployer.aws.stepfunctions import Executions
from ecs_deployer.config.parsing import parse_app_config
from ecs_deployer.domain.admission import AdmissionDeps, Rejected
from ecs_deployer.domain.dispatch import Dispatch, Ignored
from ecs_deployer.errors import ConfigError
from ecs_deployer.steps.resolve import resolve
from ecs_deployer_tools.demo import sample_app
from tests.aws_fixtures import PREFIX, STARTED, clients, context, create_table, scope_of
from tests.support import EVENTS_DIR, load_event

if TYPE_CHECKING:
    from collections.abc import Iterator

CONFIG = (EVENTS_DIR.parent / "configs" / "shop.yml").read_text()
NAMED = {"InputError", "ConfigError", "ImageNotFound", "ResourceNotFound"}
READ_ONLY_PREFIXES = ("Describe", "List")
PROPERTY = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

junk = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**40), max_value=2**40),
    st.floats(allow_nan=False),
    st.text(max_size=30),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)


class Mutations:
    """Counts ECS calls that would change something."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __call__(self, model: Any, **_: Any) -> None:
        if not model.name.startswith(READ_ONLY_PREFIXES):
            self.calls.append(model.name)


@pytest.fixture(scope="module")
def world() -> Iterator[tuple[AdmissionDeps, Mutations]]:
    with pytest.MonkeyPatch.context() as env:
        for name, value in {
            "AWS_ACCESS_KEY_ID": "t",
            "AWS_SECRET_ACCESS_KEY": "t",
            "AWS_DEFAULT_REGION": "us-east-1",
        }.items():
            env.setenv(name, value)
        with mock_aws():
            seeded = sample_app.seed(clients(), PREFIX)
            table = create_table()
            mutations = Mutations()
            ecs = ecs_client()
            ecs.meta.events.register("before-call.ecs", mutations)
            deps = AdmissionDeps(
                configs=ConfigStore(PREFIX),
                ecr=EcrGateway(ecr_client()),
                table=table,
                scope=scope_of(seeded),
                executions=Executions(sfn_client),
            )
            yield deps, mutations
            ecs.meta.events.unregister("before-call.ecs", mutations)


VALID_MANUAL = {"app": "shop", "image_tag": "v1.0.0"}
MANUAL_FIELDS = [
    "app",
    "image_tag",
    "image_digest",
    "repository",
    "skip_pre_tasks",
    "skip_post_tasks",
    "force",
    "poll_seconds",
]


@st.composite
def malformed_manual_inputs(draw: st.DrawFn) -> dict[str, Any]:
    request: dict[str, Any] = dict(VALID_MANUAL)
    kind = draw(st.sampled_from(["unknown key", "wrong value", "no app", "no image"]))
    if kind == "unknown key":
        request[
            draw(
                st.text(min_size=1, max_size=12).filter(
                    lambda key: key not in [*MANUAL_FIELDS, "trigger"]
                )
            )
        ] = draw(junk)
    elif kind == "wrong value":
        field = draw(st.sampled_from(MANUAL_FIELDS))
        request[field] = draw(junk.filter(lambda value: not _acceptable(field, value)))
    elif kind == "no app":
        del request["app"]
    else:
        del request["image_tag"]
    return request


def _acceptable(field: str, value: Any) -> bool:
    """Values the field would accept (drawn values must not be)."""
    if field in ("skip_pre_tasks", "skip_post_tasks", "force"):
        return isinstance(value, bool)
    if field == "poll_seconds":
        return value is None or (type(value) is int and 1 <= value <= 300)
    if field in ("image_digest", "repository"):
        return value is None
    if field == "image_tag":
        return (
            isinstance(value, str)
            and value.replace("_", "a").replace(".", "a").replace("-", "a").isalnum()
            and 0 < len(value) <= 128
            and value[0] not in ".-"
        )
    return (
        isinstance(value, str)
        and value.replace("-", "a").replace("_", "a").isalnum()
        and 0 < len(value) <= 40
        and value[0].isalnum()
    )


@PROPERTY
@given(request=malformed_manual_inputs())
def test_malformed_manual_inputs_are_rejected_with_a_named_error(
    world: tuple[AdmissionDeps, Mutations], request: dict[str, Any]
) -> None:
    deps, mutations = world
    before = len(mutations.calls)
    result = resolve(request, context("property"), deps, STARTED)
    assert isinstance(result, Rejected), result
    assert result.outcome.error in NAMED
    assert json.loads(result.outcome.cause or "")["message"]
    assert mutations.calls[before:] == []


@st.composite
def malformed_events(draw: st.DrawFn) -> dict[str, Any]:
    event: dict[str, Any] = copy.deepcopy(load_event("ecr_push"))
    target = draw(st.sampled_from(["top", "detail"]))
    container = event if target == "top" else event["detail"]
    keys = (
        ["version", "id", "source", "account", "time", "region", "resources", "detail"]
        if target == "top"
        else ["result", "repository-name", "image-digest", "action-type"]
    )
    key = draw(st.sampled_from(keys))
    if draw(st.booleans()):
        del container[key]
    else:
        container[key] = draw(junk.filter(lambda value: not _fits(key, value)))
    return event


def _fits(key: str, value: Any) -> bool:
    """Values an event field accepts as AWS sends it (numbers are epoch times for `time`)."""
    if key == "time":
        return isinstance(value, int | float | str)
    if key == "resources":
        return isinstance(value, list) and all(isinstance(item, str) for item in value)
    if key == "detail":
        return False  # any replacement drops the detail's required fields
    return isinstance(value, str)


@PROPERTY
@given(event=malformed_events())
def test_malformed_events_never_dispatch(
    world: tuple[AdmissionDeps, Mutations], event: dict[str, Any]
) -> None:
    deps, mutations = world
    before = len(mutations.calls)
    result = resolve(event, context("property"), deps, STARTED)
    assert not isinstance(result, Dispatch) or not result.targets, result
    if isinstance(result, Rejected):
        assert result.outcome.error == "InputError"
    else:
        assert isinstance(result, Ignored)
    assert mutations.calls[before:] == []


CONFIG_PATHS: list[tuple[Any, ...]] = [
    ("version",),
    ("cluster",),
    ("poll_seconds",),
    ("rollback",),
    ("concurrency",),
    ("keep_revisions",),
    ("services", 0, "name"),
    ("services", 0, "containers"),
    ("services", 0, "max_wait"),
    ("services", 1, "force"),
    ("tasks", "pre", 0, "count"),
    ("tasks", "pre", 0, "family"),
    ("tasks", "pre", 0, "max_wait"),
    ("tasks", "pre", 0, "network_configuration", "vpc_configuration", "subnets"),
    ("tasks", "post", 0, "launch_type"),
    ("trigger", "repositories"),
    ("trigger", "tags"),
]


def _path(path: tuple[Any, ...]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


@st.composite
def broken_configs(draw: st.DrawFn) -> tuple[dict[str, Any], str]:
    document: dict[str, Any] = yaml.safe_load(CONFIG)
    path = draw(st.sampled_from(CONFIG_PATHS))
    parent: Any = document
    for part in path[:-1]:
        parent = parent[part]
    if draw(st.booleans()):
        name = draw(
            st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=3, max_size=10).filter(
                lambda n: n not in parent
            )
        )
        parent[name] = draw(junk)
        return document, _path((*path[:-1], name))
    # A value of the wrong kind: a mapping never fits a scalar or list field here.
    parent[path[-1]] = {"unexpected": draw(junk)}
    return document, _path(path)


@PROPERTY
@given(broken=broken_configs())
def test_broken_configs_name_the_field(broken: tuple[dict[str, Any], str]) -> None:
    document, path = broken
    with pytest.raises(ConfigError) as caught:
        parse_app_config(json.dumps(document), "config")
    assert any(error.path.startswith(path) for error in caught.value.errors), (
        path,
        caught.value.errors,
    )
