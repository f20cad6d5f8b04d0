"""The Go checklist against the sandbox, run as ops run it (`pytest -m go` in a subprocess):
healthy it says GO; each injected fault turns the right item red, with the right outcome and grade."""

import json
import re

import pytest

from allclear.items.login import LoginCheck
from tests.conftest import ROOT, find_leaks, made_up_secrets, write_target

pytestmark = pytest.mark.slow


def test_healthy_sandbox_is_go_with_html_report(run_go, tmp_path):
    step_summary = tmp_path / "step-summary.md"
    step_summary.write_text("## an earlier step\n")
    result = run_go(html=True, env={"GITHUB_STEP_SUMMARY": str(step_summary)})
    assert result.exit_code == 0, result.output[-3000:]
    verdict = result.verdict
    assert verdict["verdict"] == "GO" and verdict["grade"] is None
    assert {i["item"]: i["outcome"] for i in verdict["items"]} == {
        "login": "passed", "reporting_api": "passed", "status_page": "passed", "dns": "passed",
        "email": "passed", "sms": "passed", "voice": "passed", "chat_widget": "passed", "help_center": "passed"}
    assert result.item("login")["probes_run"] == 10
    assert verdict["window_end_source"].startswith("status page")
    assert "Go checklist: GO" in result.output and "HTML report:" in result.output
    report = result.reports / "allure-report" / "index.html"
    assert report.is_file() and report.stat().st_size > 100_000
    summary = (result.reports / "summary.md").read_text()
    assert "| ✔ Every agent can log in and set a status | passed | 0/10 |" in summary
    # The terminal: a line per item as it finished, the table, where the report is, the verdict last.
    lines = result.output.splitlines()
    assert lines[-1] == "GO on sandbox: 9 passed (9 items), exit 0"
    assert sum(line.startswith("✔ ") for line in lines) == 2 * 9        # 9 item lines, then 9 table rows
    assert any(line.startswith("HTML report: ") and "index.html" in line for line in lines)
    assert not any(line.startswith("checks/test_") for line in lines)    # no pytest dots per probe
    # In GitHub Actions the summary is added to the step summary (after what was there).
    assert step_summary.read_text() == "## an earlier step\n" + summary + "\n"
    timeline = summary.split("## Timeline")[1]
    assert timeline.index("maintenance window ended") < timeline.index("run started") \
        < timeline.index("email sent to support@") < timeline.index("reply received") < timeline.index("run finished")
    results = result.reports / "allure-results"
    environment = (results / "environment.properties").read_text()
    assert "target=sandbox" in environment and "window.end=" in environment
    labels = [label for f in results.glob("*-result.json") for label in json.loads(f.read_text())["labels"]]
    assert {"name": "epic", "value": "Go checklist"} in labels
    # Probes ran in the background: their steps are replayed into each test, and each result spans
    # the probe's own run on its item's lane (what the report's timeline shows).
    logins = [r for r in map(lambda f: json.loads(f.read_text()), results.glob("*-result.json"))
              if {"name": "thread", "value": "login probes"} in r["labels"]]
    assert len(logins) == 10
    assert [step["name"] for step in logins[0]["steps"]][:3] == [
        "Open the login page", "Agent signs in", "Agent desktop loads"]
    assert all(step["status"] == "passed" and step["stop"] >= step["start"] for step in logins[0]["steps"])
    assert logins[0]["start"] <= logins[0]["steps"][0]["start"]
    assert {"name": "severity", "value": "trivial"} in labels
    # Every probe's steps in ops' words, each probe named by what it probed; the run's timeline on
    # the report's home page (an Allure 3 global attachment).
    every = [json.loads(f.read_text()) for f in results.glob("*-result.json")]
    names = {r["name"] for r in every}
    assert {"agent01@sandbox.allclear.test", "Agents endpoint answers", "Main support line"} <= names
    assert all(r["steps"] for r in every)
    email = next(r for r in every if {"name": "thread", "value": "email probes"} in r["labels"])
    steps = [step["name"].split(" to ")[0].split(" from ")[0] for step in email["steps"]]
    looked_up = [name for name in steps if name.startswith("Find the conversation holding allclear-")]
    assert len(looked_up) == 1 and [name for name in steps if name not in looked_up] == [
        "Wait until the window end + 15 min (the vendor's rule)", "Send the test email", "A reply"]
    assert len(list(results.glob("*-globals.json"))) == 1
    assert "Maintenance page still up" in (results / "categories.json").read_text()


