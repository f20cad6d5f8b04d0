"""The login probe in-process against the sandbox: what it observes, and that it always logs out."""

from pathlib import Path

import pytest

from allclear.config import read_sandbox_template
from allclear.probes.browser import AgentSession
from allclear.sandbox import Sandbox

SANDBOX_TOML = Path(__file__).resolve().parents[1] / "config" / "sandbox.toml"
AGENT = "agent01@sandbox.allclear.test"




@pytest.fixture
def sandbox():
    environ: dict[str, str] = {}
    target = read_sandbox_template(SANDBOX_TOML)
    with Sandbox(target, environ=environ) as running:
        running.login = target.login.model_copy(update={"url": f"{running.url}/login"})
        running.password = environ["ALLCLEAR_SANDBOX_AGENT01_PASSWORD"]
        yield running


def walk(lane, login, evidence_dir, password):
    return lane.run(lambda browser: AgentSession(browser, login, evidence_dir).run(AGENT, password))


def test_healthy_walk_sets_status_then_logs_out(browser_lane, sandbox, tmp_path):
    seen = walk(browser_lane, sandbox.login, tmp_path / "evidence", sandbox.password)
    assert (seen.signed_in, seen.status_set, seen.logged_out, seen.failed_step) == \
        (True, "Helping Customers", True, "")
    assert 0 < seen.desktop_seconds < 5
    assert seen.evidence == [] and not (tmp_path / "evidence").exists()   # nothing kept when all is well
    account = sandbox.state.agents[AGENT]
    assert (account.logins, account.status) == (1, "Offline")


def test_agent_is_logged_out_even_when_a_later_step_fails(browser_lane, sandbox, tmp_path):
    login = sandbox.login.model_copy(update={"active_status": "Napping"})
    seen = walk(browser_lane, login, tmp_path / "evidence", sandbox.password)
    assert seen.failed_step == "Agent sets status Napping"
    assert seen.problem == "the profile menu offers no status 'Napping'"
    assert sandbox.state.agents[AGENT].status == "Offline"
    assert {p.name for p in seen.evidence} == {"screenshot.png", "trace-before-sign-in.zip", "trace-after-sign-in.zip"}


def test_wrong_password_is_a_refusal_with_the_page_message(browser_lane, sandbox, tmp_path):
    seen = walk(browser_lane, sandbox.login, tmp_path / "evidence", "wrong-password")
    assert (seen.signed_in, seen.failed_step) == (False, "Agent signs in")
    assert seen.refusal == "Incorrect email or password."
