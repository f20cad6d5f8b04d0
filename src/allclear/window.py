"""The maintenance window: when it ended (and who said so), when the email may be sent; business hours.

The window end comes from the first of: the command line (`--window-end`, or what `allclear watch`
saw), the target file, a maintenance the status page shows completed recently. Business hours
decide whether the chat widget should be available at all.

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
from allclear.probes.statuspage import read_status_page


@dataclass(frozen=True)
class WindowEnd:
    moment: datetime | None = None
    source: str = "none given"


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
    status page is given to ask) a maintenance it shows completed within its `recent_hours`."""
    if given:
        return WindowEnd(parse_window_end(given), given_source)
    if target_window_end is not None:
        return WindowEnd(target_window_end, "target file")
    try:
        found = window_end_from_status_page(status_page)
    except Exception:  # noqa: BLE001 - the status page's own check reports what is wrong with it
        found = None
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
    probe slot meanwhile (`idle`); its countdown goes to `say` (the terminal). It gives up as soon
    as `stopped` is set (the run's deadline passed, or the run ended), and says so even when the
    wait is over: no probe email goes out after the run.
    """

    def __init__(self, window_end: datetime | None, source: str, time_zone: str, no_wait: bool,
                 say: Callable[[str], None], stopped: threading.Event,
                 idle: Callable[[], AbstractContextManager[None]] = contextlib.nullcontext):
        self.window_end, self.source, self.time_zone = window_end, source, time_zone
        self.no_wait, self.say, self.stopped, self.idle = no_wait, say, stopped, idle

    def wait(self, delay_minutes: float) -> datetime | None:
        due = email_due_at(self.window_end, delay_minutes)
        if due is not None and due > datetime.now(timezone.utc):
            local_due = due.astimezone(ZoneInfo(self.time_zone))
            why = f"window end {self.window_end:%H:%M:%S %Z} ({self.source}) + {delay_minutes:g} min"
            if self.no_wait:
                raise NotYetDue(f"not yet due: the email may be sent from {local_due:%Y-%m-%d %H:%M:%S %Z} ({why})")
            self.say(f"email: waiting until {local_due:%H:%M:%S %Z} to send ({why})")
            with self.idle():
                while (left := (due - datetime.now(timezone.utc)).total_seconds()) > 0:
                    self.say(f"email: sending in {countdown_text(left)}")
                    if self.stopped.wait(min(left, 30 if left > 120 else 10 if left > 20 else 2)):
                        break
        if self.stopped.is_set():
            raise TimeoutError("the run stopped before the email could be sent; nothing was sent")
        return due


def window_end_from_status_page(page: StatusPageCheck | None) -> tuple[datetime, str] | None:
    """The end of a maintenance the status page shows as completed within its `recent_hours`."""
    if page is None or not page.enabled:
        return None
    seen = read_status_page(page.url, page.timeout_s)
    recent = seen.latest_completed
    if recent and datetime.now(timezone.utc) - recent.completed_at <= timedelta(hours=page.recent_hours):
        return recent.completed_at, f"status page: {recent.name!r} completed"
    return None
