"""The baseline taken before the window (`allclear preflight`): a probe failing the same way after the
window is "already failing before the window": counted for the verdict, shown to ops, never told
to the vendor; a failure new since the baseline is graded and escalated as always."""

import json
import os
import sqlite3
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from allclear import baseline
from allclear.config import Grading
from allclear.escalation.plan import apply_run
from allclear.escalation.state import EscalationState
from allclear.grading import ProbeResult, summarize_item, vendor_view
from allclear.verdict import RunVerdict
from tests.conftest import ROOT, write_target

NOW = datetime(2026, 12, 1, 23, 5, tzinfo=timezone.utc)


def agents(failed: int, already: int, of: int = 10) -> list[ProbeResult]:
    return [ProbeResult("login", f"agent{n:02d}", "failed" if n < failed else "passed",
                        expected=f"agent{n:02d} signed in" if n < failed else "", already_failing=n < already,
                        finished_at=NOW.isoformat()) for n in range(of)]


def verdict_of(probes: list[ProbeResult]) -> RunVerdict:
    item = summarize_item("login", "Every agent can log in and set a status", probes, Grading())
    return RunVerdict.of([item], target="t", started_at=NOW - timedelta(minutes=1), finished_at=NOW,
                         window_end=NOW - timedelta(minutes=20), window_end_source="--window-end", faults=[])


def test_ops_count_every_failure_the_vendor_only_new_ones():
    item = summarize_item("login", "Login", agents(failed=4, already=3), Grading())
    assert (item.outcome, item.grade, item.probes_failed, item.probes_already_failing) == ("failed", "P1", 4, 3)
    assert item.vendor_grade == "P3"                                  # 1 new of 10
    told = vendor_view(item)
    assert (told.grade, told.probes_failed, told.probes_run) == ("P3", 1, 10)
    assert [p.probe for p in told.probes if p.outcome == "failed"] == ["agent03"]
    assert verdict_of(agents(failed=4, already=3)).headline == "NO-GO (P1)"   # the verdict counts them all


def test_only_already_failing_probes_go_to_ops_alone(tmp_path):
    state = EscalationState.open(tmp_path / "state.sqlite")
    changes = apply_run(state, verdict_of(agents(failed=3, already=3)))
    assert [(c.action, c.kind) for c in changes] == [("open", "already-failing")]
    changes = apply_run(state, verdict_of(agents(failed=5, already=3)))        # two new: 20%, a P2
    assert [(c.action, c.kind, c.item.grade, c.item.probes_failed) for c in changes] == [
        ("update", "already-failing", "P1", 5), ("open", "failure", "P2", 2)]
    changes = apply_run(state, verdict_of(agents(failed=0, already=0)))
    assert sorted((c.action, c.kind) for c in changes) == [("resolve", "already-failing"), ("resolve", "failure")]


def test_a_state_file_from_before_is_widened_and_keeps_its_rows(tmp_path):
    path = tmp_path / "escalations.sqlite"
    with sqlite3.connect(path) as old:
        old.executescript(
            "CREATE TABLE escalations (id INTEGER PRIMARY KEY, target TEXT NOT NULL, item TEXT NOT NULL, kind TEXT "
            "NOT NULL CHECK (kind IN ('failure', 'inconclusive')), dedup_key TEXT NOT NULL, grade TEXT, fingerprint "
            "TEXT NOT NULL, first_seen TEXT NOT NULL, last_seen TEXT NOT NULL, runs INTEGER NOT NULL DEFAULT 1, "
            "resolved_at TEXT);"
            f"INSERT INTO escalations VALUES (7, 't', 'voice', 'failure', 'k', 'P1', 'f', '{NOW.isoformat()}', "
            f"'{NOW.isoformat()}', 2, NULL);")
    state = EscalationState.open(path)
    assert state.open_record("t", "voice", "failure").id == 7
    apply_run(state, verdict_of(agents(failed=3, already=3)))
    assert state.open_record("t", "login", "already-failing") is not None


def test_the_same_probe_failing_another_way_is_new(tmp_path):
    before = verdict_of(agents(failed=2, already=0))
    reports = tmp_path / "reports"
    baseline.keep(before, reports, valid_h=24)
    kept, note = baseline.load(reports, "t", NOW + timedelta(hours=1))
    assert note == "" and sorted(kept.failing) == [("login", "agent00"), ("login", "agent01")]
    again = ProbeResult("login", "agent00", "failed", expected="agent00 signed in")
    otherwise = ProbeResult("login", "agent01", "failed", expected="'Agent desktop loads' to work")
    assert (kept.matches(again), kept.matches(otherwise)) == (True, False)


