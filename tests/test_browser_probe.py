"""The login probe in-process against the sandbox: what it observes, and that it always logs out."""

import re
from pathlib import Path

import pytest

from allclear.config import read_sandbox_template
from allclear.items.login import LoginCheck
from allclear.probes.browser import AgentSession
from allclear.sandbox import Sandbox
from tests.conftest import find_leaks

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
    assert (seen.signed_in, seen.logged_out, seen.failed_step, seen.problem) == (True, True, "", "")
    assert list(seen.step_seconds) == ["Open the login page", "Agent signs in", "Agent desktop loads",
                                       "Agent sets status Helping Customers", "Agent logs out"]
    assert [step.name for step in seen.steps] == list(seen.step_seconds)
    assert 0 < seen.step_seconds["Agent desktop loads"] < 5
    assert seen.evidence == [] and not (tmp_path / "evidence").exists()   # nothing kept when all is well
    account = sandbox.state.agents[AGENT]
    assert (account.logins, account.status) == (1, "Offline")


def test_agent_is_logged_out_even_when_a_later_step_fails(browser_lane, sandbox, tmp_path):
    login = sandbox.login.model_copy(update={"active_status": "Napping", "step_timeout_s": 1.0})
    seen = walk(browser_lane, login, tmp_path / "evidence", sandbox.password)
    assert seen.failed_step == "Agent sets status Napping"
    # One line: the action, the locator, how long it waited, and what the page showed instead.
    assert seen.problem.startswith('click get_by_role("menuitemradio", name="Napping"): no such element after 1 s; '
                                   "the page showed 'Agent desktop · Sandbox Support Platform' at http://127.0.0.1:")
    assert sandbox.state.agents[AGENT].status == "Offline"
    assert {p.name for p in seen.evidence} == {"screenshot.png", "trace-before-agent-signs-in.zip",
                                               "trace-after-agent-signs-in.zip"}


def test_wrong_password_is_a_refusal_with_the_page_message(browser_lane, sandbox, tmp_path):
    seen = walk(browser_lane, sandbox.login, tmp_path / "evidence", "wrong-password")
    assert (seen.signed_in, seen.failed_step) == (False, "Agent signs in")
    assert seen.refusal == "Incorrect email or password."


# The sandbox's desktop walked with locators written the way `playwright codegen` writes them.
CODEGEN_WALK = {
    "steps": [
        {"name": "Open the login page", "do": [{"goto": "{url}"}, {"expect_visible": 'get_by_label("Email")'}]},
        {"name": "Agent signs in", "refused": 'get_by_role("alert")', "do": [
            {"fill": 'get_by_label("Email")', "value": "{agent}"},
            {"fill": {"label": "Password"}, "secret": "password"},
            {"click": 'get_by_role("button", name="Sign in")'},
            {"wait_for_url": "**/desktop"}]},
        {"name": "Agent desktop loads", "do": [{"expect_visible": 'get_by_test_id("agent-desktop")'}]},
        {"name": "Agent sets status {status}", "do": [
            {"click": 'get_by_role("button", name="Profile")'},
            {"click": 'get_by_role("group", name="Active").get_by_role("menuitemradio", name="{status}")'},
            {"expect_text": 'get_by_test_id("current-status")', "value": "{status}"}]},
    ],
    "log_out": {"name": "Agent logs out", "do": [
        {"click": 'get_by_role("button", name="Profile")', "unless_visible": 'get_by_role("button", name="Log out")'},
        {"click": 'get_by_role("button", name="Log out")'},
        {"expect_visible": 'get_by_label("Email")'}]},
}


def login_with(sandbox, **changes):
    return LoginCheck.model_validate({**sandbox.login.model_dump(exclude_unset=True), **changes})


def test_a_walk_written_as_codegen_locators(browser_lane, sandbox, tmp_path):
    seen = walk(browser_lane, login_with(sandbox, **CODEGEN_WALK), tmp_path / "evidence", sandbox.password)
    assert (seen.signed_in, seen.logged_out, seen.failed_step, seen.problem) == (True, True, "", "")
    assert sandbox.state.agents[AGENT].status == "Offline"


