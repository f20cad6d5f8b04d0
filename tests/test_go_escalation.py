"""Escalation end to end on the sandbox, as ops would run it: `pytest -m go --escalate` pages the
sandbox's ticket desk once for a P1, stays quiet on the repeat, resolves on the green run."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import tomli_w

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
SANDBOX_TOML = ROOT / "config" / "sandbox.toml"


def desk(result) -> dict:
    path = result.reports / "sandbox-desk.json"
    return json.loads(path.read_text()) if path.exists() else {"alerts": [], "tickets": [], "webhook": []}


def test_a_p1_pages_once_tickets_once_and_resolves_when_green(run_go):
    first = run_go("--sandbox-fault", "agents-locked:4", "--escalate", checks=("test_login.py",), html=True)
    assert first.exit_code == 1, first.output[-3000:]
    (alert,) = desk(first)["alerts"]
    assert (alert["status"], alert["severity"], alert["component"]) == ("triggered", "critical", "login")
    (ticket,) = desk(first)["tickets"]
    assert ticket["priority"] == "urgent" and ticket["subject"].startswith("[P1] sandbox: Agent login: 4 of 10")
    (attachment,) = ticket["comments"][0]["attachments"]
    assert attachment["file_name"] == "allclear-report-sandbox.html" and attachment["size"] > 100_000
    assert [d["status"] for d in first.verdict["escalation"]["deliveries"]] == ["sent", "sent", "sent"]
    assert "escalation: pagerduty: open login → sent" in first.output
    ticket_md = (first.reports / "ticket.md").read_text()
    assert ticket_md.startswith("# [P1] sandbox: Agent login: 4 of 10 agents (40%) failing")
    assert "Steps to reproduce" in ticket_md and first.verdict["html_report"] in ticket_md

    second = run_go("--sandbox-fault", "agents-locked:4", "--escalate", checks=("test_login.py",))
    assert second.exit_code == 1
    assert len(desk(second)["alerts"]) == 1 and desk(second)["alerts"][0]["events"] == 2   # re-triggered, same alert
    assert len(desk(second)["tickets"]) == 1 and len(desk(second)["tickets"][0]["comments"]) == 1
    assert "failing in 2 consecutive runs" in (second.reports / "ticket.md").read_text()

    third = run_go("--escalate", checks=("test_login.py",))
    assert third.exit_code == 0, third.output[-3000:]
    assert desk(third)["alerts"][0]["status"] == "resolved"
    assert desk(third)["tickets"][0]["status"] == "solved"
    assert (third.reports / "ticket.md").read_text().startswith("# Resolved sandbox: Agent login passes again")


def test_a_p1_found_at_the_window_end_pages_at_once_while_the_email_waits(run_go):
    """The page goes out when the login item is decided, not when the email (due a while after the
    window) is answered; the run's end updates the same ticket and alert with the final report."""
    window_end = datetime.now(timezone.utc)
    run = run_go("--sandbox-fault", "agents-locked:4", "--escalate", "--window-end", window_end.isoformat(),
                 "--email-delay", "0.75", checks=("test_login.py", "test_dns.py", "test_email.py"), html=True)
    assert run.exit_code == 1, run.output[-3000:]
    (alert,) = desk(run)["alerts"]
    (ticket,) = desk(run)["tickets"]
    paged = datetime.fromisoformat(alert["opened_at"])
    assert paged - window_end < timedelta(seconds=45), (paged, window_end)      # the email was due after 45 s
    first, last = ticket["comments"][0]["body"], ticket["comments"][-1]["body"]
    assert "verdict NO-GO (P1) so far); run still in progress: email round trip due" in first
    assert last.startswith("The run has ended (NO-GO (P1)): this is its final report.")
    assert [a["file_name"] for a in ticket["comments"][-1]["attachments"]] == ["allclear-report-sandbox.html"]
    assert len(ticket["comments"]) == 2 and alert["events"] == 2                  # updated, never opened twice

    timeline = [event["what"] for event in run.verdict["timeline"]]
    paged_at = timeline.index("escalation (at once): pagerduty: open login → sent")
    assert paged_at < next(i for i, what in enumerate(timeline) if what.startswith("email sent to"))
    assert "escalation (end of run): vendor-support: update login → sent" in timeline
    assert run.verdict["final"] is True and run.verdict["escalation"]["failed"] == 0
    assert "verdict so far: NO-GO (P1) so far — email round trip due" in run.output


def test_sandbox_runs_are_dry_by_default(run_go):
    result = run_go("--sandbox-fault", "agents-locked:4", checks=("test_login.py",))
    assert result.exit_code == 1
    assert desk(result)["alerts"] == []
    written = sorted(p.name for p in (result.reports / "escalations").iterdir())
    assert written[0] == "01-pagerduty-POST-enqueue.json", written
    assert "escalation dry run (nothing sent; --escalate sends)" in result.output


def test_a_desk_that_is_down_fails_the_run_loudly_and_allclear_escalate_resends(run_go, tmp_path):
    raw = tomllib.loads(SANDBOX_TOML.read_text())
    for sink in raw["escalation"]["sinks"]:
        sink["deadline_s"] = 1.5   # retried for 1.5 s, not the default minute
    target = tmp_path / "target.toml"
    target.write_text(tomli_w.dumps(raw))
    result = run_go("--sandbox-fault", "agents-locked:4", "--sandbox-fault", "desk-down", "--escalate",
                    checks=("test_login.py",), target=target)
    assert result.exit_code == 6, result.output[-3000:]
    assert "ESCALATION FAILED" in result.output
    assert "delivery(ies) FAILED" in (result.reports / "summary.md").read_text()

    again = subprocess.run([sys.executable, "-m", "allclear.cli", "escalate", str(result.reports / "verdict.json")],
                           cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "escalation: pagerduty: open login → sent" in again.stdout
    assert len(desk(result)["alerts"]) == 1 and len(desk(result)["tickets"]) == 1


def test_the_state_lost_between_two_failing_runs_still_one_ticket_and_one_page_then_green_resolves(run_go):
    """The Actions cache evicted reports/escalations.sqlite: the desk's own search (Zendesk's
    external_id, PagerDuty's dedup_key) keeps it to one ticket and one open page; lost once more, the
    green run still finds and resolves them."""
    first = run_go("--sandbox-fault", "agents-locked:4", "--escalate", checks=("test_login.py",))
    assert first.exit_code == 1, first.output[-3000:]
    (first.reports / "escalations.sqlite").unlink()
    second = run_go("--sandbox-fault", "agents-locked:4", "--escalate", checks=("test_login.py",))
    assert second.exit_code == 1, second.output[-3000:]
    assert len(desk(second)["tickets"]) == 1 and len(desk(second)["alerts"]) == 1
    assert desk(second)["alerts"][0]["status"] == "triggered"
    zendesk = next(d for d in second.verdict["escalation"]["deliveries"] if d["sink"] == "vendor-support")
    assert zendesk["action"] == "update"
    assert "found open at the sink by its key allclear/sandbox/login" in zendesk["detail"]

    (second.reports / "escalations.sqlite").unlink()          # lost again: the green run searches the desk
    green = run_go("--escalate", checks=("test_login.py",))
    assert green.exit_code == 0, green.output[-3000:]
    assert desk(green)["alerts"][0]["status"] == "resolved" and desk(green)["tickets"][0]["status"] == "solved"
    assert "found open at the sink by its key allclear/sandbox/login" in green.output