@pytest.mark.parametrize("target, later, says", [
    ("t", timedelta(hours=25), "is out of date: not used"),
    ("other", timedelta(hours=1), "is of 't', not 'other': not used"),
])
def test_a_baseline_too_old_or_of_another_target_is_not_used(tmp_path, target, later, says):
    baseline.keep(verdict_of(agents(failed=1, already=0)), tmp_path, valid_h=24)
    kept, note = baseline.load(tmp_path, target, NOW + later)
    assert kept is None and says in note


# --- as ops run it ---------------------------------------------------------------------------------

def allclear(command: str, reports: Path, target: Path, *args: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("ALLCLEAR_", "GITHUB_STEP_SUMMARY"))}
    return subprocess.run([sys.executable, "-m", "allclear.cli", command, "--target", str(target),
                           f"--reports-dir={reports}", "--no-html-report", *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=300, env=environment)


@pytest.mark.slow
def test_preflight_then_a_fault_already_there_goes_to_ops_only_and_a_new_one_as_always(tmp_path):
    target = write_target(tmp_path, agents=4)
    reports = tmp_path / "reports"
    taken = allclear("preflight", reports, target, "--sandbox-fault", "agents-locked:2")
    assert taken.returncode == 1, taken.stdout[-3000:]
    assert "baseline:    " in taken.stdout and "2 probe(s) failing now" in taken.stdout
    assert json.loads((reports / "verdict.json").read_text())["escalation"] is None     # a preflight tells no one
    kept = json.loads((reports / "baseline" / "baseline.json").read_text())
    assert [p["probe"] for p in kept["failing"]] == ["agent01@sandbox.allclear.test", "agent02@sandbox.allclear.test"]
    assert all((reports / path).is_file() for p in kept["failing"] for path in p["evidence"])

    after = allclear("go", reports, target, "--sandbox-fault", "agents-locked:2", "--sandbox-fault", "reports-503")
    verdict = json.loads((reports / "verdict.json").read_text())
    assert (after.returncode, verdict["headline"]) == (1, "NO-GO (P1)"), after.stdout[-3000:]     # ops: 2 of 4
    login = next(item for item in verdict["items"] if item["item"] == "login")
    assert (login["probes_already_failing"], login["vendor_grade"]) == (2, None)
    assert "[already failing before the window: not the vendor's]" in after.stdout
    assert "evidence before the window: `baseline/evidence/login/agent01@sandbox.allclear.test/screenshot.png`" \
        in (reports / "summary.md").read_text()
    told = {(d["sink"], d["item"], d["kind"]) for d in verdict["escalation"]["deliveries"]}
    assert told == {("ops-webhook", "login", "already-failing"),
                    ("pagerduty", "reporting_api", "failure"), ("vendor-support", "reporting_api", "failure"),
                    ("ops-webhook", "reporting_api", "failure")}
    assert "agent01" not in (reports / "ticket.md").read_text()
    results = [json.loads(f.read_text()) for f in (reports / "allure-results").glob("*-result.json")]
    tag = {"name": "tag", "value": "already failing before the window"}
    marked = {r["name"] for r in results if tag in r["labels"]}
    assert marked == {"agent01@sandbox.allclear.test", "agent02@sandbox.allclear.test"}


@pytest.mark.slow
def test_no_baseline_is_taken_during_the_maintenance(tmp_path):
    target = write_target(tmp_path, agents=1)
    refused = allclear("preflight", tmp_path / "reports", target, "--sandbox-fault", "statuspage-in-progress")
    assert refused.returncode == 4
    assert "allclear preflight: no baseline taken: the status page shows" in refused.stderr
    assert "in progress" in refused.stderr and not (tmp_path / "reports" / "baseline").exists()


@pytest.mark.slow
def test_watch_started_while_the_platform_is_up_takes_the_baseline_first(tmp_path):
    target = write_target(tmp_path, {"email.delay_after_window_min": 0.05}, agents=1)
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("ALLCLEAR_", "GITHUB_STEP_SUMMARY"))}
    done = subprocess.run([sys.executable, "-m", "allclear.cli", "watch", f"--target={target}",
                           f"--reports-dir={tmp_path / 'reports'}", "--deadline", "1", "--interval", "1", "--",
                           "--no-html-report"], cwd=ROOT, capture_output=True, text=True, timeout=300, env=environment)
    assert "the platform is up: taking the baseline first" in done.stdout, done.stdout[-3000:]
    kept = json.loads((tmp_path / "reports" / "baseline" / "baseline.json").read_text())
    assert (kept["target"], kept["failing"]) == ("sandbox", [])
    verdict = json.loads((tmp_path / "reports" / "verdict.json").read_text())
    assert not verdict["preflight"] and verdict["baseline"].startswith(str(tmp_path / "reports" / "baseline"))
