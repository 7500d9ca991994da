"""What Finalize adds to CloudWatch metrics, as the local cloud's Lambdas print it in the
embedded metric format (the runner keeps those lines): one line per measure, CloudWatch
Logs turning each into a metric."""

from __future__ import annotations

from typing import Any

import pytest

from ecs_deployer.domain import measures
from ecs_deployer_tools.demo import runner, sample_app
from ecs_deployer_tools.demo.scenarios import SCENARIOS

pytestmark = pytest.mark.e2e


def _dimensions(document: dict[str, Any]) -> set[str]:
    [directive] = document["_aws"]["CloudWatchMetrics"]
    return {name for names in directive["Dimensions"] for name in names}


def _name(document: dict[str, Any]) -> str:
    [directive] = document["_aws"]["CloudWatchMetrics"]
    [metric] = directive["Metrics"]
    name: str = metric["Name"]
    return name


def test_finalize_measures_each_rollout_and_each_task_family() -> None:
    result = runner.run(SCENARIOS["happy"], function_logs=None)
    emitted: dict[str, list[dict[str, Any]]] = {}
    for document in result.metrics:
        emitted.setdefault(_name(document), []).append(document)

    [deployment] = emitted[measures.DURATION]
    rollouts = emitted[measures.ROLLOUT_DURATION]
    tasks = emitted[measures.TASK_DURATION]
    assert sorted((document["ecs_service"], document["State"]) for document in rollouts) == [
        (sample_app.WEB, "COMPLETED"),
        (sample_app.WORKER, "COMPLETED"),
    ]
    assert sorted((document["Phase"], document["State"]) for document in tasks) == [
        ("post", "SUCCEEDED"),
        ("pre", "SUCCEEDED"),
    ]
    execution_arn = result.last.execution_arn or ""
    for document in rollouts + tasks:
        assert (document["app"], document["deployment_id"]) == (
            "shop",
            execution_arn.rpartition(":")[2],
        )
        [seconds] = document[_name(document)]
        assert 0 < seconds < deployment[measures.DURATION][0]
    # Names are properties, never dimensions: a metric per service would grow with the fleet.
    # These dimension sets are the ones the dashboard's SEARCH expressions name.
    assert all(_dimensions(document) == {"State", "service"} for document in rollouts)
    assert all(_dimensions(document) == {"Phase", "State", "service"} for document in tasks)
