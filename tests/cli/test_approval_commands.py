"""`ecs-deployer approve` and `reject`: an app whose config asks for approval waits, after its
pre tasks and before any service changes, until an operator answers through the CLI."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from ecs_deployer.aws.dynamodb import DeploymentsTable
from ecs_deployer_tools.demo import sample_app
from tests.cli.conftest import GATE, local_cloud, no_traceback, start_until_it_asks

if TYPE_CHECKING:
    from collections.abc import Iterator

    from ecs_deployer.history import HistoryRecord, RecordUpdate
    from tests.cli.conftest import Local

ACTOR = "arn:aws:sts::123456789012:user/moto"


@pytest.fixture(scope="module")
def gated() -> Iterator[Local]:
    with local_cloud(**GATE) as local:
        yield local


def _record(local: Local, deployment_id: str) -> HistoryRecord:
    record = local.table.find_record(sample_app.APP, deployment_id)
    assert record is not None
    return record


def test_nothing_to_answer_is_said_plainly(gated: Local) -> None:
    for verb in ("approve", "reject"):
        result = gated.run(verb, "shop")
        no_traceback(result)
        assert "no approval is pending for app 'shop'" in result.stderr


def test_an_approved_deployment_goes_on_and_records_its_approver(gated: Local) -> None:
    before = gated.running()
    name = start_until_it_asks(gated, "gate-1")
    # The pre tasks ran; no service changed yet; status shows the wait.
    assert gated.running() == before
    record = _record(gated, name)
    assert [task.state for task in record.tasks if task.phase == "pre"] == ["SUCCEEDED"]
    code, status = gated.json("status", "shop")
    assert code == 0
    [running] = status["apps"][0]["running"]
    assert (running["deployment_id"], running["status"]) == (name, "AWAITING_APPROVAL")
    assert "AWAITING_APPROVAL" in gated.run("status", "shop").stdout

    code, answered = gated.json("approve", "shop")
    assert (code, answered["deployment_id"], answered["answer"]) == (0, name, "APPROVED")
    gated.wait_idle()

    record = _record(gated, name)
    assert record.status == "SUCCEEDED"
    assert record.approval is not None
    assert (record.approval.status, record.approval.answered_by) == ("APPROVED", ACTOR)
    assert gated.running() != before
    assert "approved by moto" in gated.run("history", "shop").stdout
    # Answered once: nothing waits any more.
    again = gated.run("approve", "shop")
    no_traceback(again)
    assert "no approval is pending for app 'shop'" in again.stderr


def test_a_rejected_deployment_ends_rejected_having_changed_nothing(gated: Local) -> None:
    before = gated.running()
    name = start_until_it_asks(gated, "gate-2")

    result = gated.run("reject", "shop", "--reason", "freeze until Monday")
    assert result.exit_code == 0, result.output
    assert f"REJECTED {name} of shop" in result.stdout
    gated.wait_idle()

    code, outcome = gated.json("follow", name)
    assert (code, outcome["status"], outcome["error"]) == (1, "REJECTED", "ApprovalRejected")
    assert outcome["message"] == f"rejected by {ACTOR}: freeze until Monday"
    assert gated.running() == before
    record = _record(gated, name)
    assert (record.status, record.error) == ("REJECTED", "ApprovalRejected")
    assert record.approval is not None
    assert (record.approval.status, record.approval.reason) == ("REJECTED", "freeze until Monday")
    # The post tasks never ran, and the lock is free for the next deployment.
    assert [task.state for task in record.tasks if task.phase == "post"] == ["PENDING"]
    lock = gated.table.read_lock("shop", None)
    assert (lock.holder, lock.waiting) == (None, ())


def test_an_answer_the_record_no_longer_takes_is_refused_and_sends_nothing(
    gated: Local, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The deployment ends between finding its approval and recording the answer: the record,
    # final, refuses the update; nothing may be answered, nor said to be.
    name = start_until_it_asks(gated, "gate-late")
    update_record = DeploymentsTable.update_record

    def final_for_answers(
        table: DeploymentsTable, record: Any, update: RecordUpdate, **condition: Any
    ) -> bool:
        answered = update.approval is not None and update.approval.status != "PENDING"
        return False if answered else update_record(table, record, update, **condition)

    with monkeypatch.context() as patched:
        patched.setattr(DeploymentsTable, "update_record", final_for_answers)
        result = gated.run("approve", "shop")

    no_traceback(result)
    assert f"{name} ended meanwhile: nothing was answered" in result.stderr
    # The gate's token was not answered: the deployment still waits for an approval.
    code, status = gated.json("status", "shop")
    assert code == 0, status
    assert status["apps"][0]["running"][0]["status"] == "AWAITING_APPROVAL"
    # Answered now, so that the app's lock is free for what follows.
    assert gated.run("reject", "shop").exit_code == 0
    gated.wait_idle()
    assert _record(gated, name).status == "REJECTED"
