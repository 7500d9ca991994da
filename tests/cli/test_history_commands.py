"""`ecs-deployer status` and `history`: the history table, reconciled on read."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import pytest

from ecs_deployer.history import HistoryRecord
from ecs_deployer.structs import decode
from ecs_deployer_tools.cli.history_commands import STATUS_HEADER, status_table
from ecs_deployer_tools.operator.records import ShownRecord, app_statuses, promotion_chains
from tests.cli.conftest import deploy, local_cloud, no_traceback

if TYPE_CHECKING:
    from collections.abc import Iterator

    from ecs_deployer.outcome import RecordStatus
    from tests.cli.conftest import Local

ACTOR = "arn:aws:sts::123456789012:user/moto"


@pytest.fixture(scope="module")
def deployed() -> Iterator[tuple[Local, dict[str, Any], dict[str, Any]]]:
    """Two manual deployments of the sample app, one after the other."""
    with local_cloud() as local:
        first, second = deploy(local, "build-1"), deploy(local, "build-2")
        yield local, first, second


def test_history_lists_deployments_newest_first(
    deployed: tuple[Local, dict[str, Any], dict[str, Any]],
) -> None:
    local, first, second = deployed
    code, document = local.json("history", "shop")
    assert code == 0
    listed = document["deployments"]
    assert [item["deployment_id"] for item in listed] == [second["name"], first["name"]]
    newer, older = listed
    assert (newer["status"], newer["tag"], newer["trigger"], newer["actor"]) == (
        "SUCCEEDED",
        "build-2",
        "manual",
        ACTOR,
    )
    assert newer["image"] == second["summary"]["image"]
    # Each service went on from the revision the previous deployment left.
    for before, after in zip(older["services"], newer["services"], strict=True):
        assert before["task_definition_before"].endswith(":1")
        assert after["task_definition_before"] == before["task_definition_after"]
        assert after["task_definition_after"].endswith(":3")

    code, limited = local.json("history", "shop", "--limit", "1")
    assert [item["deployment_id"] for item in limited["deployments"]] == [second["name"]]

    result = local.run("history", "shop")
    assert result.exit_code == 0, result.output
    assert "SUCCEEDED" in result.stdout
    assert f"{second['name']}  SUCCEEDED  shop@sha256:" in result.stdout
    assert "  shop-web: shop-web:2 -> :3" in result.stdout.splitlines()


def test_status_shows_how_the_latest_deployment_ended(
    deployed: tuple[Local, dict[str, Any], dict[str, Any]],
) -> None:
    local, _, second = deployed
    code, document = local.json("status", "shop")
    assert code == 0
    [shop] = document["apps"]
    assert (shop["app"], shop["running"]) == ("shop", [])
    assert (shop["latest"]["deployment_id"], shop["latest"]["status"]) == (
        second["name"],
        "SUCCEEDED",
    )
    result = local.run("status")
    assert result.exit_code == 0, result.output
    header, *rows = result.stdout.splitlines()
    assert header.split()[:3] == ["APP", "ENVIRONMENT", "ROW"]
    assert header.split() == list(STATUS_HEADER)
    [row] = [row for row in rows if second["name"] in row]
    assert row.split()[:5] == ["shop", "-", "latest", second["name"], "SUCCEEDED"]
    assert re.search(r"  \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$", row), row
    # Columns line up under the header.
    assert row.index(second["name"]) == header.index("DEPLOYMENT")


def test_a_record_whose_execution_ended_unfinished_shows_as_aborted(
    deployed: tuple[Local, dict[str, Any], dict[str, Any]],
) -> None:
    local = deployed[0]
    machine = local.cloud.outputs["StateMachineArn"]
    record = HistoryRecord(
        app="stopped-app",
        deployment_id="stopped-1",
        execution_arn=f"{machine.replace(':stateMachine:', ':execution:')}:stopped-1",
        status="IN_PROGRESS",
        requested_at="2026-11-22T10:00:00.000Z",
        order="2026-11-22T10:00:00.000Z#2026-11-22T10:00:00.000Z#stopped-1",
        updated_at="2026-11-22T10:00:00.000Z",
    )
    local.table.create_record(record)
    [row] = [row for row in local.run("status").stdout.splitlines() if "stopped-1" in row]
    assert row.split()[:5] == ["stopped-app", "-", "latest", "stopped-1", "ABORTED"]
    code, document = local.json("status")
    assert code == 0
    [stopped] = [item for item in document["apps"] if item["app"] == "stopped-app"]
    assert stopped["running"] == []
    assert (stopped["latest"]["status"], stopped["latest"]["recorded_status"]) == (
        "ABORTED",
        "IN_PROGRESS",
    )
    # Reconciled on read only: the table keeps what the deployer wrote.
    assert [r.status for r in local.table.history("stopped-app")] == ["IN_PROGRESS"]


@pytest.mark.parametrize("command", ["history", "status"])
def test_an_unknown_app_exits_1(
    deployed: tuple[Local, dict[str, Any], dict[str, Any]], command: str
) -> None:
    result = deployed[0].run(command, "nope")
    no_traceback(result)
    assert "unknown app 'nope'" in result.stderr


def _record(deployment_id: str, status: RecordStatus, requested_at: str) -> HistoryRecord:
    return HistoryRecord(
        app="shop",
        deployment_id=deployment_id,
        execution_arn=f"arn:aws:states:us-east-1:123456789012:execution:m:{deployment_id}",
        status=status,
        requested_at=requested_at,
        order=f"{requested_at}#{requested_at}#{deployment_id}",
        updated_at=requested_at,
    )


def test_status_labels_what_runs_and_what_ended_last() -> None:
    running = _record("shop-2", "IN_PROGRESS", "2026-11-22T10:05:00.000Z")
    latest = _record("shop-1", "FAILED", "2026-11-22T10:00:00.000Z")
    statuses = app_statuses([ShownRecord(running, "IN_PROGRESS"), ShownRecord(latest, "FAILED")])
    header, *rows = status_table(statuses)
    assert header[:3] == ("APP", "ENVIRONMENT", "ROW")
    assert [row[:5] for row in rows] == [
        ("shop", "-", "running", "shop-2", "IN_PROGRESS"),
        ("shop", "-", "latest", "shop-1", "FAILED"),
    ]
    assert [row[-1] for row in rows] == ["2026-11-22 10:05:00 UTC", "2026-11-22 10:00:00 UTC"]


def test_status_shows_each_environment_of_an_app_in_promotion_order() -> None:
    # Each environment has its own lock: production's deployment runs while staging's
    # newest has ended, and staging's older one is not "latest" of production.
    shown = [
        ShownRecord(_chain_record("promo-c", "5", "staging", "IN_PROGRESS"), "IN_PROGRESS"),
        ShownRecord(
            _chain_record("promo-production-b", "4", "production", "IN_PROGRESS"), "IN_PROGRESS"
        ),
        ShownRecord(
            _chain_record("promo-b", "3", "staging", "SUCCEEDED", next_environment="production"),
            "SUCCEEDED",
        ),
        ShownRecord(_chain_record("promo-production-a", "2", "production", "FAILED"), "FAILED"),
        ShownRecord(_chain_record("promo-a", "1", "staging", "SUCCEEDED"), "SUCCEEDED"),
    ]
    statuses = app_statuses(shown)
    assert [(item.app, item.environment) for item in statuses] == [
        ("promo", "staging"),
        ("promo", "production"),
    ]
    assert statuses[1].to_json()["environment"] == "production"
    _, *rows = status_table(statuses)
    assert [row[:5] for row in rows] == [
        ("promo", "staging", "running", "promo-c", "IN_PROGRESS"),
        ("promo", "staging", "latest", "promo-b", "SUCCEEDED"),
        ("promo", "production", "running", "promo-production-b", "IN_PROGRESS"),
        ("promo", "production", "latest", "promo-production-a", "FAILED"),
    ]


def _chain_record(
    deployment_id: str, order: str, environment: str, status: str, **extra: Any
) -> HistoryRecord:
    return decode(
        {
            "app": "promo",
            "deployment_id": deployment_id,
            "status": status,
            "environment": environment,
            "requested_at": "2026-11-22T10:00:00.000Z",
            "order": order,
            "updated_at": "2026-11-22T10:00:00.000Z",
            "finished_at": "2026-11-22T10:05:00.000Z",
            **extra,
        },
        HistoryRecord,
    )


def test_history_shows_each_promotion_chain_and_where_it_stopped(
    deployed: tuple[Local, dict[str, Any], dict[str, Any]],
) -> None:
    local, _, _ = deployed
    approval = {
        "status": "APPROVED",
        "requested_at": "2026-11-22T10:02:00.000Z",
        "deadline": "2026-11-23T10:02:00.000Z",
        "answered_by": "arn:aws:sts::123456789012:assumed-role/operators/alice",
    }
    for record in (
        _chain_record(
            "promo-a",
            "1",
            "staging",
            "SUCCEEDED",
            chain_id="promo-a",
            next_environment="production",
        ),
        _chain_record(
            "promo-production-a",
            "2",
            "production",
            "SUCCEEDED",
            chain_id="promo-a",
            promoted_from="promo-a",
            approval=approval,
            trigger="promotion",
        ),
        _chain_record(
            "promo-b",
            "3",
            "staging",
            "ROLLED_BACK",
            chain_id="promo-b",
            next_environment="production",
        ),
    ):
        local.table.create_record(record)

    code, document = local.json("history", "promo")

    assert code == 0
    assert [(c["chain_id"], c["state"]) for c in document["chains"]] == [
        ("promo-b", "stopped at staging (ROLLED_BACK): production not deployed"),
        ("promo-a", "complete"),
    ]
    assert document["chains"][1]["steps"] == [
        {
            "environment": "staging",
            "deployment_id": "promo-a",
            "status": "SUCCEEDED",
            "approved_by": None,
        },
        {
            "environment": "production",
            "deployment_id": "promo-production-a",
            "status": "SUCCEEDED",
            "approved_by": "alice",
        },
    ]
    lines = local.run("history", "promo").stdout.splitlines()
    assert any(line.startswith("promo-production-a  SUCCEEDED  [production]") for line in lines)
    assert lines[-2:] == [
        "chain promo-b: staging promo-b ROLLED_BACK; stopped at staging (ROLLED_BACK): "
        "production not deployed",
        "chain promo-a: staging promo-a SUCCEEDED -> production promo-production-a SUCCEEDED "
        "approved by alice; complete",
    ]


@pytest.mark.parametrize(
    ("shown_status", "next_environment", "state"),
    [
        ("IN_PROGRESS", "production", "deploying to staging"),
        ("AWAITING_APPROVAL", "production", "waiting for approval in staging"),
        ("SUCCEEDED", "production", "production not started yet"),
        ("SUCCEEDED", None, "complete"),
        ("FAILED", "production", "stopped at staging (FAILED): production not deployed"),
        ("ABORTED", None, "stopped at staging (ABORTED)"),
    ],
)
def test_a_chain_says_where_it_stands(
    shown_status: str, next_environment: str | None, state: str
) -> None:
    recorded = "IN_PROGRESS" if shown_status in ("AWAITING_APPROVAL", "ABORTED") else shown_status
    record = _chain_record(
        "promo-a", "1", "staging", recorded, chain_id="promo-a", next_environment=next_environment
    )

    [chain] = promotion_chains([ShownRecord(record, shown_status)])

    assert chain.state == state
