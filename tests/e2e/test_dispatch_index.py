"""A push reads only the configs the config index lists for its repository, whatever the
number of apps: the index follows Parameter Store's change events (the local cloud emits
them, `patches/ssm.py`), a scheduled reconcile heals what a lost event left behind, and
until the index is first built a push reads every config."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from ecs_deployer.aws.dynamodb import DeploymentsTable
from ecs_deployer.config.models import app_config
from ecs_deployer.domain import measures
from ecs_deployer.structs import encode
from ecs_deployer_tools.demo import fleet, runner, sample_app
from ecs_deployer_tools.localcloud.runtime import FunctionOutput
from ecs_deployer_tools.operator.configs import push_config

if TYPE_CHECKING:
    from collections.abc import Iterator

    from ecs_deployer.history import HistoryRecord
    from ecs_deployer_tools.localcloud.cloud import LocalCloud

pytestmark = pytest.mark.e2e

OTHER_APPS = 24


@pytest.fixture
def deployed() -> Iterator[fleet.Fleet]:
    """The sample app (one service) stored before the stack: the index is not built yet."""
    with fleet.fleet_cloud(1) as deployed:
        yield deployed


def store(deployed: fleet.Fleet, app: str, *repositories: str) -> None:
    """Store ``app``'s config (the fleet's, triggered by ``repositories``)."""
    document: dict[str, Any] = encode(deployed.config)
    document |= {"app": app, "trigger": {"repositories": list(repositories)}}
    ssm = deployed.cloud.client("ssm")
    push_config(ssm, runner.CONFIG_PREFIX, app, app_config(document))
    deployed.cloud.run_until_idle()


def push(cloud: LocalCloud, tag: str) -> None:
    cloud.reset_api_calls()
    cloud.push_image(sample_app.REPOSITORY, tag, sample_app.image_manifest(tag))
    cloud.run_until_idle()


def history(cloud: LocalCloud, app: str = sample_app.APP) -> list[HistoryRecord]:
    table = DeploymentsTable(cloud.client("dynamodb"), cloud.outputs["DeploymentsTableName"])
    return table.history(app)


def calls(cloud: LocalCloud, function: str, service: str) -> dict[str, int]:
    counts = cloud.api_recorder.counts(function).items()
    return {call: n for call, n in counts if call.startswith(f"{service}.")}


def rule(cloud: LocalCloud, event: str) -> str:
    return cloud.stack_resources("AWS::Events::Rule")[f"IndexConfigsFunction{event}"]


def test_before_the_index_is_built_a_push_reads_every_config(deployed: fleet.Fleet) -> None:
    push(deployed.cloud, fleet.NEW_TAG)

    assert calls(deployed.cloud, "ResolveFunction", "ssm") == {
        "ssm.GetParametersByPath": 1,  # the dispatch: every config
        "ssm.GetParameter": 1,  # the admitted deployment: its app's config
    }
    [record] = history(deployed.cloud)
    assert record.status == "SUCCEEDED"


def test_a_push_reads_only_the_configs_indexed_for_its_repository(deployed: fleet.Fleet) -> None:
    cloud = deployed.cloud
    cloud.reset_api_calls()
    for index in range(OTHER_APPS):  # the first one's event builds the index
        store(deployed, f"app{index:03d}", f"repository{index:03d}")
    indexer = calls(cloud, "IndexConfigsFunction", "ssm")

    push(cloud, fleet.NEW_TAG)

    # One full read built the index; every other config was read again by its name alone.
    assert indexer == {"ssm.GetParametersByPath": 1, "ssm.GetParameters": OTHER_APPS - 1}
    assert calls(cloud, "ResolveFunction", "ssm") == {
        "ssm.GetParameters": 1,  # the dispatch: the one app the index lists
        "ssm.GetParameter": 1,
    }
    dispatch_reads = calls(cloud, "ResolveFunction", "dynamodb")
    assert dispatch_reads["dynamodb.GetItem"] == 1  # whether the index is built
    [record] = history(cloud)
    assert record.status == "SUCCEEDED"


def test_an_edited_or_deleted_config_no_longer_dispatches_from_its_old_repository(
    deployed: fleet.Fleet,
) -> None:
    cloud = deployed.cloud
    store(deployed, "twin", sample_app.REPOSITORY)  # builds the index: shop and twin
    store(deployed, sample_app.APP, "elsewhere")  # shop now deploys another repository
    cloud.client("ssm").delete_parameter(Name=f"{runner.CONFIG_PREFIX}/twin")
    cloud.run_until_idle()

    push(cloud, fleet.NEW_TAG)

    assert history(cloud) == []
    assert history(cloud, "twin") == []
    # The index lists nobody for the repository any more: no config is read at all.
    assert calls(cloud, "ResolveFunction", "ssm") == {}


def test_a_reconcile_heals_what_a_lost_event_left_behind(deployed: fleet.Fleet) -> None:
    cloud = deployed.cloud
    store(deployed, sample_app.APP, "elsewhere")  # builds the index: shop under elsewhere
    cloud.client("events").disable_rule(Name=rule(cloud, "ConfigChanged"))
    store(deployed, sample_app.APP, sample_app.REPOSITORY)  # the event is lost
    push(cloud, fleet.NEW_TAG)
    assert history(cloud) == []  # the drifted index does not know shop wants it
    assert isinstance(cloud.runtime.output, FunctionOutput)  # as fleet_cloud sets it
    emitted = cloud.runtime.output.metrics
    before = len(emitted)

    cloud.fire_schedule(rule(cloud, "Reconcile"))
    push(cloud, "v2.0.1")

    [drift] = [document for document in emitted[before:] if measures.INDEX_DRIFT in document]
    # shop's entry, its listing under its repository, and the stale one under elsewhere
    assert drift[measures.INDEX_DRIFT] == [3]
    [record] = history(cloud)
    assert (record.tag, record.status) == ("v2.0.1", "SUCCEEDED")
