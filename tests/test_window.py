"""Business hours in the target's own time zone, with holidays."""

import threading
from datetime import datetime, timedelta, timezone

import pytest

from allclear.config import BusinessHours
from allclear.window import EmailWindow, countdown_text, email_due_at, is_open

HOURS = BusinessHours(time_zone="America/Los_Angeles", weekly={"mon": ["08:00-12:00", "13:00-17:00"]},
                      holidays=["2026-11-30"])


def at(utc: str) -> datetime:
    return datetime.fromisoformat(utc).replace(tzinfo=timezone.utc)


def test_open_in_a_span_in_the_targets_time_zone():
    assert is_open(HOURS, at("2026-11-23T16:00:00"))        # Mon 08:00 PST
    assert not is_open(HOURS, at("2026-11-23T15:59:00"))    # Mon 07:59 PST
    assert not is_open(HOURS, at("2026-11-23T20:30:00"))    # lunch
    assert not is_open(HOURS, at("2026-11-24T01:00:00"))    # Mon 17:00: the end is exclusive
    assert not is_open(HOURS, at("2026-11-24T18:00:00"))    # Tuesday: no hours


def test_holidays_are_closed():
    assert not is_open(HOURS, at("2026-11-30T18:00:00"))    # a Monday, but a holiday


def test_email_due_and_countdown():
    assert email_due_at(None, 15) is None
    assert email_due_at(at("2026-11-23T07:00:00"), 15) == at("2026-11-23T07:15:00")
    assert countdown_text(3725) == "1:02:05" and countdown_text(65) == "1:05" and countdown_text(-3) == "0:00"


def test_the_email_window_gives_up_when_the_run_stops_even_if_already_due():
    stopped = threading.Event()
    stopped.set()
    ended = datetime.now(timezone.utc) - timedelta(hours=1)
    window = EmailWindow(ended, "test", "UTC", no_wait=False, say=lambda line: None, stopped=stopped)
    with pytest.raises(TimeoutError, match="nothing was sent"):
        window.wait(15)
