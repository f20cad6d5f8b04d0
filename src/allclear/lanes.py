"""Where probes run: side by side, all within the run's deadline.

A Go run takes about as long as its slowest item, not the sum of its items: every probe is started
when the run starts and each check waits for its own observation.

- Browser probes are coroutines on one event loop in one thread, sharing one Chromium (a context
  each), because Playwright is not thread-safe. Agents are let in a few at a time (a pool).
- Blocking probes (HTTP, DNS, Twilio, SMTP/IMAP) each get a daemon thread, a bounded number at once;
  probes that must not overlap (the vendor asks for reporting API calls one at a time) share a
  `serial` lock.
- The run's deadline: a check still waiting for its probe when it passes gets `RunDeadlinePassed`
  (an inconclusive item). Browser probes are then cancelled, which lets each take its screenshot,
  log its agent out and keep its trace; a blocking probe still stuck is abandoned (daemon thread),
  never waited for at exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import CancelledError, Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from allclear.probes.errors import ProbeError

CLEANUP_GRACE_S = 30.0      # how long cancelled browser probes get to keep evidence and log out
CURRENT_TEST_VAR = "PYTEST_CURRENT_TEST"
HEAD_START_S = 5.0          # how long a probe started `after` others waits for them at most


def keep_environment_steady() -> Callable[[], None]:
    """While probes run in threads, pytest may set PYTEST_CURRENT_TEST but not delete it; returns the undo.

    pytest deletes that variable from os.environ after every test. A probe thread reading the
    environment at that moment fails with KeyError: 'PYTEST_CURRENT_TEST' (requests and httpx look up
    proxies in it on every request, Playwright copies it), since os.environ's items() fetches each key
    it listed. Seen as a healthy support line reported "could not verify" under a loaded machine.
    """
    from _pytest import runner

    update = getattr(runner, "_update_current_test_var", None)
    if update is None:                  # a pytest without it: nothing to hold back
        return lambda: None

    def set_only(item: Any, when: str | None) -> None:
        if when is not None:
            update(item, when)

    def undo() -> None:
        runner._update_current_test_var = update
        os.environ.pop(CURRENT_TEST_VAR, None)

    runner._update_current_test_var = set_only
    return undo


class RunDeadlinePassed(ProbeError):
    """The run's deadline passed before this probe finished: it could not be verified."""


class RunDeadline:
    def __init__(self, seconds: float):
        self.seconds = seconds
        self.at = time.monotonic() + seconds

    def left(self) -> float:
        return max(0.0, self.at - time.monotonic())


@dataclass
class Job:
    """One probe running (or waiting for its turn) in a lane."""

    name: str
    lane: str                           # "browser" or "thread"
    pool: str | None = None
    future: Future = field(default_factory=Future)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    done: threading.Event = field(default_factory=threading.Event)   # set once cleanup is over, even if cancelled

    @property
    def seconds(self) -> float:
        if self.started_at is None:
            return 0.0
        end = self.finished_at or datetime.now(timezone.utc)
        return round((end - self.started_at).total_seconds(), 3)

    def _start(self) -> None:
        self.started_at = datetime.now(timezone.utc)

    def _finish(self) -> None:
        self.finished_at = self.finished_at or datetime.now(timezone.utc)


class BrowserLane:
    """One Chromium, launched on first use, driven from one event-loop thread."""

    def __init__(self, launch: Callable[[], Awaitable[Any]] | None = None):
        self._launch = launch or self._launch_chromium
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="allclear-browser", daemon=True)
        self._thread.start()
        self._playwright = None
        self._browser = None
        self._launch_error: BaseException | None = None
        self._launch_lock: asyncio.Lock | None = None
        self._pools: dict[str, asyncio.Semaphore] = {}
        self._tasks: set[asyncio.Future] = set()

    async def browser(self):
        if self._launch_lock is None:
            self._launch_lock = asyncio.Lock()
        async with self._launch_lock:
            if self._launch_error is not None:
                raise self._launch_error            # tried once for the whole run
            if self._browser is None:
                try:
                    self._browser = await self._launch()
                except Exception as exc:
                    self._launch_error = exc
                    raise
        return self._browser

    async def _launch_chromium(self):
        from playwright.async_api import async_playwright

        from allclear.probes.browser import launch_chromium

        self._playwright = await async_playwright().start()
        return await launch_chromium(self._playwright)

    def submit(self, job: Job, probe: Callable[..., Awaitable[Any]], kwargs: dict[str, Any],
               pool: tuple[str, int] | None = None, after: list[Job] = ()) -> Job:
        """Run `await probe(browser=..., **kwargs)` in the lane; `pool` = (name, how many at once);
        `after`: jobs to let finish first."""

        async def run() -> Any:
            try:
                if after:       # a head start for them, never a dependency: a hung page must not hold this up
                    await asyncio.wait([asyncio.wrap_future(other.future) for other in after], timeout=HEAD_START_S)
                if pool:
                    semaphore = self._pools.setdefault(pool[0], asyncio.Semaphore(pool[1]))
                    async with semaphore:
                        return await self._run(job, probe, kwargs)
                return await self._run(job, probe, kwargs)
            finally:
                job._finish()
                job.done.set()

        job.future = asyncio.run_coroutine_threadsafe(run(), self._loop)
        return job

    async def _run(self, job: Job, probe: Callable[..., Awaitable[Any]], kwargs: dict[str, Any]) -> Any:
        browser = await self.browser()
        job._start()
        return await probe(browser=browser, **kwargs)

    def run(self, probe: Callable[..., Awaitable[Any]], timeout: float = 120, **kwargs: Any) -> Any:
        """Run one probe and wait for it (the project's own tests use this)."""
        return self.submit(Job(probe.__name__, "browser"), probe, kwargs).future.result(timeout)

    def close(self, timeout: float = 20) -> None:
        async def shut() -> None:
            if self._browser is not None:
                await self._browser.close()
            if self._playwright is not None:
                await self._playwright.stop()

        if self._loop.is_running():
            try:
                asyncio.run_coroutine_threadsafe(shut(), self._loop).result(timeout)
            except Exception:  # noqa: BLE001 - a browser that will not close must not keep the run open
                pass
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout)


