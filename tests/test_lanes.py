"""The lanes probes run in: side by side, within limits, and never past the run's deadline.

Overlap is shown with events (a probe that can only finish if another runs at the same time), not
with timings.
"""

import asyncio
import os
import threading
import time

import pytest

from allclear.lanes import BrowserLane, Lanes, RunDeadline, RunDeadlinePassed, keep_environment_steady


class FakeBrowser:
    """Stands in for Chromium: the lane's scheduling does not depend on what the probe does."""


async def no_browser():
    return FakeBrowser()


@pytest.fixture
def lanes():
    made = Lanes(RunDeadline(60), probes_at_once=4, browser=BrowserLane(launch=no_browser))
    yield made
    made.close()


def test_blocking_probes_run_side_by_side(lanes):
    first_started, second_started = threading.Event(), threading.Event()

    def first():
        first_started.set()
        return second_started.wait(10)

    def second():
        second_started.set()
        return first_started.wait(10)

    jobs = [lanes.start_blocking("first", first, {}), lanes.start_blocking("second", second, {})]
    assert [lanes.wait(job) for job in jobs] == [True, True]


def test_a_serial_group_runs_one_at_a_time(lanes):
    running, most = [], []
    lock = threading.Lock()

    def call(n):
        with lock:
            running.append(n)
            most.append(len(running))
        threading.Event().wait(0.05)
        with lock:
            running.remove(n)
        return n

    jobs = [lanes.start_blocking(f"report {n}", call, {"n": n}, serial="reporting_api") for n in range(4)]
    assert [lanes.wait(job) for job in jobs] == [0, 1, 2, 3]
    assert max(most) == 1


def test_browser_probes_share_the_browser_and_a_pool_bounds_them(lanes):
    running, most, seen_browsers = [0], [], set()

    async def sign_in(browser, n):
        seen_browsers.add(id(browser))
        running[0] += 1
        most.append(running[0])
        await asyncio.sleep(0.02)
        running[0] -= 1
        return n

    jobs = [lanes.start_browser(f"agent {n}", sign_in, {"n": n}, pool=("agents", 3)) for n in range(10)]
    assert [lanes.wait(job) for job in jobs] == list(range(10))
    assert max(most) == 3                       # bounded, and the bound was reached: they did overlap
    assert len(seen_browsers) == 1


def test_a_probe_errors_reaches_its_check_unchanged(lanes):
    def broken():
        raise ConnectionRefusedError("no one listening")

    job = lanes.start_blocking("broken", broken, {})
    with pytest.raises(ConnectionRefusedError, match="no one listening"):
        lanes.wait(job)


def test_past_the_deadline_waits_end_and_browser_probes_clean_up():
    lanes = Lanes(RunDeadline(0.5), browser=BrowserLane(launch=no_browser))
    cleaned_up, never = threading.Event(), threading.Event()

    async def hangs(browser):
        try:
            await asyncio.sleep(3600)
        finally:
            cleaned_up.set()                    # where a real probe takes its screenshot and keeps its trace

    stuck = lanes.start_blocking("stuck", never.wait, {})
    page = lanes.start_browser("page", hangs, {})
    with pytest.raises(RunDeadlinePassed, match=r"deadline \(0.5 s\) passed"):
        lanes.wait(page)
    assert cleaned_up.is_set()
    with pytest.raises(RunDeadlinePassed):
        lanes.wait(stuck)                       # a stuck thread is abandoned, not waited for
    lanes.close()


def test_a_browser_that_cannot_start_fails_each_probe_after_one_try():
    tries = []

    async def cannot_launch():
        tries.append(1)
        raise RuntimeError("no Chromium")

    lanes = Lanes(RunDeadline(30), browser=BrowserLane(launch=cannot_launch))

    async def visit(browser):
        return "never"

    jobs = [lanes.start_browser(f"page {n}", visit, {}) for n in range(3)]
    for job in jobs:
        with pytest.raises(RuntimeError, match="no Chromium"):
            lanes.wait(job)
    assert len(tries) == 1
    lanes.close()