def test_maintenance_page_still_up_is_p1(run_go):
    result = run_go("--sandbox-fault", "maintenance", "--no-wait")     # the email would wait for its end
    assert result.exit_code == 1
    assert result.verdict["verdict"] == "NO-GO" and result.verdict["grade"] == "P1"
    login = result.item("login")
    assert (login["outcome"], login["grade"], login["probes_failed"]) == ("failed", "P1", 10)
    probe = login["probes"][0]
    assert probe["expected"] == "the login page" and "the maintenance page" in probe["observed"]
    assert any(path.endswith("screenshot.png") for path in probe["evidence"])
    assert (result.reports / probe["evidence"][0]).is_file()
    assert "HTML page titled 'Scheduled maintenance" in result.item("reporting_api")["probes"][0]["observed"]
    assert result.item("status_page")["outcome"] == "inconclusive"       # the window has not ended
    assert result.item("email")["outcome"] == "skipped"


@pytest.mark.parametrize("locked, grade", [(3, "P1"), (2, "P2"), (1, "P3")])
def test_locked_agents_are_graded_by_the_30_percent_rule(run_go, locked, grade):
    result = run_go("--sandbox-fault", f"agents-locked:{locked}", checks=("test_login.py",))
    assert result.exit_code == 1
    login = result.item("login")
    assert (login["outcome"], login["grade"], login["probes_failed"], login["probes_run"]) == \
        ("failed", grade, locked, 10)
    failed = [p for p in login["probes"] if p["outcome"] == "failed"]
    assert [p["probe"] for p in failed] == [f"agent{n:02d}@sandbox.allclear.test" for n in range(1, locked + 1)]
    assert "sign-in refused: Your account is locked" in failed[0]["observed"]
    assert result.verdict["headline"] == f"NO-GO ({grade})"


def test_login_500_fails_every_agent(run_go, tmp_path):
    result = run_go("--sandbox-fault", "login-500", target=write_target(tmp_path, agents=3), checks=("test_login.py",))
    login = result.item("login")
    assert (login["outcome"], login["grade"], login["probes_failed"]) == ("failed", "P1", 3)
    assert "sign-in refused: HTTP 500" in login["probes"][0]["observed"]


def test_desktop_spinner_fails_with_evidence_and_no_password_anywhere(run_go, tmp_path):
    target = write_target(tmp_path, {"login.desktop_timeout_s": 2.0}, agents=2)
    secrets = made_up_secrets(target)
    # 2 agents, the API token, the Twilio token, the probe mailbox, the ticket desk's three sinks
    assert len(secrets) == 8
    # --escalate: what the desk received (reports/sandbox-desk.json) and ticket.md are searched too
    result = run_go("--sandbox-fault", "desktop-spinner", "--escalate", target=target, html=True, env=secrets)
    login = result.item("login")
    assert (login["outcome"], login["grade"]) == ("failed", "P1")
    assert "expect_visible [data-testid=agent-desktop]: no such element after 2 s; the page showed " \
        "'Agent desktop · Sandbox Support Platform'" in login["probes"][0]["observed"]
    evidence = login["probes"][0]["evidence"]
    names = {path.rsplit("/", 1)[-1] for path in evidence}
    assert {"screenshot.png", "trace-before-agent-signs-in.zip", "trace-after-agent-signs-in.zip"} <= names
    assert not find_leaks(result.reports, secrets, result.output)
    assert (result.reports / "allure-report" / "index.html").is_file(), result.output[-2000:]
    assert (result.reports / "sandbox-desk.json").is_file() and (result.reports / "ticket.md").is_file()
    assert secret_free(result.output, secrets)


def secret_free(text, secrets):
    return not any(value in text for value in secrets.values())


def test_reports_503_is_p2(run_go):
    result = run_go("--sandbox-fault", "reports-503", checks=("test_reporting_api.py",))
    api = result.item("reporting_api")
    assert (api["outcome"], api["grade"], result.exit_code) == ("failed", "P2", 1)
    assert api["probes"][0]["observed"].startswith("HTTP 503")


