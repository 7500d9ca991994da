"""Every handler marks its X-Ray trace with the app and the deployment it works on
(ecs_deployer/tracing.py): the scenario's handlers run with a recorder in the Tracer's place.
(CloseExecution's: tests/steps/test_close.py.)"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from ecs_deployer import tracing
from ecs_deployer_tools.demo import runner
from ecs_deployer_tools.demo.scenarios import SCENARIOS
from tests.template.cfn import STEP_FUNCTION_DIRS

if TYPE_CHECKING:
    from collections.abc import Callable

pytestmark = pytest.mark.e2e


class _Recorder:
    """What each invocation annotated, invocation by invocation."""

    def __init__(self) -> None:
        self.invocations: list[dict[str, str]] = []

    def capture_lambda_handler(self, *, capture_response: bool) -> Callable[..., Any]:
        assert capture_response is False  # a step's answer is no trace metadata

        def decorate(handler: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
            def traced(event: Any, context: Any) -> Any:
                self.invocations.append({"function": context.function_name})
                return handler(event, context)

            return traced

        return decorate

    def put_annotation(self, key: str, value: str) -> None:
        self.invocations[-1][key] = value


def test_every_invocation_names_its_deployment_and_app(monkeypatch: pytest.MonkeyPatch) -> None:
    recorder = _Recorder()
    monkeypatch.setattr(tracing, "tracer", recorder)

    result = runner.run(SCENARIOS["happy"])

    deployment_id = (result.last.execution_arn or "").rpartition(":")[2]
    # ECS's events woke the waits: the notifier serves an event, which may wake the waits of
    # several deployments, so it names none.
    notified = [i for i in recorder.invocations if "NotifyWaitersFunction" in i["function"]]
    assert notified
    assert not [i for i in notified if "deployment_id" in i or "app" in i]
    invocations = [i for i in recorder.invocations if i not in notified]
    # Every step function's handler: the sample app's deployment runs tasks, so it uses them all.
    functions = {invocation["function"].split("-")[2] for invocation in invocations}
    assert functions == set(STEP_FUNCTION_DIRS)
    dispatch, *steps = invocations
    assert "app" not in dispatch  # the push's dispatcher: any app may want the push
    assert dispatch["deployment_id"] != deployment_id
    assert steps
    for invocation in steps:
        assert (invocation.get("app"), invocation.get("deployment_id")) == ("shop", deployment_id)
