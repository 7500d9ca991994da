"""`ecs-deployer approve` and `reject` at PAUSE hooks: web deploys blue/green and pauses after
its test traffic shift, inside ECS's own service deployment; the app's gate asks first. And
the approver policy grants exactly the calls both kinds of answers make."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from ecs_deployer.domain.waiters import service_key
from ecs_deployer_tools.demo import sample_app
from tests.cli.conftest import GATE, local_cloud, run_until_asked, start_until_it_asks
from tests.cli.test_operator_policies import actions_of, output_and_actions_of, policy_actions

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


def _web_waiter(local: Local, deployment_id: str) -> str | None:
    """The token of the deployment's wait on web's rollout, while one is stored."""
    document = local.table.load_document(sample_app.APP, deployment_id)
    assert document is not None
    waiters = dict(local.table.waiter_items.waiters(service_key(document.cluster, sample_app.WEB)))
    return waiters.get(f"{sample_app.APP}#{deployment_id}")


def _run_until_it_waits_on_web(local: Local, deployment_id: str) -> None:
    local.cloud.scheduler.run_until(lambda: _web_waiter(local, deployment_id) is not None)


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
    _run_until_it_waits_on_web(paused, name)
    waiting = _web_waiter(paused, name)
    output, at_hook = output_and_actions_of(paused, ("approve", "shop"))
    assert "the answer is recorded and the deployment woken: it continues" in output
    # The answer is recorded and the deployment's wait woken; the deployer continues the
    # hook (through the app account's ECS): the operator makes no ECS call.
    assert "states:SendTaskSuccess" in at_hook
    assert not [action for action in at_hook if action.startswith("ecs:")]
    # Woken and forgotten (the check it woke may have begun a new wait since).
    assert _web_waiter(paused, name) != waiting
    used |= at_hook
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

    # Rejected at the gate; answering another environment's approval answers nothing.
    name = start_until_it_asks(paused, "pause-3")
    result = paused.run("reject", "shop", "--environment", "production")
    assert result.exit_code == 1
    assert "no approval is pending for app 'shop' in environment 'production'" in result.output
    used |= actions_of(paused, ("reject", "shop"))
    paused.wait_idle()
    assert _status(paused, name) == "REJECTED"

    assert used - granted == set(), "`ecs-deployer approve/reject` is denied"
    assert granted - used == set(), "granted, but no command calls it"
