"""No hangs: every probe gives up at its own deadline, and the run gives up at its deadline.

The sandbox injects what hangs in real life: a reporting API that takes the request and never
answers, an SMTP server that accepts the connection and never speaks, help-center pages that start
loading and never finish.
"""

from pathlib import Path

import pytest

from tests.conftest import write_target

pytestmark = pytest.mark.slow

HANGS = ("--sandbox-fault", "helpcenter-hangs", "--sandbox-fault", "reports-silent", "--sandbox-fault", "smtp-silent")


def test_each_probe_gives_up_at_its_own_deadline(run_go, tmp_path):
    target = write_target(tmp_path, {"reporting_api.timeout_s": 2.0, "help_center.page_timeout_s": 3.0,
                                     "email.connect_timeout_s": 2.0})
    result = run_go(*HANGS, target=target, checks=("test_help_center.py", "test_reporting_api.py", "test_email.py"))

    reports = result.item("reporting_api")          # the vendor's API hanging is the vendor's failure
    assert reports["outcome"] == "failed" and reports["probes_failed"] == 3
    assert "no answer within 2 s" in reports["probes"][0]["observed"]
    help_center = result.item("help_center")
    assert help_center["outcome"] == "failed"
    observed = help_center["probes"][0]["observed"]
    assert "did not load" in observed and "Timeout 3000ms" in observed
    email = result.item("email")                    # our own probe mailbox hanging is ours: inconclusive
    assert email["outcome"] == "inconclusive"
    assert "SMTP server" in email["probes"][0]["message"]
    assert "it accepted the connection but said nothing within 2 s" in email["probes"][0]["message"]
    assert result.exit_code == 1


def test_the_run_deadline_ends_the_run_with_unfinished_items_inconclusive_and_their_evidence_kept(run_go):
    result = run_go(*HANGS, "--deadline", "6", checks=("test_help_center.py", "test_reporting_api.py", "test_dns.py"))

    assert result.item("dns")["outcome"] == "passed"            # what finished in time counts
    for key in ("help_center", "reporting_api"):
        item = result.item(key)
        assert item["outcome"] == "inconclusive" and item["grade"] is None
        assert "the run's deadline (6 s) passed before this probe finished" in item["probes"][0]["message"]
    evidence = result.item("help_center")["probes"][0]["evidence"]
    assert "evidence/help_center/Help_center/screenshot.png" in evidence   # the page as it hung
    assert all((result.reports / Path(path)).is_file() for path in evidence)
    assert result.verdict["verdict"] == "INCONCLUSIVE" and result.exit_code == 2


def test_the_deadline_also_ends_the_wait_for_the_email_window(run_go, tmp_path):
    """An email due after the deadline is never sent late: the run ends, nothing goes out afterwards."""
    result = run_go("--window-end", "2099-01-01T00:00:00+00:00", "--deadline", "3", checks=("test_email.py",))

    email = result.item("email")
    assert email["outcome"] == "inconclusive" and "deadline (3 s)" in email["probes"][0]["message"]
    assert "it will be inconclusive" in result.output       # said up front, at the start of the run
    assert "email: waiting until" in result.output
