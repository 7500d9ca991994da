"""The state machine diagram (docs/state-machine.md, and its copy in the README) is what
`make diagram` draws from the current ASL, and it draws every state in a phase and every
transition of statemachine/deploy.asl.json, failures apart."""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Any

import pytest

from ecs_deployer_tools.cli.live import PHASES as LIVE_VIEW_PHASES
from ecs_deployer_tools.diagram import (
    DOC_PATH,
    PHASES,
    README_PATH,
    build,
    document,
    load_definition,
    readme_with_diagram,
)

# The Mermaid the generator writes, read back line by line.
NODE = re.compile(r'^\s*(\w+)\W*"([^"]*)"\W*$')
EDGE = re.compile(r'^\s*(\w+) (-->|-\.->)(?:\|"[^"]*"\|)? (\w+)$')
SUBGRAPH = re.compile(r'^\s*subgraph \w+ \["([^"]*)"\]$')
CLASS = re.compile(r"^\s*class ([\w,]+) (\w+)$")
LINK_STYLE = re.compile(r"^\s*linkStyle ([\d,]+) ")

Arrow = tuple[str, str]  # node ids


@dataclass
class Drawing:
    states_of: dict[str, list[str]] = field(default_factory=dict)  # by node id
    phase_of: dict[str, str] = field(default_factory=dict)  # the outermost box, by node id
    arrows: list[tuple[Arrow, bool]] = field(default_factory=list)  # (arrow, is a failure)
    classes: dict[str, set[str]] = field(default_factory=dict)
    styled_links: set[int] = field(default_factory=set)

    def node_of(self, state: str) -> str:
        (node,) = [node for node, states in self.states_of.items() if state in states]
        return node


def read_drawing(markdown: str) -> Drawing:
    match = re.search(r"```mermaid\n(.*?)```", markdown, re.DOTALL)
    assert match, "no mermaid block"
    drawing = Drawing()
    boxes: list[str] = []
    for line in match[1].splitlines():
        if subgraph := SUBGRAPH.match(line):
            boxes.append(subgraph[1])
        elif line.strip() == "end":
            boxes.pop()
        elif edge := EDGE.match(line):
            drawing.arrows.append(((edge[1], edge[3]), edge[2] == "-.->"))
        elif node := NODE.match(line):
            drawing.states_of[node[1]] = node[2].split("<br/>")
            drawing.phase_of[node[1]] = boxes[0] if boxes else ""
        elif styled := CLASS.match(line):
            drawing.classes[styled[2]] = set(styled[1].split(","))
        elif links := LINK_STYLE.match(line):
            drawing.styled_links = {int(index) for index in links[1].split(",")}
    return drawing


def inner_machines(state: dict[str, Any]) -> list[dict[str, Any]]:
    """A Map's iteration and a Parallel's branches."""
    machines = [state.get("ItemProcessor") or state.get("Iterator"), *state.get("Branches", [])]
    return [machine for machine in machines if machine]


def asl_states(states: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every state, those inside Map and Parallel states included."""
    found = dict(states)
    for state in states.values():
        for machine in inner_machines(state):
            found |= asl_states(machine["States"])
    return found


def asl_transitions(state: dict[str, Any]) -> list[str]:
    return [
        *(machine["StartAt"] for machine in inner_machines(state)),
        *(rule["Next"] for rule in state.get("Choices", [])),
        *filter(None, [state.get("Default"), state.get("Next")]),
    ]


@pytest.fixture(scope="module")
def definition() -> dict[str, Any]:
    return load_definition()


@pytest.fixture(scope="module")
def states(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return asl_states(definition["States"])


@pytest.fixture(scope="module")
def drawing() -> Drawing:
    return read_drawing(DOC_PATH.read_text())


def test_committed_diagram_is_current(definition: dict[str, Any]) -> None:
    assert DOC_PATH.exists(), f"{DOC_PATH} missing: run `make diagram`"
    assert DOC_PATH.read_text() == document(definition), "stale: run `make diagram`"


def test_readme_shows_the_current_diagram(definition: dict[str, Any]) -> None:
    readme = README_PATH.read_text()
    assert readme_with_diagram(readme, definition) == readme, "stale: run `make diagram`"


def test_every_state_is_drawn_once_in_a_phase(
    drawing: Drawing, states: dict[str, dict[str, Any]]
) -> None:
    drawn = [state for names in drawing.states_of.values() for state in names]
    assert sorted(drawn) == sorted(states)
    assert set(drawing.phase_of.values()) == set(PHASES.values())


def test_every_catch_is_a_failure_arrow_and_every_transition_a_solid_one(
    drawing: Drawing, states: dict[str, dict[str, Any]]
) -> None:
    catches = {
        (drawing.node_of(name), drawing.node_of(catch["Next"]))
        for name, state in states.items()
        for catch in state.get("Catch", [])
    }
    transitions = {
        (drawing.node_of(name), drawing.node_of(target))
        for name, state in states.items()
        for target in asl_transitions(state)
    }
    assert {arrow for arrow, failure in drawing.arrows if failure} == catches
    assert {arrow for arrow, failure in drawing.arrows if not failure} == transitions
    failures = {index for index, (_, failure) in enumerate(drawing.arrows) if failure}
    assert drawing.styled_links == failures, "failure arrows are the red ones"


def test_end_states_are_marked(drawing: Drawing, states: dict[str, dict[str, Any]]) -> None:
    for kind, css_class in (("Succeed", "succeed"), ("Fail", "fail")):
        ends = {drawing.node_of(name) for name, state in states.items() if state["Type"] == kind}
        assert drawing.classes[css_class] == ends


def test_a_new_state_joins_the_phase_that_leads_to_it(definition: dict[str, Any]) -> None:
    changed = copy.deepcopy(definition)
    changed["States"]["RegisterTaskDefinitions"]["Next"] = "Announce"
    changed["States"]["Announce"] = {"Type": "Pass", "Next": "HasPreTasks?"}
    assert build(changed).node_of["Announce"].phase == "register task definitions"


def test_a_state_no_phase_reaches_is_refused(definition: dict[str, Any]) -> None:
    changed = copy.deepcopy(definition)
    changed["States"]["Orphan"] = {"Type": "Succeed"}
    with pytest.raises(ValueError, match="Orphan"):
        build(changed)


def test_a_state_two_phases_reach_is_refused(definition: dict[str, Any]) -> None:
    changed = copy.deepcopy(definition)
    changed["States"]["Notify"] = {"Type": "Pass", "Next": "Finalize"}
    changed["States"]["AcquireLock"]["Catch"][0]["Next"] = "Notify"
    changed["States"]["RunPreTasks"]["Catch"][0]["Next"] = "Notify"
    with pytest.raises(ValueError, match="Notify"):
        build(changed)


def test_phases_are_the_ones_the_live_view_prints(definition: dict[str, Any]) -> None:
    node_of = build(definition).node_of
    shown = {state: phase for state, phase in LIVE_VIEW_PHASES.items() if phase}
    assert {state: node_of[state].phase for state in shown} == shown
