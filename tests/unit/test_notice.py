"""A finished deployment's readable summary (domain/lifecycle.py, ``notice``): what the SNS
summary topic receives."""

from __future__ import annotations

from msgspec.structs import replace

from ecs_deployer.domain.lifecycle import LifecycleDetail, notice
from ecs_deployer.outcome import ServiceSummary

EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:ecs-deployer-deploy:manual-1"
TASKDEF = "arn:aws:ecs:us-east-1:123456789012:task-definition/"


def _detail(**changes: object) -> LifecycleDetail:
    detail = LifecycleDetail(
        app="shop",
        deployment_id="manual-1",
        status="ROLLED_BACK",
        image="123456789012.dkr.ecr.us-east-1.amazonaws.com/shop:v2.0.0",
        trigger="manual",
        execution_arn=EXECUTION,
        console_url=f"https://us-east-1.console.aws.amazon.com/states/home#{EXECUTION}",
        services=[
            ServiceSummary(
                name="shop-web",
                task_definition_before=f"{TASKDEF}shop-web:3",
                task_definition_after=f"{TASKDEF}shop-web:3",
                state="FAILED",
                rollback="COMPLETED",
                reason="circuit breaker tripped",
            ),
            ServiceSummary(name="shop-worker", state="NOT_STARTED"),
        ],
        error="RolloutFailed",
        cause="service 'shop-web': 3 tasks failed to start",
    )
    return replace(detail, **changes)


def test_a_rolled_back_deployment_is_told_with_its_services_error_cause_and_link() -> None:
    told = notice(_detail())

    assert told.subject == "ecs-deployer: shop ROLLED_BACK (RolloutFailed)"
    assert told.body.splitlines() == [
        "Deployment Rolled Back: shop",
        "",
        "Status:     ROLLED_BACK",
        "Deployment: manual-1",
        "Image:      123456789012.dkr.ecr.us-east-1.amazonaws.com/shop:v2.0.0",
        "Trigger:    manual",
        "",
        "Services (revision before -> now):",
        "  shop-web: shop-web:3 -> shop-web:3 (FAILED, rollback COMPLETED)",
        "    circuit breaker tripped",
        "  shop-worker: - -> - (NOT_STARTED)",
        "",
        "Error: RolloutFailed",
        "",
        "Cause:",
        "service 'shop-web': 3 tasks failed to start",
        "",
        f"Execution: https://us-east-1.console.aws.amazon.com/states/home#{EXECUTION}",
    ]


def test_a_superseded_deployment_says_why_as_a_note() -> None:
    told = notice(_detail(status="SUPERSEDED", error=None, cause="v2.1.0 was pushed after it"))

    assert told.subject == "ecs-deployer: shop SUPERSEDED"
    assert "Error:" not in told.body
    assert "\nNote:\nv2.1.0 was pushed after it\n" in told.body


def test_the_subject_keeps_within_what_sns_accepts() -> None:
    """SNS: printable ASCII, no line breaks, under 100 characters."""
    told = notice(_detail(app="a" * 40, error="E" * 60 + "\u00e9\n"))

    assert len(told.subject) == 99
    assert told.subject.endswith("...")
    assert all(" " <= character <= "~" for character in told.subject)
