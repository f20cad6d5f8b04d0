"""The email item end to end against the sandbox's SMTP/IMAP servers: round trip, the vendor's
delay after the window, and the faults (no reply is the platform's; our mailbox refused is ours)."""

from datetime import datetime, timedelta, timezone

import pytest

from tests.conftest import write_target

pytestmark = pytest.mark.slow


def short_deadline(tmp_path, **changes):
    return write_target(tmp_path, {"email.reply_deadline_s": 2.0, "email.poll_interval_s": 0.5, **changes})


def test_reply_arrives_and_round_trip_is_recorded(run_go):
    result = run_go(checks=("test_email.py",))
    email = result.item("email")
    assert (email["outcome"], result.exit_code) == ("passed", 0)
    facts = email["probes"][0]["facts"]
    assert 0 < facts["round_trip_s"] < 10 and facts["message_id"].startswith("<")


def test_no_reply_is_a_p1_failure_saying_what_was_sent_to_whom(run_go, tmp_path):
    result = run_go("--sandbox-fault", "mail-blackhole", target=short_deadline(tmp_path), checks=("test_email.py",))
    email = result.item("email")
    assert (email["outcome"], email["grade"], result.exit_code) == ("failed", "P1", 1)
    observed = email["probes"][0]["observed"]
    assert "no reply within 2 s" in observed
    assert "from probe@sandbox.allclear.test to support@sandbox.allclear.test" in observed


def test_slow_reply_within_deadline_passes(run_go, tmp_path):
    result = run_go("--sandbox-fault", "mail-slow:1.5", target=short_deadline(tmp_path, **{
        "email.reply_deadline_s": 10.0}), checks=("test_email.py",))
    email = result.item("email")
    assert email["outcome"] == "passed" and email["probes"][0]["facts"]["round_trip_s"] >= 1.5


@pytest.mark.parametrize("fault, says", [
    ("smtp-down", "could not send through the probe mailbox's SMTP server"),
    ("imap-auth", "the probe mailbox's IMAP server refused its login"),
])
def test_probe_mailbox_trouble_is_inconclusive(run_go, fault, says):
    result = run_go("--sandbox-fault", fault, checks=("test_email.py",))
    email = result.item("email")
    assert (email["outcome"], email["grade"], result.verdict["verdict"]) == ("inconclusive", None, "INCONCLUSIVE")
    assert says in email["probes"][0]["message"]


def test_no_wait_skips_with_the_time_it_becomes_due(run_go):
    window_end = datetime.now(timezone.utc) + timedelta(minutes=5)
    result = run_go(f"--window-end={window_end.isoformat()}", "--no-wait", checks=("test_email.py",))
    email = result.item("email")
    assert email["outcome"] == "skipped"
    assert "not yet due: the email may be sent from" in email["probes"][0]["message"]
    assert "+ 15 min" in email["probes"][0]["message"]


def test_wait_for_window_end_overlaps_the_other_checks(run_go, tmp_path):
    target = write_target(tmp_path, {"email.delay_after_window_min": 0.0}, agents=2)
    window_end = datetime.now(timezone.utc) + timedelta(seconds=30)
    result = run_go(f"--window-end={window_end.isoformat()}", target=target)
    assert result.verdict["verdict"] == "GO", result.output[-2000:]
    assert "email: waiting until" in result.output and "email: sending in" in result.output
    email = result.item("email")["probes"][0]
    sent_at = datetime.fromisoformat(email["facts"]["sent_at"])
    assert sent_at >= window_end.replace(microsecond=0)
    # The text goes out at the window's end too (no 15-minute rule for SMS); every other item is done by then.
    text_sent = datetime.fromisoformat(result.item("sms")["probes"][0]["facts"]["sent_at"])
    assert text_sent >= window_end.replace(microsecond=0)
    others = [p for item in result.verdict["items"] if item["item"] not in ("email", "sms") for p in item["probes"]]
    late = [(p["item"], p["probe"], p["finished_at"]) for p in others
            if datetime.fromisoformat(p["finished_at"]) > sent_at]
    assert others and not late, (email["facts"]["sent_at"], late)
