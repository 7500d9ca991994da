"""The config index in the table: built by a reconcile, kept by change events, read by a
push's dispatch (which reads only the configs it lists, and every config before a build)."""

from __future__ import annotations

import dataclasses
import json
from typing import TYPE_CHECKING, Any, Literal, cast

import boto3
import pytest
from botocore.stub import Stubber

from ecs_deployer.aws.clients import dynamodb_client
from ecs_deployer.aws.dynamodb import ConfigIndexTable
from ecs_deployer.aws.ssm import ConfigStore
from ecs_deployer.domain.config_index import ConfigIndex
from ecs_deployer.domain.dispatch import Dispatch, Ignored
from ecs_deployer.errors import ConfigError
from ecs_deployer.steps.config_index import handle, reconcile
from ecs_deployer.steps.resolve import resolve
from tests.aws_fixtures import PREFIX, STARTED, TABLE, context, push
from tests.support import load_event

if TYPE_CHECKING:
    from mypy_boto3_ssm import SSMClient

    from ecs_deployer.aws.dynamodb import DeploymentsTable
    from ecs_deployer.domain.admission import AdmissionDeps
    from ecs_deployer_tools.demo import sample_app


def _config(*repositories: str) -> str:
    return json.dumps({"cluster": "demo", "trigger": {"repositories": list(repositories)}})


def _change(operation: str, app: str, prefix: str = PREFIX) -> dict[str, Any]:
    return {
        "detail-type": "Parameter Store Change",
        "source": "aws.ssm",
        "detail": {"operation": operation, "name": f"{prefix}/{app}", "type": "String"},
    }


SCHEDULED = {"detail-type": "Scheduled Event", "source": "aws.events", "detail": {}}


@pytest.fixture
def index(table: DeploymentsTable) -> ConfigIndexTable:
    return ConfigIndexTable(dynamodb_client(), TABLE)


def _put(app: str, value: str, kind: Literal["String", "SecureString"] = "String") -> None:
    boto3.client("ssm").put_parameter(
        Name=f"{PREFIX}/{app}", Value=value, Type=kind, Overwrite=True
    )


def test_the_index_is_none_until_a_full_read_builds_it(index: ConfigIndexTable) -> None:
    configs = ConfigStore(PREFIX, max_age=0)
    _put("shop", _config("shop"))
    _put("vault", "AQICAHh...", "SecureString")
    assert index.apps_to_read("shop") is None

    first = reconcile(configs, index, STARTED)
    again = reconcile(configs, index, STARTED)

    assert (first, again) == (3, 0)  # shop's entry and listing, vault as unreadable; then none
    assert index.apps_to_read("shop") == frozenset({"shop", "vault"})
    # an unreadable config may want any repository
    assert index.apps_to_read("nobody") == frozenset({"vault"})


def test_change_events_move_an_app_between_repositories_and_out(
    index: ConfigIndexTable,
) -> None:
    configs = ConfigStore(PREFIX, max_age=0)
    _put("shop", _config("shop"))
    handle(_change("Create", "shop"), configs, index, STARTED)  # the first event builds
    _put("shop", _config("shop-v2"))
    handle(_change("Update", "shop"), configs, index, STARTED)
    assert index.apps_to_read("shop") == frozenset()
    assert index.apps_to_read("shop-v2") == frozenset({"shop"})

    _put("shop", "AQICAHh...", "SecureString")  # now unreadable (a type change AWS refuses)
    handle(_change("Update", "shop"), configs, index, STARTED)
    # as unreadable, every push reads it
    assert index.apps_to_read("shop-v2") == frozenset({"shop"})
    boto3.client("ssm").delete_parameter(Name=f"{PREFIX}/shop")
    handle(_change("Delete", "shop"), configs, index, STARTED)

    assert index.apps_to_read("shop-v2") == frozenset()
    assert index.read() == (ConfigIndex(), {})  # nothing left
    assert reconcile(configs, index, STARTED) == 0


def test_a_parameter_below_an_app_or_outside_the_prefix_changes_nothing(
    index: ConfigIndexTable,
) -> None:
    configs = ConfigStore(PREFIX, max_age=0)
    reconcile(configs, index, STARTED)
    boto3.client("ssm").put_parameter(Name=f"{PREFIX}/shop/extra", Value="x", Type="String")

    handle(_change("Create", "shop/extra"), configs, index, STARTED)
    handle(_change("Create", "shop", "/elsewhere"), configs, index, STARTED)

    assert index.read()[1] == {}


def test_a_push_reads_only_the_configs_its_repository_lists(
    seeded: sample_app.SeededApp, deps: AdmissionDeps, index: ConfigIndexTable
) -> None:
    _put("books", _config("books"))  # wants another repository: never read for shop
    _put("vault", "AQICAHh...", "SecureString")
    reconcile(ConfigStore(PREFIX, max_age=0), index, STARTED)
    configs = ConfigStore(PREFIX)
    read: list[str] = []
    cast("Any", configs)._client.meta.events.register(
        "before-call.ssm.*", lambda model, **_: read.append(model.name)
    )
    digest = push("v2.0.0")
    event = load_event("ecr_push")
    event["detail"] |= {"image-digest": digest, "image-tag": "v2.0.0"}

    indexed = dataclasses.replace(deps, configs=configs, index=index)
    result = resolve(event, context("dispatch-1"), indexed, STARTED)

    assert isinstance(result, Dispatch)
    assert [target.app for target in result.targets] == ["shop"]
    [error] = result.errors  # the unreadable config is reported, as a full read does
    assert "app 'vault'" in error
    assert read == ["GetParameters"]


def test_a_push_to_a_repository_nobody_lists_reads_no_config(
    seeded: sample_app.SeededApp, deps: AdmissionDeps, index: ConfigIndexTable
) -> None:
    _put("shop", _config("elsewhere"))
    reconcile(ConfigStore(PREFIX, max_age=0), index, STARTED)
    digest = push("v2.0.0")
    event = load_event("ecr_push")
    event["detail"] |= {"image-digest": digest, "image-tag": "v2.0.0"}

    result = resolve(event, context(), dataclasses.replace(deps, index=index), STARTED)

    assert isinstance(result, Ignored)
    assert "no app config" in result.reason


# Reading configs by name


def test_configs_are_read_by_name_ten_a_call_and_a_missing_one_is_left_out() -> None:
    with Stubber(boto3.client("ssm")) as stubber:
        apps = [f"app{index:02d}" for index in range(12)]
        names = [f"{PREFIX}/{app}" for app in apps]
        first = [{"Name": name, "Type": "String", "Value": "x"} for name in names[:10]]
        stubber.add_response("get_parameters", {"Parameters": first}, {"Names": names[:10]})
        vault = {"Name": names[10], "Type": "SecureString", "Value": "AQICAHh..."}
        stubber.add_response(
            "get_parameters",
            {"Parameters": [vault], "InvalidParameters": [names[11]]},
            {"Names": names[10:]},
        )

        texts = ConfigStore(PREFIX, cast("SSMClient", stubber.client)).load_texts(apps)

        stubber.assert_no_pending_responses()
    assert sorted(texts) == apps[:11]
    assert isinstance(texts["app10"], ConfigError)
    assert texts["app00"] == "x"