def test_reports_401_is_inconclusive_not_a_vendor_failure(run_go):
    result = run_go("--sandbox-fault", "reports-401", checks=("test_reporting_api.py",))
    api = result.item("reporting_api")
    assert (api["outcome"], api["grade"]) == ("inconclusive", None)
    assert "credentials were rejected" in api["probes"][0]["message"]
    assert (result.verdict["verdict"], result.exit_code) == ("INCONCLUSIVE", 2)


def test_a_slow_desktop_is_a_p4_note_naming_the_step_and_its_budget(run_go, tmp_path):
    slow = write_target(tmp_path, {"login.desktop_budget_s": 1.0}, agents=2)
    result = run_go("--sandbox-fault", "desktop-slow:2.5", target=slow, checks=("test_login.py",))
    login = result.item("login")
    assert (login["outcome"], login["grade"], result.verdict["headline"]) == ("passed", "P4", "GO (with P4 notes)")
    assert re.fullmatch(r"Agent desktop loads took \d+\.\d s \(budget 1 s\)", login["probes"][0]["degraded"])


def test_a_step_waiting_for_a_missing_element_says_it_in_one_line(run_go, tmp_path):
    """The target's walk expects an element this desktop does not have: the terminal's line names the
    step, the locator, the wait and the page shown instead."""
    inbox = {"expect_visible": 'get_by_role("main", name="Inbox")'}
    steps = [*[s.model_dump(exclude_none=True) for s in LoginCheck(url="http://x.test/").walk[:2]],
             {"name": "Agent desktop loads", "timeout_s": 2.0, "do": [inbox]}]
    target = write_target(tmp_path, {"login.steps": steps}, agents=1)
    result = run_go(target=target, checks=("test_login.py",))
    line = next(line for line in result.output.splitlines() if line.startswith("✘ login / agent01"))
    assert re.fullmatch(r"✘ login / agent01@sandbox\.allclear\.test: expected 'Agent desktop loads' to work; observed "
                        r'expect_visible get_by_role\("main", name="Inbox"\): no such element after 2 s; the page '
                        r"showed 'Agent desktop · Sandbox Support Platform' at http://127\.0\.0\.1:\d+/desktop",
                        line), line


def test_slow_reports_are_degraded_then_failed(run_go, tmp_path):
    slow = write_target(tmp_path, {"reporting_api.budget_s": 0.3})
    result = run_go("--sandbox-fault", "reports-slow:0.6", target=slow, checks=("test_reporting_api.py",))
    api = result.item("reporting_api")
    assert (api["outcome"], api["grade"], result.verdict["verdict"]) == ("passed", "P4", "GO")
    assert "budget 0.3 s" in api["probes"][0]["degraded"]
    too_slow = write_target(tmp_path, {"reporting_api.timeout_s": 0.5})
    result = run_go("--sandbox-fault", "reports-slow:2", target=too_slow, checks=("test_reporting_api.py",))
    api = result.item("reporting_api")
    assert (api["outcome"], api["grade"]) == ("failed", "P2")
    assert "no answer within 0.5 s" in api["probes"][0]["observed"]


def test_never_go_while_the_status_page_shows_a_maintenance_in_progress(run_go):
    """An earlier maintenance completed, tonight's still in progress: not the window's end; the email
    is not sent, the first line says why, and the run is not GO."""
    result = run_go("--sandbox-fault", "statuspage-in-progress", "--no-wait",
                    checks=("test_status_page.py", "test_dns.py", "test_email.py"))
    first = next(line for line in result.output.splitlines() if line.startswith("Go checklist on"))
    assert "the window has NOT ended: the vendor's status page shows 'Emergency network maintenance' is in " \
           "progress" in first
    page, email = result.item("status_page"), result.item("email")
    assert page["outcome"] == "inconclusive"
    assert "the vendor reports the maintenance still in progress" in page["probes"][0]["message"]
    assert email["outcome"] == "skipped" and "the window has not ended" in email["probes"][0]["message"]
    assert not email["probes"][0]["facts"].get("message_id")           # nothing was sent
    assert (result.verdict["verdict"], result.exit_code) == ("INCONCLUSIVE", 2)
    assert "'Emergency network maintenance' is in progress" in result.verdict["maintenance_in_progress"]


