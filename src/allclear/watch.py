"""`allclear watch`: wait for the maintenance window to end, then run the Go checklist.

During the window, every poll interval, it looks at the login page (one HTTP GET: is the vendor's
maintenance page still up?) and the status page (is a maintenance still in progress?). The window
is over when the login page is back and the status page shows no maintenance under way, after the
watch saw the maintenance (or the status page posted one completed since the watch began): started
before the window, it must not take "no maintenance yet" for "maintenance over". The moment it
sees the window over is recorded as the window end, which schedules the email (window end + the
vendor's delay). If the deadline passes first, the checklist runs anyway: a maintenance that
overran is what the checklist is there to catch (the maintenance page still up is a P1).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from allclear.config import ConfigError, Target, WatchSettings
from allclear.probes.login_page import LoginPageLook, look_at_login_page
from allclear.probes.statuspage import StatusPageObservation, read_status_page


@dataclass
class Look:
    """What one poll saw."""

    at: datetime
    login: LoginPageLook | None = None                 # None: the target has no login item
    status_page: StatusPageObservation | None = None   # None: the target has no status page

    @property
    def in_maintenance(self) -> bool:
        """The maintenance page, or a login page not up at all (a 502, a refused connection: some
        platforms are simply down for the window), or a maintenance posted as in progress."""
        return bool((self.login and not self.login.up) or (self.status_page and self.status_page.in_progress))

    @property
    def over(self) -> bool:
        """The login page up and the status page showing no maintenance under way (`verifying`: the
        work is done, so the window is over)."""
        login_up = self.login is None or self.login.up
        page = self.status_page
        return login_up and (page is None or (not page.problem and not page.in_progress))

    def login_text(self) -> str:
        return "not watched (no [login])" if self.login is None else self.login.describe()

    def status_text(self, zone) -> str:
        page = self.status_page
        if page is None:
            return "not watched (no [status_page])"
        if page.problem:
            return page.problem
        if page.in_progress:
            first = page.in_progress[0]
            since = f" since {first.scheduled_for.astimezone(zone):%H:%M %Z}" if first.scheduled_for else ""
            return f"{first.name!r} in progress{since}"
        if page.latest_ended:
            return f"no maintenance under way; {page.latest_ended.described(zone)}"
        return f"no maintenance under way ({page.description or page.indicator})"


@dataclass
class WindowEnd:
    at: datetime
    source: str
    ended: bool = True           # False: the deadline passed with the maintenance not seen to end
    looks: int = 0


@dataclass
class MaintenanceWatch:
    """Polls until the window is over, the deadline passes or `stop` is set."""

    target: Target
    interval_s: float = WatchSettings().interval_s
    deadline_s: float = WatchSettings().deadline_s
    stop: threading.Event = field(default_factory=threading.Event)
    clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)

    def __post_init__(self) -> None:
        login, page = self.target.login, self.target.status_page
        if not (login and login.enabled) and not (page and page.enabled):
            raise ConfigError(f"target {self.target.name!r}: nothing to watch: `allclear watch` needs [login] or "
                              "[status_page] (enabled) to tell when the maintenance is over")
        if self.interval_s <= 0 or self.deadline_s <= 0:
            raise ConfigError("the poll interval and the watch deadline must be seconds above 0")

    def look(self) -> Look:
        login, page = self.target.login, self.target.status_page
        seen = Look(self.clock())
        if login and login.enabled:
            seen.login = look_at_login_page(login.url, login.maintenance_phrases, min(login.page_timeout_s,
                                                                                      self.interval_s * 2))
        if page and page.enabled:
            seen.status_page = read_status_page(page.url, min(page.timeout_s, self.interval_s * 2))
        seen.at = self.clock()          # when both answered: never before what they said
        return seen

    def wait_for_the_end(self, on_look: Callable[[Look], None] = lambda look: None) -> WindowEnd | None:
        """The window end, or None when stopped (Ctrl-C) first."""
        began = self.clock()
        gives_up = began + timedelta(seconds=self.deadline_s)
        seen_maintenance, looks = False, 0
        while not self.stop.is_set():
            look = self.look()
            looks += 1
            on_look(look)
            seen_maintenance = seen_maintenance or look.in_maintenance
            if look.over and (seen_maintenance or self._completed_since(look, began)):
                return WindowEnd(look.at, self._source(look, seen_maintenance), looks=looks)
            left = (gives_up - self.clock()).total_seconds()
            if left <= 0:
                return WindowEnd(look.at, f"allclear watch: its deadline ({self.deadline_s:g} s) passed with the "
                                 "maintenance not seen to end", ended=False, looks=looks)
            self.stop.wait(min(self.interval_s, left))
        return None

    def _completed_since(self, look: Look, began: datetime) -> bool:
        done = look.status_page.latest_ended if look.status_page else None
        return bool(done and done.ended_at >= began - timedelta(seconds=self.interval_s))

    def _source(self, look: Look, seen_maintenance: bool) -> str:
        seen = []
        if look.login is not None:
            seen.append("login page back")
        page = look.status_page
        if page is not None and page.latest_ended:
            seen.append(f"status page: {page.latest_ended.described()}")
        elif page is not None:
            seen.append("status page: no maintenance under way")
        when = "saw it end" if seen_maintenance else "found it already over"
        return f"allclear watch {when}: {', '.join(seen)}"
