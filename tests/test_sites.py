"""Sites: a run per site (`--site NAME`), then `allclear merge` grades over all of them, names where
the failures are, counts a site that never reported as could-not-verify there; a site pages at once,
the merge updates the same escalation with the grade across sites."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT, write_target

pytestmark = pytest.mark.slow
SITES = {"sites": {"names": ["austin", "home"], "once_at": "austin"}}


def merge(*folders, target, out, extra=(), env=None):
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("ALLCLEAR_", "GITHUB_STEP_SUMMARY"))}
    environment.update(env or {})
    return subprocess.run([sys.executable, "-m", "allclear.cli", "merge", *map(str, folders), f"--target={target}",
                           f"--reports-dir={out}", "--no-html-report", *extra],
                          cwd=ROOT, capture_output=True, text=True, timeout=300, env=environment)


def test_two_sites_merged_one_verdict_over_all_agents_naming_the_site_one_escalation(run_go_in, tmp_path):
    """The site with the P1 pages from its own run; the merge updates that alert and ticket with the
    grade over both sites (one desk for all three runs, as a real Jira is one)."""
    target = write_target(tmp_path, SITES, agents=5)
    one_desk = {"ALLCLEAR_SANDBOX_DESK": str(tmp_path / "desk.json")}
    austin = run_go_in(tmp_path / "austin")("--site", "austin", "--escalate", target=target, env=one_desk,
                                           checks=("test_login.py", "test_status_page.py"))
    home = run_go_in(tmp_path / "home")("--site", "home", "--sandbox-fault", "agents-locked:2", "--escalate",
                                       target=target, env=one_desk, checks=("test_login.py", "test_status_page.py"))
    assert austin.verdict["site"] == "austin" and austin.exit_code == 0, austin.output[-2000:]
    assert home.item("login")["grade"] == "P1"                          # 2 of this site's 5 agents: 40%
    assert "status_page" not in {i["item"] for i in home.verdict["items"]}  # runs at austin only
    assert "Go checklist on sandbox from site home" in home.output
    paged = json.loads((tmp_path / "desk.json").read_text())
    assert len(paged["tickets"]) == 1 and [a["severity"] for a in paged["alerts"]] == ["critical"]  # from home
    assert "seen from site home" in paged["tickets"][0]["comments"][0]["body"]

    out = tmp_path / "merged"
    done = merge(austin.reports, home.reports, target=target, out=out, extra=["--escalate"], env=one_desk)
    assert done.returncode == 1, done.stdout + done.stderr
    verdict = json.loads((out / "verdict.json").read_text())
    login = next(i for i in verdict["items"] if i["item"] == "login")
    assert (login["probes_failed"], login["probes_run"], login["grade"]) == (2, 10, "P2")   # 20% of both sites
    assert verdict["sites"] == {"austin": "GO", "home": "NO-GO (P1)"}
    assert "- Every agent can log in and set a status: 2 of 10 failed, all at site home" in \
        (out / "summary.md").read_text()
    ticket = (out / "ticket.md").read_text()
    assert "**Affected:** Agent login all at site home" in ticket and "home / agent01@sandbox.allclear.test" in ticket
    desk = json.loads((tmp_path / "desk.json").read_text())
    assert len(desk["tickets"]) == 1 and len(desk["alerts"]) == 1      # the merge updated, opened nothing
    assert desk["alerts"][0]["severity"] == "error" and desk["tickets"][0]["priority"] == "high"     # P2 now
    assert "Every site has reported" in desk["tickets"][0]["comments"][-1]["body"]
    assert "home: agents-locked:2" in verdict["faults"]


def test_a_site_whose_run_never_arrived_is_could_not_verify_there_not_a_pass(run_go_in, tmp_path):
    target = write_target(tmp_path, SITES, agents=2)
    austin = run_go_in(tmp_path / "austin")("--site", "austin", target=target, checks=("test_login.py",))
    out = tmp_path / "merged"
    done = merge(austin.reports, tmp_path / "home" / "reports", target=target, out=out)
    assert done.returncode == 2, done.stdout + done.stderr
    verdict = json.loads((out / "verdict.json").read_text())
    login = next(i for i in verdict["items"] if i["item"] == "login")
    assert login["outcome"] == "inconclusive"
    missing = [p for p in login["probes"] if p["outcome"] == "inconclusive"]
    assert [p["message"] for p in missing] == ["could not verify at site home: its run never arrived"]
    assert verdict["sites"] == {"austin": "GO", "home": "its run never arrived"}


def test_a_site_not_named_by_the_target_is_refused(run_go, tmp_path):
    target = write_target(tmp_path, SITES, agents=1)
    result = run_go("--site", "paris", target=target, checks=("test_dns.py",))
    assert result.exit_code == 4 and "--site paris: not one of the target's [sites] names (austin, home)" in \
        result.output
