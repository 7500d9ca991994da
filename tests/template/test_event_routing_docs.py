"""The README's recipes for routing deployment events to Slack hold together: the rule
pattern names every detail-type the deployer publishes, and each input transformer makes
what its target accepts (a Chatbot custom notification; a Slack webhook's text)."""

from __future__ import annotations

import json
import re
from typing import Any

import yaml

from ecs_deployer.domain.lifecycle import DETAIL_TYPES, SOURCE
from tests.template.cfn import REPO_ROOT

_YAML_BLOCK = re.compile(r"```yaml\n(.*?)```", re.DOTALL)
_EXAMPLE_DETAIL = {
    "app": "shop",
    "deployment_id": "shop-1",
    "status": "FAILED",
    "image": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop:v2.0.0",
    "console_url": "https://eu-west-1.console.aws.amazon.com/states/home",
}


def _routing_section() -> str:
    readme = (REPO_ROOT / "README.md").read_text()
    start = readme.index("#### Routing the events to Slack")
    return readme[start : readme.index("\n### ", start)]


class _Loader(yaml.SafeLoader):
    """CloudFormation's short-form tags (`!Ref`, `!GetAtt`) read as plain values."""


_Loader.add_multi_constructor("!", lambda loader, _tag, node: loader.construct_scalar(node))


def _blocks() -> list[Any]:
    return [yaml.load(block, Loader=_Loader) for block in _YAML_BLOCK.findall(_routing_section())]


def _transformed(transformer: dict[str, Any]) -> Any:
    """What EventBridge sends the target for an example event: placeholders filled in."""
    event = {"detail-type": "Deployment Failed", "detail": _EXAMPLE_DETAIL}
    template: str = transformer["InputTemplate"]
    for name, path in transformer["InputPathsMap"].items():
        value: Any = event
        for key in path.removeprefix("$.").split("."):
            value = value[key]
        template = template.replace(f"<{name}>", value)
    return json.loads(template)


def test_the_rule_pattern_matches_every_deployment_event() -> None:
    pattern, *_ = _blocks()
    assert pattern["EventPattern"]["source"] == [SOURCE]
    assert set(pattern["EventPattern"]["detail-type"]) == set(DETAIL_TYPES.values())


def test_each_target_gets_what_it_accepts() -> None:
    targets = {
        target["Id"]: target
        for block in _blocks()
        for resource in block.values()
        if isinstance(resource, dict) and resource.get("Type") == "AWS::Events::Rule"
        for target in resource["Properties"]["Targets"]
    }
    notification = _transformed(targets["chatbot"]["InputTransformer"])
    # Chatbot's custom notification: version 1.0, source custom, a description.
    assert (notification["version"], notification["source"]) == ("1.0", "custom")
    assert notification["content"]["textType"] == "client-markdown"
    assert "shop" in notification["content"]["title"]
    assert _EXAMPLE_DETAIL["console_url"] in notification["content"]["description"]
    slack = _transformed(targets["slack"]["InputTransformer"])
    assert set(slack) == {"text"}
    assert "Deployment Failed: shop (FAILED)" in slack["text"]
