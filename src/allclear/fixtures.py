"""What a check may ask for: pytest fixtures, listed by `pytest --fixtures`, overridable as usual.

The target, its secrets, the probe's evidence folder, the email window and the browser are owned
by the run: observations (`@observation`) are given them when the run starts, before any fixture
is set up, so overriding one of these fixtures changes what a *test* sees, not what its probe was
given. The other fixtures note what a test saw (evidence, facts, moments, P4 notes) for
verdict.json, the report and the ticket.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from pathlib import Path

import allure
import pytest

from allclear.checklist import is_go_item, item_of, probe_id
from allclear.config import Secrets, Target
from allclear.go_run import PLUGIN_NAME, GoRun
from allclear.probe_notes import DEGRADED_KEY, FACTS_KEY, MOMENTS_KEY, attach_evidence, evidence_dir_of
from allclear.window import EmailWindow


@pytest.fixture(scope="session")
def go_run(request: pytest.FixtureRequest) -> GoRun:
    """The Go run itself (run-owned); skips the test when pytest was not started as one (`pytest -m go`)."""
    run = request.config.pluginmanager.get_plugin(PLUGIN_NAME)
    if run is None or run.target is None:
        pytest.skip("not a Go run: run the checks with `pytest -m go`")
    return run


@pytest.fixture(scope="session")
def target(go_run: GoRun) -> Target:
    """The loaded target (`config/<name>.toml`, the sandbox's addresses filled in): `target.login.url`."""
    return go_run.target


@pytest.fixture(scope="session")
def secrets(go_run: GoRun) -> Secrets:
    """The target's secrets by env-var name (`secrets[agent.password_env]`); `secrets.redact(text)`."""
    return go_run.secrets


@pytest.fixture
def evidence_dir(request: pytest.FixtureRequest, go_run: GoRun) -> Path:
    """The folder under reports/evidence/ for this probe's files (run-owned: its observation was
    given the same folder, `try-N` inside it for a retry)."""
    observer = go_run.observer
    if observer is not None and request.node.nodeid in observer.evidence_dirs:
        return observer.evidence_dirs[request.node.nodeid]
    return evidence_dir_of(request.node, go_run.reports_dir)


@pytest.fixture
def email_window(go_run: GoRun) -> EmailWindow:
    """The wait before a test email may be sent: `email_window.wait(delay_minutes)` returns the due
    time (run-owned: observations are given the run's, which counts down on the terminal)."""
    if go_run.observer is None:
        pytest.skip("the run is only listing its checks")
    return go_run.observer.email_window()


@pytest.fixture
def chromium():
    """The run's one Chromium (Playwright's async `Browser`), for `async def` observations only: it
    is run-owned and lives on the browser lane's thread, so a test cannot drive it. Ask for it as an
    observation's argument: `async def visit(widget_page, chromium, evidence_dir): ...`."""
    raise pytest.UsageError("`chromium` is given to `async def` observations, not to tests (see allclear.checklist)")


@pytest.fixture
def attach(request: pytest.FixtureRequest, go_run: GoRun):
    """`attach(path)` puts a file in Allure and lists it as evidence in verdict.json."""
    return lambda path, name=None: attach_evidence(request.node, go_run.reports_dir, path, name)


@pytest.fixture
def attach_observation(go_run: GoRun):
    """`attach_observation(seen)` attaches a probe's observation to Allure as JSON (secrets
    redacted) and hands it back."""

    def attach_json(observation, name: str | None = None):
        text = json.dumps(dataclasses.asdict(observation), indent=2, default=str)
        allure.attach(go_run.secrets.redact(text), name=name or type(observation).__name__,
                      attachment_type=allure.attachment_type.JSON)
        return observation

    return attach_json


@pytest.fixture
def record_fact(request: pytest.FixtureRequest):
    """`record_fact(name, value)`: a measured fact (round-trip time, call SID) kept in verdict.json."""
    facts = request.node.stash.setdefault(FACTS_KEY, {})

    def record(name: str, value: object) -> None:
        facts[name] = value

    return record


@pytest.fixture
def record_moment(request: pytest.FixtureRequest):
    """`record_moment(what, when)`: something that happened at a time worth knowing ("email sent to
    support@acme.example"); it goes on the run's timeline in summary.md and the HTML report."""
    moments = request.node.stash.setdefault(MOMENTS_KEY, [])

    def record(what: str, when: datetime) -> None:
        if when.tzinfo is None:
            raise ValueError(f"record_moment({what!r}): give the time with its time zone")
        moments.append([when.isoformat(timespec="milliseconds"), what])

    return record


@pytest.fixture
def degraded(request: pytest.FixtureRequest):
    """`degraded(why)`: the probe works but not as well as it should (a P4 note, not a failure)."""
    notes = request.node.stash.setdefault(DEGRADED_KEY, [])

    def note(why: str) -> None:
        notes.append(why)
        allure.attach(why, name="Degraded", attachment_type=allure.attachment_type.TEXT)

    return note


@pytest.fixture(autouse=True)
def _allure_labels(request: pytest.FixtureRequest) -> None:
    if request.config.pluginmanager.get_plugin(PLUGIN_NAME) is None or not is_go_item(request.node):
        return
    allure.dynamic.epic("Go checklist")
    allure.dynamic.feature(item_of(request.node).title)
    probe = probe_id(request.node)
    allure.dynamic.story(probe)
    allure.dynamic.title(probe if hasattr(request.node, "callspec") else probe.removeprefix("test_").replace("_", " "))