class Lanes:
    """Starts probes in their lanes and hands each check its observation, within the run's deadline.

    `stopped` is set when the deadline passes (by a timer, whether or not a check is waiting then)
    or when the run ends: a probe still queued then never starts, and probes that wait on purpose
    (the email window) give up, so nothing is sent or called after the run.
    """

    def __init__(self, deadline: RunDeadline, probes_at_once: int = 8, browser: BrowserLane | None = None,
                 stopped: threading.Event | None = None):
        self.deadline = deadline
        self.stopped = stopped or threading.Event()
        self._slots = threading.BoundedSemaphore(probes_at_once)
        self._serial: dict[str, threading.Lock] = {}
        self._browser = browser
        self._held = threading.local()       # the slot the current thread's probe holds
        self.jobs: list[Job] = []
        self.deadline_passed = False
        self._timer = threading.Timer(deadline.left(), self.stopped.set)
        self._timer.daemon = True
        self._timer.start()

    @property
    def browser_lane(self) -> BrowserLane:
        if self._browser is None:
            self._browser = BrowserLane()
        return self._browser

    def start_browser(self, name: str, probe: Callable[..., Awaitable[Any]], kwargs: dict[str, Any],
                      pool: tuple[str, int] | None = None, after: list[Job] = ()) -> Job:
        job = Job(name, "browser", pool=pool[0] if pool else None)
        self.jobs.append(job)
        return self.browser_lane.submit(job, probe, kwargs, pool, after)

    def start_blocking(self, name: str, probe: Callable[..., Any], kwargs: dict[str, Any],
                       serial: str | None = None) -> Job:
        """A daemon thread for the probe. It waits for its `serial` group first and only then for a
        slot, so probes queued behind one another never hold slots others could use."""
        job = Job(name, "thread")
        self.jobs.append(job)
        lock = self._serial.setdefault(serial, threading.Lock()) if serial else None

        def run() -> None:
            try:
                with (lock or contextlib.nullcontext()), self._slots:
                    if not job.future.set_running_or_notify_cancel():
                        return                      # cancelled while queued (the deadline passed)
                    if self.stopped.is_set():
                        job.future.set_exception(RunDeadlinePassed("the run had stopped before this probe's turn"))
                        return
                    job._start()
                    self._held.slot = True
                    try:
                        result = probe(**kwargs)
                    except BaseException as exc:  # noqa: BLE001 - handed to the check (pytest.skip included)
                        job._finish()
                        job.future.set_exception(exc)
                    else:
                        job._finish()
                        job.future.set_result(result)
            finally:
                self._held.slot = False
                job.done.set()

        threading.Thread(target=run, name=f"allclear-{name}", daemon=True).start()
        return job

    @contextlib.contextmanager
    def idle(self) -> Iterator[None]:
        """For a probe that waits on purpose (the email window): its slot goes back meanwhile."""
        if not getattr(self._held, "slot", False):
            yield
            return
        self._slots.release()
        try:
            yield
        finally:
            self._slots.acquire()

    def wait(self, job: Job, on_tick: Callable[[], None] = lambda: None, tick_s: float = 1.0) -> Any:
        """The job's result (or its exception); `RunDeadlinePassed` once the run's deadline is gone."""
        while True:
            left = self.deadline.left()
            try:
                return job.future.result(timeout=min(left, tick_s) if left > 0 else 0)
            except FutureTimeout:
                on_tick()
                if self.deadline.left() > 0:
                    continue
            except CancelledError:
                pass        # cancelled at the deadline by an earlier wait
            self.deadline_passed = True
            self.stopped.set()
            self.cancel_unfinished()
            ran = f"it had run {job.seconds:g} s" if job.started_at else "it was still waiting for its turn"
            raise RunDeadlinePassed(f"the run's deadline ({self.deadline.seconds:g} s) passed before this "
                                    f"probe finished ({ran})")

    def cancel_unfinished(self) -> None:
        """Cancel every probe not yet finished: queued ones never start; running browser probes are
        cancelled and given a moment to keep their evidence and log their agent out (stuck
        threads cannot be cancelled: they are abandoned)."""
        self.stopped.set()
        for job in self.jobs:
            if not job.future.done():
                job.future.cancel()         # a thread job only if it has not started
        unfinished = [job for job in self.jobs if job.lane == "browser" and not job.done.is_set()]
        until = time.monotonic() + CLEANUP_GRACE_S
        for job in unfinished:
            job.done.wait(max(0.0, until - time.monotonic()))

    def close(self) -> None:
        self._timer.cancel()
        if self._browser is not None:
            self._browser.close()
