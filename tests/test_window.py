"""The window: its end (the status page's `verifying` counts, an `in_progress` one holds it open),
the wait before the email, business hours in the target's own time zone."""

import threading
from datetime import datetime, timedelta, timezone

import pytest

from allclear import window as window_module
from allclear.config import BusinessHours
from allclear.items.status_page import StatusPageCheck
from allclear.probes.statuspage import Maintenance, StatusPageObservation
from allclear.window import EmailWindow, NotYetDue, WindowEnd, countdown_text, email_due_at, is_open, resolve_window_end

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
    window = EmailWindow(WindowEnd(ended, "test"), "UTC", no_wait=False, say=lambda line: None, stopped=stopped)
    with pytest.raises(TimeoutError, match="nothing was sent"):
        window.wait(15)


PAGE = StatusPageCheck(url="http://127.0.0.1:9/statuspage")
NOW = datetime.now(timezone.utc).replace(microsecond=0)


def maintenance(status: str, minutes_ago: float, name: str = "Database upgrade") -> Maintenance:
    moment = NOW - timedelta(minutes=minutes_ago)
    return Maintenance(name, status, moment - timedelta(minutes=30), moment,
                       completed_at=moment if status == "completed" else None,
                       verifying_at=moment if status == "verifying" else None)


def page_showing(*maintenances: Maintenance) -> StatusPageObservation:
    ended = [m for m in maintenances if m.status in ("verifying", "completed")]
    return StatusPageObservation(url=PAGE.url, active=[m for m in maintenances if m.status != "completed"],
                                 latest_ended=max(ended, key=lambda m: m.ended_at, default=None))


def status_page_reads(monkeypatch, *pages: StatusPageObservation) -> list:
    """The status page as read by the run, one observation per read (the last one repeats)."""
    reads = []

    def read(url, timeout_s):
        reads.append(url)
        return pages[min(len(reads), len(pages)) - 1]

    monkeypatch.setattr(window_module, "read_status_page", read)
    return reads


def test_a_maintenance_in_progress_is_no_window_end_even_with_an_earlier_one_completed(monkeypatch):
    status_page_reads(monkeypatch, page_showing(maintenance("completed", 20, "Earlier"),
                                                maintenance("in_progress", -20, "Network work")))
    end = resolve_window_end(None, "--window-end", None, PAGE)
    assert end.moment is None and end.in_progress.startswith("'Network work' is in progress")


def test_verifying_is_the_end_of_the_window(monkeypatch):
    status_page_reads(monkeypatch, page_showing(maintenance("completed", 200, "Earlier"),
                                                maintenance("verifying", 5, "Network work")))
    end = resolve_window_end(None, "--window-end", None, PAGE)
    assert end.moment == NOW - timedelta(minutes=5) and not end.in_progress
    assert "'Network work' is verifying" in end.source


def test_a_given_window_end_wins_but_the_maintenance_in_progress_is_kept(monkeypatch):
    status_page_reads(monkeypatch, page_showing(maintenance("in_progress", -20)))
    end = resolve_window_end("2026-11-23T23:00:00-08:00", "--window-end", None, PAGE)
    assert end.moment == datetime.fromisoformat("2026-11-23T23:00:00-08:00") and "in progress" in end.in_progress


def test_the_email_is_not_sent_no_wait_while_the_maintenance_is_in_progress(monkeypatch):
    status_page_reads(monkeypatch)
    held = EmailWindow(WindowEnd(None, "status page", "'Network work' is in progress"), "UTC", no_wait=True,
                       say=lambda line: None, stopped=threading.Event(), status_page=PAGE)
    with pytest.raises(NotYetDue, match="status page shows 'Network work' is in progress: the window has not ended"):
        held.wait(15)


def test_the_email_waits_for_the_status_page_to_show_the_end_then_its_delay(monkeypatch):
    reads = status_page_reads(monkeypatch, page_showing(maintenance("in_progress", -20)),
                              page_showing(maintenance("verifying", 16)))
    said: list[str] = []
    learned: list[WindowEnd] = []
    held = EmailWindow(WindowEnd(None, "status page", "'Database upgrade' is in progress"), "UTC", no_wait=False,
                       say=said.append, stopped=threading.Event(), status_page=PAGE, poll_s=0.01, ended=learned.append)
    assert held.wait(15) == NOW - timedelta(minutes=1)          # verifying 16 min ago + 15 min: already due
    assert len(reads) == 2 and any("has ended" in line and "verifying" in line for line in said)
    assert [end.moment for end in learned] == [NOW - timedelta(minutes=16)]     # the run's verdict learns it too
    assert "verifying" in learned[0].source


def test_the_email_gives_up_when_the_run_stops_with_the_maintenance_still_in_progress(monkeypatch):
    status_page_reads(monkeypatch, page_showing(maintenance("in_progress", -20)))
    stopped = threading.Event()
    held = EmailWindow(WindowEnd(None, "status page", "'Database upgrade' is in progress"), "UTC", no_wait=False,
                       say=lambda line: None, stopped=stopped, status_page=PAGE, poll_s=0.01)
    threading.Timer(0.1, stopped.set).start()
    with pytest.raises(TimeoutError, match="still showed 'Database upgrade' is in progress; nothing was sent"):
        held.wait(15)