def test_a_missing_element_is_named_with_its_wait_and_the_page_shown(browser_lane, sandbox, tmp_path):
    steps = [*CODEGEN_WALK["steps"][:2], {"name": "Agent desktop loads", "timeout_s": 1.5,
                                          "do": [{"expect_visible": 'get_by_role("main", name="Inbox")'}]}]
    seen = walk(browser_lane, login_with(sandbox, steps=steps, log_out=CODEGEN_WALK["log_out"]),
                tmp_path / "evidence", sandbox.password)
    assert seen.failed_step == "Agent desktop loads"
    assert re.fullmatch(r'expect_visible get_by_role\("main", name="Inbox"\): no such element after 1\.5 s; '
                        r"the page showed 'Agent desktop · Sandbox Support Platform' at http://127\.0\.0\.1:\d+/desktop",
                        seen.problem), seen.problem
    assert sandbox.state.agents[AGENT].status == "Offline"          # logged out all the same


def test_a_refused_sign_in_keeps_no_password_in_traces_or_screenshots(browser_lane, sandbox, tmp_path):
    wrong = "Wr0ng-pa55word-typed"
    login = login_with(sandbox, **CODEGEN_WALK)
    seen = walk(browser_lane, login, tmp_path / "evidence", wrong)
    assert (seen.signed_in, seen.failed_step, seen.refusal) == (False, "Agent signs in", "Incorrect email or password.")
    assert {p.name for p in seen.evidence} == {"screenshot.png", "trace-before-agent-signs-in.zip",
                                               "trace-after-agent-signs-in.zip"}
    assert find_leaks(tmp_path / "evidence", {"password": wrong}, seen.problem) == []


def test_a_playwright_timeout_says_what_it_waited_for():
    from playwright.async_api import Error

    from allclear.probes.walk import page_error

    timeout = Error('Locator.click: Timeout 6000ms exceeded.\nCall log:\n  - waiting for get_by_role("button", '
                    'name="Open support chat")\n')
    assert page_error(timeout) == 'Timeout 6000ms exceeded, waiting for get_by_role("button", name="Open support chat")'
    refused = Error("Page.goto: net::ERR_CONNECTION_REFUSED at http://127.0.0.1:9/")
    assert page_error(refused) == "connection refused (nothing listens there) [net::ERR_CONNECTION_REFUSED]"


def test_optional_actions_and_a_pressed_key(browser_lane, sandbox, tmp_path):
    """A cookie banner that is not there (optional), a menu already open (unless_visible), the form
    sent with Enter rather than a click."""
    steps = [
        {"name": "Open the login page", "do": [{"goto": "{url}"},
                                               {"click": "#accept-cookies", "optional": True, "timeout_s": 0.5}]},
        {"name": "Agent signs in", "refused": ".login-error", "do": [
            {"fill": "input[name=email]", "value": "{agent}"},
            {"fill": "input[name=password]", "secret": "password"},
            {"press": "input[name=password]", "key": "Enter"}]},
        {"name": "Agent desktop loads", "do": [{"expect_visible": 'get_by_test_id("agent-desktop")'}]},
    ]
    seen = walk(browser_lane, login_with(sandbox, steps=steps), tmp_path / "evidence", sandbox.password)
    assert (seen.failed_step, seen.problem, seen.logged_out) == ("", "", True)
    assert sandbox.state.agents[AGENT].logins == 1 and sandbox.state.agents[AGENT].status == "Offline"


def test_a_text_that_never_comes_says_what_was_there(browser_lane, sandbox, tmp_path):
    steps = [*CODEGEN_WALK["steps"][:3], {"name": "Status shows Lunch", "timeout_s": 1.0, "do": [
        {"expect_text": 'get_by_test_id("current-status")', "value": "Lunch"}]}]
    seen = walk(browser_lane, login_with(sandbox, steps=steps, log_out=CODEGEN_WALK["log_out"]),
                tmp_path / "evidence", sandbox.password)
    assert seen.failed_step == "Status shows Lunch"
    assert seen.problem.startswith('expect_text get_by_test_id("current-status"): its text is \'Away\', '
                                   "without 'Lunch' after 1 s; the page showed"), seen.problem