def test_a_maintenance_in_progress_graded_by_the_target_holds_the_vendors_escalation(run_go, tmp_path):
    target = write_target(tmp_path, {"status_page.while_in_progress": "P2"})
    result = run_go("--sandbox-fault", "statuspage-in-progress", "--window-end", "2026-11-23T23:00:00-08:00",
                    target=target, checks=("test_status_page.py",))
    first = next(line for line in result.output.splitlines() if line.startswith("Go checklist on"))
    assert "(--window-end), but the vendor's status page shows 'Emergency network maintenance' is in " \
           "progress" in first
    page = result.item("status_page")
    assert (page["outcome"], page["grade"]) == ("failed", "P2")
    assert (result.verdict["verdict"], result.exit_code) == ("NO-GO", 1)
    deliveries = result.verdict["escalation"]["deliveries"]
    vendor = [d for d in deliveries if d["item"] == "status_page" and d["kind"] == "failure"]
    held = {d["sink"]: d for d in vendor if d["status"] == "skipped"}
    assert sorted(held) == ["pagerduty", "vendor-support"]
    assert all(d["detail"].startswith("held: the vendor's status page shows") for d in held.values())
    assert [d["status"] for d in vendor if d["sink"] == "ops-webhook"] == ["dry-run"]      # ops are told


def test_verifying_is_the_end_of_the_window_and_the_run_proceeds(run_go):
    result = run_go("--sandbox-fault", "statuspage-verifying", checks=("test_status_page.py", "test_email.py"))
    first = next(line for line in result.output.splitlines() if line.startswith("Go checklist on"))
    assert "(status page: 'Emergency network maintenance' is verifying (work done" in first
    assert result.item("status_page")["outcome"] == "passed"
    assert result.item("email")["outcome"] == "passed"       # the window ended 20 min ago: the email went out
    assert (result.verdict["verdict"], result.exit_code) == ("GO", 0)
    assert result.verdict["window_end_source"].startswith("status page: 'Emergency network maintenance' is verifying")


def test_browser_that_cannot_start_is_inconclusive(run_go, tmp_path):
    result = run_go(target=write_target(tmp_path, agents=2), checks=("test_login.py",),
                    env={"ALLCLEAR_CHROMIUM": str(tmp_path / "no-such-chromium")})
    login = result.item("login")
    assert (login["outcome"], login["grade"]) == ("inconclusive", None)
    assert "no Chromium could be started" in login["probes"][0]["message"]
    assert (result.verdict["verdict"], result.exit_code) == ("INCONCLUSIVE", 2)


def test_bad_target_stops_before_any_check(run_go, tmp_path):
    bad = write_target(tmp_path, {"login.desktop_timout_s": 3})
    result = run_go(target=bad)
    assert result.exit_code == 4
    assert "login.desktop_timout_s: unknown key" in result.output
    assert "Traceback" not in result.output and "passed" not in result.output
    verdict = result.verdict
    assert (verdict["verdict"], verdict["items"]) == ("INCONCLUSIVE", [])
    assert "login.desktop_timout_s: unknown key" in verdict["not_started"]


def test_missing_secret_names_the_variable_and_leaves_a_verdict(run_go, tmp_path):
    example = write_target(tmp_path, base=ROOT / "config" / "example.toml")
    result = run_go(target=example)
    assert result.exit_code == 4
    assert ("missing secret environment variable(s): ALLCLEAR_AGENT1_PASSWORD, GLADLY_API_TOKEN, TWILIO_AUTH_TOKEN, "
            "ALLCLEAR_PROBE_SMTP_PASSWORD, ALLCLEAR_PROBE_IMAP_PASSWORD") in result.output
    assert result.verdict["verdict"] == "INCONCLUSIVE"


def test_unknown_fault_lists_the_known_ones(run_go):
    result = run_go("--sandbox-fault", "meteor-strike")
    assert result.exit_code == 4
    assert "unknown sandbox fault 'meteor-strike'; known faults: agents-locked" in result.output
