"""What a Go run says on the terminal, drawn with rich.

A line per item as soon as its last probe is judged (ops see the agents fail while the email is
still waiting for its time), and at the end one table: item, outcome, probes failed/run, grade,
time; then why each item that did not pass did not. The table's rows are the verdict's, the same
as at the top of summary.md. Everything is rendered to text here and written by pytest's own
terminal writer, so it interleaves with pytest's output and keeps colour only on a terminal.
"""

from __future__ import annotations

import io
from pathlib import PurePosixPath

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from allclear.grading import ItemResult
from allclear.verdict import OUTCOME_MARKS, RunVerdict

OUTCOME_STYLES = {"passed": "green", "failed": "bold red", "inconclusive": "yellow", "skipped": "dim"}
VERDICT_STYLES = {"GO": "bold green", "NO-GO": "bold red", "INCONCLUSIVE": "bold yellow"}


def render(renderable, width: int, color: bool) -> str:
    """A rich renderable as text for pytest's terminal writer (ANSI colours only when `color`)."""
    console = Console(file=io.StringIO(), width=max(width, 60), force_terminal=color, no_color=not color,
                      color_system="standard" if color else None, highlight=False, emoji=False)
    console.print(renderable)
    return console.file.getvalue().rstrip("\n")


def shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def item_line(item: ItemResult, width: int = 80) -> Text:
    """One item, as it finishes: ✘ Every agent can log in and set a status   failed  P2  2/10 failed  13.1 s"""
    counts = f"{item.probes_failed}/{item.probes_run} failed" if item.probes_run else "none run"
    title_width = max(24, min(56, width - 40))   # the line fits the terminal (80 columns in CI logs)
    line = Text(f"{OUTCOME_MARKS[item.outcome]} ", style=OUTCOME_STYLES[item.outcome], no_wrap=True)
    line.append(f"{shorten(item.title, title_width):<{title_width}} ")
    line.append(f"{item.outcome:<12} ", style=OUTCOME_STYLES[item.outcome])
    line.append(f"{item.grade or '':<3} ", style="bold" if item.grade in ("P1", "P2") else "")
    line.append(f"{counts:>12} {item.seconds:5.1f} s")
    return line


def verdict_table(verdict: RunVerdict) -> Table:
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, header_style="bold", padding=(0, 1))
    table.add_column("item", overflow="fold")
    table.add_column("outcome", no_wrap=True)
    table.add_column("probes\nfailed/run", justify="right", no_wrap=True)
    table.add_column("grade", justify="center", no_wrap=True)
    table.add_column("time", justify="right", no_wrap=True)
    for title, outcome, counts, grade, seconds in verdict.table_rows():
        style = OUTCOME_STYLES[outcome]
        table.add_row(Text(f"{OUTCOME_MARKS[outcome]} {title}"), Text(outcome, style=style), counts,
                      Text(grade, style="bold" if grade in ("P1", "P2") else ""), seconds)
    return table


def reasons(verdict: RunVerdict, per_item: int = 3, reports_dir: str = "reports") -> list[str]:
    """Why each item that did not pass did not: its first few probes' expected/observed, one line
    each, and under it where the probe's evidence is (screenshot, trace)."""
    lines = []
    for item in verdict.items:
        shown = [p for p in item.probes if p.outcome in ("failed", "inconclusive")] \
            or [p for p in item.probes if p.degraded or (p.outcome == "skipped" and item.outcome == "skipped")]
        for probe in shown[:per_item]:
            reason = (probe.message or probe.degraded or probe.outcome).splitlines()[0]
            tries = f" (after {len(probe.retried) + 1} tries)" if probe.retried else ""
            before = " [already failing before the window: not the vendor's]" if probe.already_failing else ""
            lines.append(f"{OUTCOME_MARKS[probe.outcome]} {item.item} / {probe.probe}: {reason}{tries}{before}")
            if probe.evidence:
                folder = str(PurePosixPath(reports_dir, probe.evidence[0]).parent)
                files = ", ".join(PurePosixPath(path).name for path in probe.evidence)
                lines.append(f"    evidence: {folder}/ ({files})")
        if len(shown) > per_item:
            lines.append(f"  … and {len(shown) - per_item} more {item.item} probe(s): see summary.md")
        lines += [f"↻ {item.item} / {p.probe}: {p.message.splitlines()[0]}" for p in item.probes
                  if p.retried and p.outcome == "passed"]
    return lines
