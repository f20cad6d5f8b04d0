"""What `allclear watch` shows live on a terminal (rich): while it waits for the window to end,
what the last look saw and when the next one is; while the checklist runs, which items are
running, done or waiting, and the email's countdown. Lines that matter (the platform changed,
an item finished) are printed above the panel and stay in the scrollback; off a terminal (CI,
a pipe) only those lines are written.
"""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from rich.console import Group
from rich.table import Table
from rich.text import Text

from allclear.config import Target
from allclear.grading import item_outcome
from allclear.plugin import RUN_KEY
from allclear.terminal import OUTCOME_STYLES
from allclear.verdict import OUTCOME_MARKS
from allclear.watch import Look
from allclear.window import countdown_text, email_due_at


class WaitingPanel:
    """The watch before the window ends: what the last look saw, when the next one is."""

    def __init__(self, target: Target, interval_s: float, gives_up_at: datetime):
        self.target, self.interval_s, self.gives_up_at = target, interval_s, gives_up_at
        self.zone = ZoneInfo(target.time_zone)
        self.last: Look | None = None
        self.looks = 0

    def saw(self, look: Look) -> None:
        self.last, self.looks = look, self.looks + 1

    def __rich__(self) -> Table:
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="bold")
        grid.add_column()
        now = datetime.now(timezone.utc)
        grid.add_row("watching", Text(f"{self.target.name}: waiting for the maintenance window to end",
                                      style="bold yellow"))
        if self.last is not None:
            login_style = "green" if self.last.login is None or self.last.login.up else "yellow"
            grid.add_row("login page", Text(self.last.login_text(), style=login_style))
            grid.add_row("status page", Text(self.last.status_text(self.zone)))
            following = self.last.at + timedelta(seconds=self.interval_s)
            grid.add_row("next look", f"in {countdown_text((following - now).total_seconds())} "
                         f"(every {self.interval_s:g} s; {self.looks} so far)")
        grid.add_row("gives up", f"{self.gives_up_at.astimezone(self.zone):%H:%M:%S %Z} "
                     f"(in {countdown_text((self.gives_up_at - now).total_seconds())}); Ctrl-C stops watching")
        return grid


class ChecklistPanel:
    """The checklist as it runs; also the pytest plugin that hands `allclear watch`'s running
    sandbox to the Go run (`allclear_sandbox`, read by allclear.plugin when the run starts)."""

    def __init__(self, sandbox=None):
        self.allclear_sandbox = sandbox
        self.config: pytest.Config | None = None

    @pytest.hookimpl(trylast=True)
    def pytest_configure(self, config: pytest.Config) -> None:
        self.config = config

    def __rich__(self):
        run = self.config.stash.get(RUN_KEY, None) if self.config else None
        if run is None or not run.planned:
            return Text("starting the Go checklist …", style="bold")
        for _ in range(3):                      # the run changes under us; a torn read is simply retried
            with contextlib.suppress(RuntimeError):
                return self._table(run)
        return Text("…")

    def _table(self, run) -> Table:
        now = datetime.now(timezone.utc)
        table = Table(title=f"Go checklist on {run.target.name}", title_justify="left", title_style="bold",
                      show_edge=False, pad_edge=False, box=None, padding=(0, 2))
        table.add_column("item")
        table.add_column("state")
        for key, nodeids in list(run.planned.items()):
            results = [run.results[n] for n in nodeids if n in run.results]
            finished = len(nodeids) - len(run.unfinished.get(key, ()))
            jobs = [job for (nodeid, _), job in list(run.jobs.items()) if nodeid in nodeids]
            running = sum(job.started_at is not None and not job.done.is_set() for job in jobs)
            title = run.titles.get(key) or key.replace("_", " ")
            if finished == len(nodeids) and results:
                outcome = item_outcome(results)
                failed = sum(r.outcome == "failed" for r in results)
                counts = f" ({failed}/{len(results)} failed)" if failed else ""
                state = Text(f"{OUTCOME_MARKS[outcome]} {outcome}{counts}", style=OUTCOME_STYLES[outcome])
            elif key == "email" and (due := self._email_due(run)) and due > now and running:
                state = Text(f"sends at {due.astimezone(ZoneInfo(run.target.time_zone)):%H:%M:%S %Z} "
                             f"(in {countdown_text((due - now).total_seconds())})", style="cyan")
            else:
                waiting = len(nodeids) - finished - running
                parts = [f"{running} running" if running else "", f"{finished}/{len(nodeids)} done",
                         f"{waiting} waiting" if waiting > 0 else ""]
                state = Text(", ".join(part for part in parts if part), style="bold" if running else "dim")
            table.add_row(title, state)
        left = run.lanes.deadline.left() if run.lanes else 0
        return Group(table, Text(f"deadline in {countdown_text(left)}; Ctrl-C ends the run with a partial verdict",
                                 style="dim"))

    @staticmethod
    def _email_due(run) -> datetime | None:
        email = run.target.email
        return email_due_at(run.window_end, email.delay_after_window_min) if email else None
