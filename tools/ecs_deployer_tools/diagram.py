"""A picture of the deploy state machine: a Mermaid flowchart of every state of
statemachine/deploy.asl.json, grouped by phase, drawn from the ASL itself.

``make diagram`` writes docs/state-machine.md and the README's copy (between its marker
comments); a test keeps both equal to what the ASL says now.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
ASL_PATH = REPO_ROOT / "statemachine" / "deploy.asl.json"
DOC_PATH = REPO_ROOT / "docs" / "state-machine.md"
README_PATH = REPO_ROOT / "README.md"
README_BEGIN = "<!-- state machine diagram: written by `make diagram`, do not edit -->"
README_END = "<!-- end of the state machine diagram -->"

# The phases, in pipeline order, each named by the state it begins with (the names the live
# view prints). A phase holds that state and every state reached from it, by any edge, before
# another phase's first state: a new state joins the phase that leads to it, and one reached
# from two phases, or from none, is refused until it begins a phase of its own here.
PHASES = {
    "Resolve": "check the request",
    "Dispatch": "dispatch to apps",
    "AcquireLock": "lock",
    "RegisterTaskDefinitions": "register task definitions",
    "HasPreTasks?": "tasks before the rollout",
    "ApprovalRequired?": "waiting for approval",
    "CheckpointBeforeServices": "rollout",
    "HasPostTasks?": "tasks after the rollout",
    "RollbackPolicy": "rollback",
    "Finalize": "finalize",
    "RouteOutcome": "outcome",
    "Promote?": "promote to the next environment",
}

# Mermaid's node shape for each ASL state type, as (opening, closing) around the label.
SHAPES = {
    "Task": ('["', '"]'),
    "Map": ('[["', '"]]'),
    "Parallel": ('[["', '"]]'),
    "Choice": ('{{"', '"}}'),
    "Wait": ('>"', '"]'),
    "Pass": ('[/"', '"/]'),
    "Succeed": ('("', '")'),
    "Fail": ('("', '")'),
}
TERMINAL_CLASSES = {
    "Succeed": "succeed fill:#e6f4ea,stroke:#1e8e3e,color:#000",
    "Fail": "fail fill:#fce8e6,stroke:#d93025,color:#000",
}
FAILURE_LINK_STYLE = "stroke:#d93025"
CATCH_EVERYTHING = "States.ALL"

LEGEND = """\
How to read it:

- A box with a title is a phase. Rectangles are Task states (a Lambda step or an AWS call),
  double-edged ones Map states (the box beside holds what runs for each item), hexagons
  Choice states, flags Wait states, slanted boxes Pass states, and rounded boxes the states
  an execution ends in: green `Succeed`, red `Fail`.
- A solid arrow is a transition: `Next`, a Choice rule (labelled with its condition) or its
  `Default` (`otherwise`). A dashed red arrow is a `Catch`: where a failure goes, labelled
  with the errors it catches unless it catches every error. Retries are not drawn: a Catch
  applies once a Task's `Retry` gives up.
- A box listing several end states stands for each of them: the Choice before it goes to
  the one whose name is the value its arrow tests (`outcome.error = its name`).
"""


@dataclass(frozen=True)
class Node:
    """What the picture draws for one state, or for several terminal states alike."""

    node_id: str
    states: tuple[str, ...]
    kind: str  # the ASL Type
    phase: str
    inside: str | None  # the Map or Parallel state whose iteration or branch holds it


@dataclass(frozen=True)
class Edge:
    source: str  # state names
    target: str
    label: str
    failure: bool  # a Catch


@dataclass(frozen=True)
class Diagram:
    nodes: list[Node]
    edges: list[Edge]
    node_of: dict[str, Node]  # by state name


def load_definition() -> dict[str, Any]:
    definition: dict[str, Any] = json.loads(ASL_PATH.read_text())
    return definition


def all_states(definition: dict[str, Any]) -> dict[str, tuple[dict[str, Any], str | None]]:
    """Every state, with the Map or Parallel state it runs inside (None at the top)."""
    found: dict[str, tuple[dict[str, Any], str | None]] = {}

    def collect(states: dict[str, Any], inside: str | None) -> None:
        for name, state in states.items():
            if name in found:
                raise ValueError(f"state {name!r} is defined twice")
            found[name] = (state, inside)
            for inner in inner_machines(state):
                collect(inner["States"], name)

    collect(definition["States"], None)
    return found


def inner_machines(state: dict[str, Any]) -> list[dict[str, Any]]:
    """A Map's iteration or a Parallel's branches: each has StartAt and States."""
    if state["Type"] == "Map":
        return [state.get("ItemProcessor") or state["Iterator"]]
    if state["Type"] == "Parallel":
        return list(state["Branches"])
    return []


def condition(rule: dict[str, Any]) -> str:
    """A Choice rule as an arrow's label, e.g. `progress = WAIT`."""
    variable = str(rule.get("Variable", "")).removeprefix("$.")
    comparator, value = next(
        (key, value) for key, value in rule.items() if key not in ("Variable", "Next")
    )
    if comparator == "IsPresent":
        return f"{variable} {'present' if value else 'absent'}"
    shown = value if isinstance(value, str) else json.dumps(value)
    if comparator.endswith("Equals"):
        return f"{variable} = {shown}"
    return f"{variable} {comparator} {shown}"


