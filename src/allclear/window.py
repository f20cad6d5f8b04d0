"""The maintenance window: when it ended (and who said so), when the email may be sent; business hours.

The window end comes from the first of: the command line (`--window-end`, or what `allclear watch`
saw), the target file, a maintenance the status page shows ended recently (`verifying` or
`completed`, whichever came first). A maintenance the status page shows still in progress means the
window has not ended: the run says so, the email waits for its end, and the run cannot say GO.
Business hours decide whether the chat widget should be available at all.

The vendor asks for the test email to go out at least 15 minutes after the window ends (mail
queued during the window is still being routed before then). With no known window end, as in a
scheduled smoke run, there is nothing to wait for.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from allclear.config import BusinessHours
from allclear.items.status_page import StatusPageCheck
from allclear.probes.statuspage import StatusPageObservation, read_status_page


@dataclass(frozen=True)
class WindowEnd:
    moment: datetime | None = None
    source: str = "none given"
    in_progress: str = ""      # what the status page showed still in progress when the run started


class WindowEndError(ValueError):
    """A window end given on the command line that is not a time with its UTC offset."""


def parse_window_end(text: str, option: str = "--window-end") -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise WindowEndError(f"{option}: {text!r} is not an ISO 8601 time such as 2026-11-23T23:00:00-08:00") from None
    if moment.tzinfo is None:
        raise WindowEndError(f"{option}: {text!r} needs a UTC offset, such as 2026-11-23T23:00:00-08:00")
    return moment


def resolve_window_end(given: str | None, given_source: str, target_window_end: datetime | None,
                       status_page: StatusPageCheck | None = None) -> WindowEnd:
    """The window end and its source: the command line's, else the target file's, else (when a
    status page is given to ask) a maintenance it shows ended within its `recent_hours`. Whichever
    it is, a maintenance the status page shows in progress is kept in `in_progress`."""
    try:
        seen = read_status_page(status_page.url, status_page.timeout_s) \
            if status_page is not None and status_page.enabled else None
    except Exception:  # noqa: BLE001 - the status page's own check reports what is wrong with it
        seen = None
    if seen is not None and seen.problem:
        seen = None
    in_progress = seen.in_progress[0].described() if seen and seen.in_progress else ""
    if given:
        return WindowEnd(parse_window_end(given), given_source, in_progress)
    if target_window_end is not None:
        return WindowEnd(target_window_end, "target file", in_progress)
    if in_progress:
        return WindowEnd(None, "not yet: the status page shows the maintenance in progress", in_progress)
    found = recent_end(seen, status_page.recent_hours) if seen else None
    return WindowEnd(*found) if found else WindowEnd()


def email_due_at(window_end: datetime | None, delay_minutes: float) -> datetime | None:
    return window_end + timedelta(minutes=delay_minutes) if window_end else None


def countdown_text(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def is_open(hours: BusinessHours, now: datetime) -> bool:
    """Whether `now` falls in the weekly hours in their own time zone (holidays closed all day)."""
    local = now.astimezone(ZoneInfo(hours.time_zone))
    if local.date() in hours.holidays:
        return False
    day = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[local.weekday()]
    clock = local.strftime("%H:%M")
    for span in hours.weekly.get(day, []):
        start, end = span.split("-")
        if start <= clock < end:
            return True
    return False


class NotYetDue(Exception):
    """Run with no wait, and the email may not be sent yet: the item is skipped with its due time."""


class EmailWindow:
    """The wait before the test email: until the window end plus the vendor's delay.

    It runs in the email probe's own thread, beside the rest of the checklist, giving back its
    probe slot meanwhile (`idle`); its countdown goes to `say` (the terminal). While the status page
    shows the maintenance in progress (and no window end was given), it first waits for the status
    page to show it ended, reading it every `poll_s`, and tells `ended` the end it saw. It gives up
    as soon as `stopped` is set (the run's deadline passed, or the run ended), and says so even when
    the wait is over: no probe email goes out after the run.
    """

    def __init__(self, window: WindowEnd, time_zone: str, no_wait: bool, say: Callable[[str], None],
                 stopped: threading.Event, idle: Callable[[], AbstractContextManager[None]] = contextlib.nullcontext,
                 status_page: StatusPageCheck | None = None, poll_s: float = 30.0,
                 ended: Callable[[WindowEnd], None] = lambda end: None):
        self.window_end, self.source, self.in_progress = window.moment, window.source, window.in_progress
        self.time_zone, self.no_wait, self.say, self.stopped, self.idle = time_zone, no_wait, say, stopped, idle
        self.status_page, self.poll_s, self.ended = status_page, poll_s, ended

    def wait(self, delay_minutes: float, what: str = "email") -> datetime | None:
        """Until `what` (the email, the text) may go out: the window end plus `delay_minutes`."""
        if self.window_end is None and self.in_progress:
            self._until_the_maintenance_ends(what)
        due = email_due_at(self.window_end, delay_minutes)
        if due is not None and due > datetime.now(timezone.utc):
            local_due = due.astimezone(ZoneInfo(self.time_zone))
            why = f"window end {self.window_end:%H:%M:%S %Z} ({self.source}) + {delay_minutes:g} min"
            if self.no_wait:
                raise NotYetDue(f"not yet due: the {what} may be sent from {local_due:%Y-%m-%d %H:%M:%S %Z} ({why})")
            self.say(f"{what}: waiting until {local_due:%H:%M:%S %Z} to send ({why})")
            with self.idle():
                while (left := (due - datetime.now(timezone.utc)).total_seconds()) > 0:
                    self.say(f"{what}: sending in {countdown_text(left)}")
                    if self.stopped.wait(min(left, 30 if left > 120 else 10 if left > 20 else 2)):
                        break
        if self.stopped.is_set():
            raise TimeoutError(f"the run stopped before the {what} could be sent; nothing was sent")
        return due


    def _until_the_maintenance_ends(self, what: str) -> None:
        """Not sent while the vendor says its maintenance is in progress: the window has not ended."""
        if self.no_wait or self.status_page is None:
            raise NotYetDue(f"not sent: the vendor's status page shows {self.in_progress}: the window has not "
                            f"ended (the {what} goes out a while after it does)")
        self.say(f"{what}: waiting for the maintenance to end ({self.in_progress}); reading the status page "
                 f"every {self.poll_s:g} s")
        with self.idle():
            while not self.stopped.wait(self.poll_s):
                seen = read_status_page(self.status_page.url, self.status_page.timeout_s)
                found = None if seen.problem else recent_end(seen, self.status_page.recent_hours)
                if found:
                    self.window_end, self.source = found
                    self.in_progress = ""
                    self.say(f"{what}: the maintenance has ended ({self.source})")
                    self.ended(WindowEnd(self.window_end, self.source))    # the run's verdict and due times
                    return
        raise TimeoutError(f"the run stopped while the vendor's status page still showed {self.in_progress}; "
                           "nothing was sent: the window has not ended")


def recent_end(seen: StatusPageObservation, recent_hours: float) -> tuple[datetime, str] | None:
    """The end of the maintenance the status page shows ended (verifying or completed) within
    `recent_hours`, while none is in progress."""
    ended = seen.window_end
    if ended and datetime.now(timezone.utc) - ended.ended_at <= timedelta(hours=recent_hours):
        return ended.ended_at, f"status page: {ended.described()}"
    return None
