"""Escalation end to end on the sandbox, as ops would run it: `pytest -m go --escalate` pages the
sandbox's ticket desk once for a P1, stays quiet on the repeat, resolves on the green run."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
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