def test_a_probe_still_queued_at_the_deadline_never_starts():
    lanes = Lanes(RunDeadline(0.5), probes_at_once=1, browser=BrowserLane(launch=no_browser))
    release, ran = threading.Event(), threading.Event()
    busy = lanes.start_blocking("busy", release.wait, {})
    queued = lanes.start_blocking("email", ran.set, {})          # would send an email
    with pytest.raises(RunDeadlinePassed, match="still waiting for its turn"):
        lanes.wait(queued)
    assert lanes.stopped.is_set()
    release.set()
    busy.done.wait(5)
    queued.done.wait(1)
    assert not ran.is_set()
    lanes.close()


def test_the_deadline_stops_the_run_even_when_no_check_is_waiting():
    lanes = Lanes(RunDeadline(0.2))
    assert lanes.stopped.wait(5)
    lanes.close()


def test_probes_queued_in_a_serial_group_hold_no_slot(lanes):
    """Reporting API calls go one at a time; the ones waiting their turn must not starve DNS."""
    first_in, release = threading.Event(), threading.Event()

    def slow_report():
        first_in.set()
        return release.wait(10)

    reports = [lanes.start_blocking(f"report {n}", slow_report, {}, serial="reporting_api") for n in range(6)]
    assert first_in.wait(5)
    dns = lanes.start_blocking("dns", lambda: "answered", {})
    assert lanes.wait(dns) == "answered"          # 4 slots, 6 reports queued: DNS still gets one
    release.set()
    assert all(lanes.wait(job) for job in reports)


def test_a_probe_waiting_on_purpose_gives_its_slot_back():
    lanes = Lanes(RunDeadline(30), probes_at_once=1)
    window_open, other_done = threading.Event(), threading.Event()

    def email():
        with lanes.idle():                          # what EmailWindow.wait does while it counts down
            window_open.wait(10)
        return other_done.is_set()

    waiting = lanes.start_blocking("email", email, {})
    other = lanes.start_blocking("dns", other_done.set, {})
    lanes.wait(other)
    window_open.set()
    assert lanes.wait(waiting) is True
    lanes.close()


def test_only_checks_that_may_be_skipped_wait_to_be_started(tmp_path):
    """Everything else starts when the run starts; a check marked skip/skipif/xfail starts, if at
    all, when pytest runs it (so a skipped check never sends an email)."""
    from allclear.checklist import maybe_skipped as _maybe_skipped

    class Node:
        def __init__(self, *marks):
            self.marks = marks

        def iter_markers(self, name):
            return iter([mark for mark in self.marks if mark == name])

    assert not _maybe_skipped(Node())
    assert not _maybe_skipped(Node("go", "parametrize"))
    assert _maybe_skipped(Node("go", "skipif"))
    assert _maybe_skipped(Node("xfail"))


def test_probe_threads_read_the_environment_while_pytest_moves_between_tests():
    """pytest deletes PYTEST_CURRENT_TEST after each test: a thread listing os.environ then hit a
    KeyError (a healthy line reported "could not verify"). While the guard is on it is only ever set."""
    from _pytest import runner

    class Item:
        nodeid = "checks/test_voice.py::test_support_line[Priority line]"

    errors: list[KeyError] = []
    done = threading.Event()

    def reader() -> None:       # what requests does for proxies on every request
        while not done.is_set():
            try:
                dict(os.environ.items())
            except KeyError as exc:
                errors.append(exc)

    before = os.environ.get("PYTEST_CURRENT_TEST")
    undo = keep_environment_steady()
    thread = threading.Thread(target=reader)
    thread.start()
    try:
        until = time.monotonic() + 0.5      # unguarded, this loses the race ~10 times in 0.5 s
        while time.monotonic() < until:
            runner._update_current_test_var(Item, "call")
            runner._update_current_test_var(Item, None)
        assert os.environ["PYTEST_CURRENT_TEST"] == f"{Item.nodeid} (call)"
    finally:
        done.set()
        thread.join()
        undo()
        if before is not None:
            os.environ["PYTEST_CURRENT_TEST"] = before
    assert errors == []
    runner._update_current_test_var(Item, None)       # undone: pytest deletes it again
    assert "PYTEST_CURRENT_TEST" not in os.environ
    if before is not None:
        os.environ["PYTEST_CURRENT_TEST"] = before