def transitions(name: str, state: dict[str, Any]) -> list[Edge]:
    """Every way out of a state, in the ASL's order: into its iteration or branches, its
    Choice rules, Default, Next, then its Catches."""
    into = "branch" if state["Type"] == "Parallel" else "each item"
    if "ItemsPath" in state:
        into = f"each of {state['ItemsPath'].removeprefix('$.')}"
    edges = [Edge(name, inner["StartAt"], into, False) for inner in inner_machines(state)]
    edges += [Edge(name, rule["Next"], condition(rule), False) for rule in state.get("Choices", [])]
    if "Default" in state:
        edges.append(Edge(name, state["Default"], "otherwise", False))
    if "Next" in state:
        edges.append(Edge(name, state["Next"], "", False))
    for catch in state.get("Catch", []):
        errors = [error for error in catch["ErrorEquals"] if error != CATCH_EVERYTHING]
        edges.append(Edge(name, catch["Next"], ", ".join(errors), True))
    return edges


def place_in_phases(states: dict[str, Any], edges: list[Edge]) -> dict[str, str]:
    """Each state's phase, by the rule above PHASES."""
    successors: dict[str, list[str]] = {name: [] for name in states}
    for edge in edges:
        successors[edge.source].append(edge.target)
    phase_of: dict[str, str] = {}
    for first, phase in PHASES.items():
        if first not in states:
            raise ValueError(f"phase {phase!r} begins with {first!r}, which is no state")
        pending = [first]
        while pending:
            name = pending.pop()
            if name in phase_of:
                if phase_of[name] != phase:
                    raise ValueError(
                        f"state {name!r} is reached from phases {phase_of[name]!r} and "
                        f"{phase!r}: let it begin a phase in diagram.PHASES"
                    )
                continue
            phase_of[name] = phase
            pending += [target for target in successors[name] if target not in PHASES]
    unplaced = sorted(states.keys() - phase_of.keys())
    if unplaced:
        raise ValueError(f"no phase reaches {unplaced}: let them begin one in diagram.PHASES")
    return phase_of


def node_id(name: str) -> str:
    return re.sub(r"\W", "", name)


def named_after_their_value(
    states: dict[str, tuple[dict[str, Any], str | None]],
) -> dict[str, str]:
    """Terminal states of one type that a Choice reaches when one variable equals the state's
    own name (RouteOutcome's `outcome.error = InputError` → InputError), by the id of the one
    node drawn for them all. A Default stays an arrow of its own."""
    groups: dict[str, list[str]] = {}
    for choice, (state, _) in states.items():
        for rule in state.get("Choices", []):
            target = rule["Next"]
            kind = states[target][0]["Type"]
            if kind in TERMINAL_CLASSES and rule.get("StringEquals") == target:
                group = f"{node_id(choice)}_{node_id(rule['Variable'])}_{kind.lower()}"
                groups.setdefault(group, []).append(target)
    return {name: group for group, names in groups.items() if len(names) > 1 for name in names}


