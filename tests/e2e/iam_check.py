"""IAM over the whole end-to-end suite, from the calls the scenarios made (a plugin the root
conftest loads, so that xdist's controller, which collects nothing, has it too).

Every local cloud authorizes each Lambda call against the function's role and keeps the
decisions (`iam/guard.py`). This plugin gathers the ledgers of the clouds the e2e tests
create (in each xdist worker; the workers hand theirs to the controller) and, once the whole
e2e suite has run, fails the session when:

* a grant (one Action entry of one statement of a policy the stack defines) allowed no call
  of any e2e test: the role grants more than the code uses;
* a call of our code was refused (a best-effort read that swallows its AccessDenied would
  otherwise pass unseen); a test that is refused on purpose takes its refusals out of the
  ledger (`Ledger.take_denied`) as it asserts them;
* a write of the Lambda service itself (the function's logs, its X-Ray segments) was refused:
  on AWS the logs would be lost.

AWS managed policies (the basic execution role, X-Ray write access) are evaluated but not
counted as grants: they are AWS's to narrow, not ours. No scenario runs twice for this: it
reads what the suite did anyway.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from ecs_deployer_tools.localcloud.iam import guard

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from ecs_deployer_tools.localcloud.iam.policy import Grant

E2E_DIR = Path(__file__).parent
_OUTPUT_KEY = "iam_usage"


class Usage:
    """What the e2e tests' clouds granted, used and refused."""

    def __init__(self) -> None:
        self.granted: dict[str, set[tuple[str, str, str]]] = {}
        self.used: dict[str, set[tuple[str, str, str]]] = {}
        self.refused: set[str] = set()
        self.complete = False  # every e2e test file collected, none deselected

    def add_ledger(self, ledger: guard.Ledger, module: str) -> None:
        for caller, granted in ledger.grants.items():
            self.granted.setdefault(caller, set()).update(_keys(granted))
        for caller, used in ledger.used().items():
            self.used.setdefault(caller, set()).update(_keys(used))
        for authorization in ledger.denied():
            request = authorization.decision.request
            who = "the Lambda service for " if authorization.by_runtime else ""
            self.refused.add(
                f"{module}: {who}{authorization.caller}: {request.action} on {request.resource}"
            )

    def to_json(self) -> str:
        return json.dumps(
            {
                "granted": {k: sorted(v) for k, v in self.granted.items()},
                "used": {k: sorted(v) for k, v in self.used.items()},
                "refused": sorted(self.refused),
                "complete": self.complete,
            }
        )

    def merge_json(self, text: str) -> None:
        data = json.loads(text)
        for field in ("granted", "used"):
            mine = getattr(self, field)
            for caller, keys in data[field].items():
                mine.setdefault(caller, set()).update(tuple(key) for key in keys)
        self.refused.update(data["refused"])
        # Every worker collects every test: each knows whether the e2e suite is whole.
        self.complete = data["complete"]

    def unused(self) -> list[str]:
        return sorted(
            f"{caller}: {policy} statement {statement}: {entry}"
            for caller, grants in self.granted.items()
            for policy, statement, entry in grants - self.used.get(caller, set())
        )


# CloudFormation names a managed policy STACK-LOGICALID-SUFFIX, the suffix random: the local
# clouds of different modules, seeded alike but set up differently, made different ones.
_GENERATED_SUFFIX = re.compile(r"(:policy/.+)-[A-Z0-9]{12}$")


def _keys(grants: Iterable[Grant]) -> set[tuple[str, str, str]]:
    return {
        (_GENERATED_SUFFIX.sub(r"\1", grant.policy), grant.statement, grant.entry)
        for grant in grants
    }


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_USAGE] = Usage()


_USAGE = pytest.StashKey[Usage]()


@pytest.hookimpl(tryfirst=True)  # before -k/-m deselect: pytest_deselected then says so
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Only a run of every e2e test can judge grants: one file alone uses fewer.
    files = {Path(item.path) for item in items if Path(item.path).parent == E2E_DIR}
    config.stash[_USAGE].complete = files == set(E2E_DIR.glob("test_*.py"))


def pytest_deselected(items: list[pytest.Item]) -> None:
    if any(Path(item.path).parent == E2E_DIR for item in items):
        items[0].config.stash[_USAGE].complete = False


@pytest.fixture(scope="module", autouse=True)
def _iam_ledgers(request: pytest.FixtureRequest) -> Iterator[None]:
    """Keep the ledger of every cloud the module's tests create, its module-scoped clouds
    included (an autouse fixture is set up before the module's other fixtures), and add them
    up once the module is done."""
    if Path(request.node.path).parent != E2E_DIR:
        yield
        return
    ledgers: list[guard.Ledger] = []
    original = guard.IamGuard.__init__

    def init(self: guard.IamGuard, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        ledgers.append(self.ledger)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(guard.IamGuard, "__init__", init)
        yield
    usage = request.config.stash[_USAGE]
    for ledger in ledgers:
        usage.add_ledger(ledger, request.node.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    usage = config.stash[_USAGE]
    worker_output = getattr(config, "workeroutput", None)
    if worker_output is not None:  # an xdist worker: the controller judges
        worker_output[_OUTPUT_KEY] = usage.to_json()
        return
    if not usage.complete or session.testsfailed or session.shouldfail:
        return
    findings = [f"granted but never used: {line}" for line in usage.unused()]
    findings += [f"refused: {line}" for line in sorted(usage.refused)]
    config.stash[_FINDINGS] = findings
    if findings:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


_FINDINGS = pytest.StashKey[list[str]]()


def pytest_testnodedown(node: Any, error: Any) -> None:
    output = getattr(node, "workeroutput", {}).get(_OUTPUT_KEY)
    if output is not None:
        node.config.stash[_USAGE].merge_json(output)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    findings = config.stash.get(_FINDINGS, None)
    if findings is None:  # not judged: part of the e2e suite ran, or a test failed
        return
    terminalreporter.section("IAM from the calls the e2e tests made", red=bool(findings))
    for line in findings:
        terminalreporter.line(line)
    if not findings:
        usage = config.stash[_USAGE]
        grants = sum(len(granted) for granted in usage.granted.values())
        terminalreporter.line(
            f"every call allowed; all {grants} grants of {len(usage.granted)} functions used"
        )
