"""What one escalation says, whatever the sink: a title, a one-line summary, the full text, details.

The full text is the item's section of the vendor ticket (reports/ticket.md), so a page, a Jira
issue and a support email all carry the same facts: grade, target, window, observed vs expected,
how many affected of how many, first seen with time zone, steps, identifiers, the report.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from allclear.config import Secrets, Target
from allclear.escalation.plan import Change
from allclear.ticket import Escalated, affected, failing, headline, item_section, local, name
from allclear.verdict import RunVerdict


@dataclass
class Notice:
    change: Change
    title: str          # subject / summary line, with the grade
    summary: str        # one line for a pager or a chat message
    text: str           # the full text (Markdown)
    details: dict       # machine-readable facts
    report_path: Path | None   # the single-file HTML report to attach, when one was built
    report_link: str    # where people can open the report: a URL if known, else the file's path

    @property
    def action(self) -> str:
        return self.change.action

    @property
    def update_heading(self) -> str:
        """What an update says first: the run's end after the item was escalated at once, or a repeat."""
        if self.change.told_at_once and self.details.get("sites"):
            return (f"Every site has reported ({self.details['headline']}, graded over all sites' probes): "
                    "this is the final report.")
        if self.change.told_at_once:
            return f"The run has ended ({self.details['headline']}): this is its final report."
        return f"Failing again ({self.details['runs']} runs in a row)."

    @property
    def grade(self) -> str:
        """The escalation's grade; "could not verify" pages as a P3 (a warning, not the vendor's outage)."""
        if self.change.kind in ("inconclusive", "already-failing"):
            return "P3"
        return self.change.record.grade or self.change.item.grade or "P2"


def notice_for(change: Change, verdict: RunVerdict, target: Target, report_path: Path | None,
               report_url: str, secrets: Secrets | None = None) -> Notice:
    """The notice, with every secret the target names redacted (a probe's message may quote one)."""
    notice = _notice(change, verdict, target, report_path, report_url)
    if secrets is None:
        return notice
    notice.title, notice.summary, notice.text = (secrets.redact(t) for t in (notice.title, notice.summary, notice.text))
    notice.details = json.loads(secrets.redact(json.dumps(notice.details)))
    notice.report_link = secrets.redact(notice.report_link)
    return notice


def _notice(change: Change, verdict: RunVerdict, target: Target, report_path: Path | None,
            report_url: str) -> Notice:
    item, record = change.item, change.record
    report_link = report_url or (str(report_path) if report_path else "no HTML report was built")
    if change.action == "resolve":
        what = {"inconclusive": "could be verified again",
                "already-failing": "no longer fails as it did before the window"}.get(change.kind, "passes again")
        title = f"Resolved: {target.name}: {name(item)} {what}"
        since = (". allclear had no record of this escalation here (opened by a site's run, or before its "
                 "record was lost): it was found by its key." if change.search else
                 f"; first seen {local(record.first_seen, target.time_zone)}, {record.runs} run(s).")
        summary = (f"{name(item)} {what} ({item.probes_run - item.probes_failed} of {item.probes_run} ok) "
                   f"at {local(verdict.finished_at, target.time_zone)}{since}")
        text = f"{summary}\n\nReport: {report_link}\n"
    else:
        entry = Escalated(item, record.first_seen, record.runs)
        if change.kind == "already-failing":
            title = f"[already failing before the window] {target.name}: {name(item)}"
            summary = (f"{name(item)}: {item.probes_already_failing} of {item.probes_run} failing as they did in the "
                       "baseline taken before the window (not told to the vendor as a maintenance regression)")
        elif change.kind == "inconclusive":
            title = f"[could not verify] {target.name}: {name(item)}"
            reason = failing(item)[0].message if failing(item) else "unknown"
            summary = f"{name(item)}: could not verify ({affected(item)}): {reason.splitlines()[0] if reason else ''}"
        else:
            title = f"[{item.grade}] {target.name}: {headline(item)}"
            summary = f"{headline(item)} ({item.grade}, verdict {verdict.headline})"
        if verdict.site:           # one site's run: the merge of all sites updates it with their grade
            summary += f" (seen from site {verdict.site})"
        if not verdict.final:      # escalated as soon as the item was decided: the rest is still running
            summary += f"; run still in progress: {'; '.join(verdict.pending)}, the report follows"
        window = local(verdict.window_end, target.time_zone) if verdict.window_end else "not known"
        text = "\n".join([
            f"{summary}.", "",
            f"Target: {target.name}. Maintenance window ended: {window}. "
            f"Run: {local(verdict.started_at, target.time_zone)}.", "",
            *item_section(entry, target, level="##"),
            f"Report: {report_link}", ""])
    details = {
        "target": target.name, "item": item.item, "kind": change.kind, "action": change.action,
        "grade": record.grade, "verdict": verdict.verdict, "headline": verdict.headline,
        "final": verdict.final, "affected": affected(item), "site": verdict.site, "sites": dict(verdict.sites),
        "probes_failed": item.probes_failed, "probes_run": item.probes_run,
        "first_seen": None if change.search else record.first_seen.isoformat(), "runs": record.runs,
        "window_end": verdict.window_end.isoformat() if verdict.window_end else None,
        "failing_probes": [{"probe": p.probe, "outcome": p.outcome, "expected": p.expected, "observed": p.observed,
                            "message": p.message.splitlines()[0] if p.message else ""}
                           for p in failing(item)] if change.action != "resolve" else [],
        "report": report_link,
    }
    return Notice(change, title[:250], summary, text, details, report_path, report_link)
