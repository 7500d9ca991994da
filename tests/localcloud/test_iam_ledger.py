"""The e2e suite's IAM check (tests/e2e/iam_check.py) from ledgers: unused grants and refused
calls are found, and what an xdist worker hands over adds up at the controller."""

from __future__ import annotations

from ecs_deployer_tools.localcloud.iam.guard import Authorization, Ledger
from ecs_deployer_tools.localcloud.iam.policy import AuthorizationRequest, Decision, Grant
from tests.e2e.iam_check import Usage

USED = Grant("ResolveFunctionRolePolicy0", "ReadAppConfigs", "ssm:GetParameter")
UNUSED = Grant("ResolveFunctionRolePolicy0", "ReadAppConfigs", "ssm:GetParameters")
REQUEST = AuthorizationRequest("ssm:GetParameter", "arn:aws:ssm:us-east-1:1:parameter/a", {})


def ledger(*authorizations: Authorization) -> Ledger:
    result = Ledger()
    result.declare("ResolveFunction", frozenset({USED, UNUSED}))
    for authorization in authorizations:
        result.add(authorization)
    return result


def allowed() -> Authorization:
    return Authorization("ResolveFunction", Decision(REQUEST, allowed=True, grants=(USED,)))


def refused(*, by_runtime: bool = False) -> Authorization:
    return Authorization(
        "ResolveFunction", Decision(REQUEST, allowed=False, grants=()), by_runtime=by_runtime
    )


def test_a_grant_no_call_used_is_unused() -> None:
    usage = Usage()
    usage.add_ledger(ledger(allowed()), "tests/e2e/test_a.py")

    assert usage.unused() == [
        "ResolveFunction: ResolveFunctionRolePolicy0 statement ReadAppConfigs: ssm:GetParameters"
    ]
    assert usage.refused == set()


def test_refusals_of_our_code_and_of_the_lambda_service_are_both_findings() -> None:
    usage = Usage()
    usage.add_ledger(ledger(refused(), refused(by_runtime=True)), "tests/e2e/test_a.py")

    assert usage.refused == {
        "tests/e2e/test_a.py: ResolveFunction: ssm:GetParameter on "
        "arn:aws:ssm:us-east-1:1:parameter/a",
        "tests/e2e/test_a.py: the Lambda service for ResolveFunction: ssm:GetParameter on "
        "arn:aws:ssm:us-east-1:1:parameter/a",
    }


def test_a_refusal_taken_out_by_its_test_is_no_finding() -> None:
    provoked = ledger(allowed(), refused())
    taken = provoked.take_denied()
    usage = Usage()
    usage.add_ledger(provoked, "tests/e2e/test_a.py")

    assert [a.decision.allowed for a in taken] == [False]
    assert usage.refused == set()


def test_workers_usages_add_up_at_the_controller() -> None:
    worker_a, worker_b = Usage(), Usage()
    worker_a.add_ledger(ledger(allowed()), "tests/e2e/test_a.py")
    worker_b.add_ledger(ledger(), "tests/e2e/test_b.py")
    worker_a.complete = worker_b.complete = True
    controller = Usage()

    controller.merge_json(worker_b.to_json())
    controller.merge_json(worker_a.to_json())

    assert controller.complete
    assert controller.unused() == worker_a.unused()
    assert len(controller.unused()) == 1