def build(definition: dict[str, Any]) -> Diagram:
    states = all_states(definition)
    edges = [edge for name, (state, _) in states.items() for edge in transitions(name, state)]
    phase_of = place_in_phases(states, edges)
    grouped = named_after_their_value(states)
    members: dict[str, list[str]] = {}
    for name in states:
        members.setdefault(grouped.get(name, node_id(name)), []).append(name)
    nodes = []
    for identifier, names in members.items():
        state, inside = states[names[0]]
        nodes.append(Node(identifier, tuple(names), state["Type"], phase_of[names[0]], inside))
    if len(members) != len({node.node_id.lower() for node in nodes}):
        raise ValueError("two states would share one Mermaid id: rename one")
    node_of = {name: node for node in nodes for name in node.states}
    # The arrows into a grouped node, one per state, are drawn as one.
    arrows: dict[tuple[str, str, str, bool], Edge] = {}
    for edge in edges:
        label = _group_label(edge.label) if edge.target in grouped else edge.label
        drawn = (node_of[edge.source].node_id, node_of[edge.target].node_id, label, edge.failure)
        arrows.setdefault(drawn, Edge(edge.source, edge.target, label, edge.failure))
    return Diagram(nodes, list(arrows.values()), node_of)


def _group_label(label: str) -> str:
    variable, _, _ = label.partition(" = ")
    return f"{variable} = its name"


def mermaid(diagram: Diagram) -> str:
    lines = ["flowchart TD"]
    for phase in PHASES.values():
        lines.append(f'  subgraph {_phase_id(phase)} ["{phase}"]')
        lines += _node_lines(diagram, phase, None, "    ")
        lines.append("  end")
    node_of = diagram.node_of
    for edge in diagram.edges:
        arrow = "-.->" if edge.failure else "-->"
        label = f'|"{_escaped(edge.label)}"|' if edge.label else ""
        lines.append(
            f"  {node_of[edge.source].node_id} {arrow}{label} {node_of[edge.target].node_id}"
        )
    for kind, style in TERMINAL_CLASSES.items():
        ends = [node.node_id for node in diagram.nodes if node.kind == kind]
        if ends:
            lines += [f"  classDef {style}", f"  class {','.join(ends)} {style.split()[0]}"]
    failures = [str(index) for index, edge in enumerate(diagram.edges) if edge.failure]
    if failures:
        lines.append(f"  linkStyle {','.join(failures)} {FAILURE_LINK_STYLE}")
    return "\n".join(lines) + "\n"


def _node_lines(diagram: Diagram, phase: str, inside: str | None, indent: str) -> list[str]:
    """The nodes of a phase that run inside ``inside``; each Map or Parallel is followed by a
    box of what runs inside it."""
    lines = []
    for node in diagram.nodes:
        if node.phase != phase or node.inside != inside:
            continue
        opening, closing = SHAPES[node.kind]
        label = _escaped("<br/>".join(node.states))  # a grouped node: one name a line
        lines.append(f"{indent}{node.node_id}{opening}{label}{closing}")
        if node.kind in ("Map", "Parallel"):
            title = "each item" if node.kind == "Map" else "branches"
            lines.append(f'{indent}subgraph {node.node_id}_inside ["{node.states[0]}: {title}"]')
            lines += _node_lines(diagram, phase, node.states[0], indent + "  ")
            lines.append(f"{indent}end")
    return lines


def _phase_id(phase: str) -> str:
    return "phase_" + re.sub(r"\W+", "_", phase)


def _escaped(text: str) -> str:
    return text.replace('"', "#quot;")


def mermaid_block(definition: dict[str, Any]) -> str:
    return f"```mermaid\n{mermaid(build(definition))}```\n"


def document(definition: dict[str, Any]) -> str:
    return (
        "# The deploy state machine\n\n"
        "<!-- Written by `make diagram` (python -m ecs_deployer_tools.diagram) from\n"
        "statemachine/deploy.asl.json; a test keeps it current. Do not edit. -->\n\n"
        "Every state of [`statemachine/deploy.asl.json`](../statemachine/deploy.asl.json),\n"
        "grouped by phase. [architecture.md](architecture.md) says what each step does.\n\n"
        f"{mermaid_block(definition)}\n{LEGEND}"
    )


def readme_with_diagram(readme: str, definition: dict[str, Any]) -> str:
    """The README with the diagram between its markers replaced by the current one."""
    before, begin, rest = readme.partition(README_BEGIN)
    _, end, after = rest.partition(README_END)
    if not (begin and end):
        raise ValueError(f"README.md lacks the markers {README_BEGIN!r} ... {README_END!r}")
    return f"{before}{begin}\n{mermaid_block(definition)}{end}{after}"


def main() -> None:
    definition = load_definition()
    DOC_PATH.write_text(document(definition))
    README_PATH.write_text(readme_with_diagram(README_PATH.read_text(), definition))


if __name__ == "__main__":
    main()
