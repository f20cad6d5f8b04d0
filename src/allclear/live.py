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
from allclear.go_run import PLUGIN_NAME, GoRun
from allclear.grading import item_outcome
from allclear.items import item as declared
from allclear.terminal import OUTCOME_STYLES
from allclear.verdict import OUTCOME_MARKS
from allclear.watch import Look
from allclear.window import countdown_text


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
    sandbox to the Go run (`allclear_sandbox`, read by allclear.go_run when the run starts)."""

    def __init__(self, sandbox=None):
        self.allclear_sandbox = sandbox
        self.config: pytest.Config | None = None

    @pytest.hookimpl(trylast=True)
    def pytest_configure(self, config: pytest.Config) -> None:
        self.config = config

    def __rich__(self):
        run: GoRun | None = self.config.pluginmanager.get_plugin(PLUGIN_NAME) if self.config else None
        if run is None or not run.planned:
            return Text("starting the Go checklist …", style="bold")
        for _ in range(3):                      # the run changes under us; a torn read is simply retried
            with contextlib.suppress(RuntimeError):
                return self._table(run)
        return Text("…")

    def _table(self, run: GoRun) -> Table:
        now = datetime.now(timezone.utc)
        table = Table(title=f"Go checklist on {run.target.name}", title_justify="left", title_style="bold",
                      show_edge=False, pad_edge=False, box=None, padding=(0, 2))
        table.add_column("item")
        table.add_column("state")
        for item in run.progress():
            if item.finished == item.probes and item.results:
                outcome = item_outcome(item.results)
                failed = sum(r.outcome == "failed" for r in item.results)
                counts = f" ({failed}/{len(item.results)} failed)" if failed else ""
                state = Text(f"{OUTCOME_MARKS[outcome]} {outcome}{counts}", style=OUTCOME_STYLES[outcome])
            elif declared(item.key).waits and (due := run.due(item.key)) and due > now and item.running:
                state = Text(f"sends at {due.astimezone(ZoneInfo(run.target.time_zone)):%H:%M:%S %Z} "
                             f"(in {countdown_text((due - now).total_seconds())})", style="cyan")
            else:
                waiting = item.probes - item.finished - item.running
                parts = [f"{item.running} running" if item.running else "", f"{item.finished}/{item.probes} done",
                         f"{waiting} waiting" if waiting > 0 else ""]
                state = Text(", ".join(part for part in parts if part), style="bold" if item.running else "dim")
            table.add_row(item.title, state)
        left = run.lanes.deadline.left() if run.lanes else 0
        so_far = run.provisional
        if so_far is not None and run.said_so_far:
            table = Group(table, Text(f"verdict so far: {so_far.provisional_line()}",
                                      style="bold red" if so_far.verdict == "NO-GO" else "bold"))
        return Group(table, Text(f"deadline in {countdown_text(left)}; Ctrl-C ends the run with a partial verdict",
                                 style="dim"))
