"""`ecs-deployer approve` and `reject` at PAUSE hooks: web deploys blue/green and pauses after
its test traffic shift, inside ECS's own service deployment; the app's gate asks first. And
the approver policy grants exactly the calls both kinds of answers make."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from ecs_deployer_tools.demo import sample_app
from tests.cli.conftest import GATE, local_cloud, run_until_asked, start_until_it_asks
from tests.cli.test_operator_policies import actions_of, policy_actions

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tests.cli.conftest import Local

_PAUSED_WEB = {
    "strategy": "BLUE_GREEN",
    "bakeTimeInMinutes": 5,
    "lifecycleHooks": [{"targetType": "PAUSE", "lifecycleStages": ["POST_TEST_TRAFFIC_SHIFT"]}],
}


@pytest.fixture(scope="module")
def paused() -> Iterator[Local]:
    with local_cloud(web_deployment=_PAUSED_WEB, **GATE) as local:
        yield local


def _status(local: Local, deployment_id: str) -> str:
    code, document = local.json("follow", deployment_id)
    assert code in (0, 1), document
    status: str = document["status"]
    return status


def test_approve_continues_a_paused_hook_and_reject_rolls_it_back(paused: Local) -> None:
    granted = policy_actions(paused, "ApproverPolicyArn")
    before = paused.running()

    # The gate first, then web's PAUSE hook, each answered through the CLI.
    name = start_until_it_asks(paused, "pause-1")
    used = actions_of(paused, ("approve", "shop"))
    run_until_asked(paused, name, sample_app.WEB)
    code, status = paused.json("status", "shop")
    assert code == 0
    assert status["apps"][0]["running"][0]["status"] == "AWAITING_APPROVAL"
    used |= actions_of(paused, ("approve", "shop"))
    paused.wait_idle()
    assert _status(paused, name) == "SUCCEEDED"
    record = paused.table.find_record(sample_app.APP, name)
    assert record is not None
    assert record.approval is not None
    assert (record.approval.status, record.approval.service) == ("APPROVED", sample_app.WEB)
    after_first = paused.running()
    assert after_first != before

    # Rejected at the hook: ECS rolls web back, the deployer worker: never a success.
    name = start_until_it_asks(paused, "pause-2")
    used |= actions_of(paused, ("approve", "shop"))
    run_until_asked(paused, name, sample_app.WEB)
    used |= actions_of(paused, ("reject", "shop", "--reason", "green looks wrong"))
    paused.wait_idle()
    assert _status(paused, name) == "ROLLED_BACK"
    assert paused.running() == after_first

    # Rejected at the gate.
    name = start_until_it_asks(paused, "pause-3")
    used |= actions_of(paused, ("reject", "shop"))
    paused.wait_idle()
    assert _status(paused, name) == "REJECTED"

    assert used - granted == set(), "`ecs-deployer approve/reject` is denied"
    assert granted - used == set(), "granted, but no command calls it"
