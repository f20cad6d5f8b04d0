"""The run's verdict, written for machines (verdict.json) and people (summary.md, the terminal).

Every text passes through the target's redaction before it is written: no secret reaches a report.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from allclear.config import Secrets
from allclear.grading import ItemResult, ProbeResult, failure_sites, run_grade, verdict

EXIT_CODES = {"GO": 0, "NO-GO": 1, "INCONCLUSIVE": 2}
EXIT_ESCALATION_FAILED = 6   # whatever the verdict: someone must know a page or ticket did not go out
OUTCOME_MARKS = {"passed": "✔", "failed": "✘", "inconclusive": "?", "skipped": "–"}


@dataclass
class RunVerdict:
    target: str
    verdict: str
    grade: str | None
    started_at: datetime
    finished_at: datetime
    window_end: datetime | None
    window_end_source: str
    items: list[ItemResult]
    faults: list[str]
    html_report: str = ""
    not_started: str = ""
    escalation: dict | None = None
    target_file: str = ""
    time_zone: str = "UTC"          # the target's: times for people are given in it
    baseline: str = ""              # the baseline compared with (allclear.baseline), or what a preflight kept
    preflight: bool = False         # a run before the window, taking the baseline: nothing escalated
    maintenance_in_progress: str = ""   # what the status page showed in progress: no GO, nothing to the vendor
    final: bool = True              # False: a provisional verdict, written while waiting items run on
    pending: list[str] = dataclasses.field(default_factory=list)   # those items, each with when it is due
    final_by: datetime | None = None    # when the provisional verdict becomes final, at the latest
    site: str = ""                  # the site this run probed from (`--site`); a merge's: "" (all of them)
    sites: dict = dataclasses.field(default_factory=dict)   # a merge's: site -> its run's verdict, or "never arrived"

    @classmethod
    def of(cls, items: list[ItemResult], **context) -> "RunVerdict":
        return cls(verdict=verdict(items), grade=run_grade(items), items=items, **context)

    @classmethod
    def target_not_loaded(cls, reason: str, target_path: Path, started_at: datetime) -> "RunVerdict":
        """A run whose target could not be loaded still leaves a verdict behind: nothing was verified."""
        return cls(target=str(target_path), verdict="INCONCLUSIVE", grade=None, started_at=started_at,
                   finished_at=datetime.now(started_at.tzinfo), window_end=None, window_end_source="not known",
                   items=[], faults=[], not_started=reason)

    @classmethod
    def from_json(cls, document: dict) -> "RunVerdict":
        """verdict.json read back (for `allclear escalate`): the same verdict, its items and probes."""
        fields = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in document.items() if k in fields}
        for key in ("started_at", "finished_at", "window_end", "final_by"):
            values[key] = datetime.fromisoformat(values[key]) if values.get(key) else None
        probe_fields = {f.name for f in dataclasses.fields(ProbeResult)}
        values["items"] = [ItemResult(**{**item, "probes": [ProbeResult(**{k: v for k, v in p.items()
                                                                            if k in probe_fields})
                                                            for p in item["probes"]]})
                           for item in document.get("items", [])]
        return cls(**values)

    @property
    def exit_code(self) -> int:
        if self.escalation and self.escalation.get("failed"):
            return EXIT_ESCALATION_FAILED
        return EXIT_CODES[self.verdict]

    @property
    def headline(self) -> str:
        if self.verdict == "NO-GO":
            said = f"NO-GO ({self.grade})"
        elif self.verdict == "GO" and self.grade:
            said = f"GO (with {self.grade} notes)"
        else:
            said = self.verdict
        return said if self.final else f"{said} so far"

    def provisional_line(self) -> str:
        """ "NO-GO (P1) so far — email due 23:15:00 PST; verdict final by 23:25:30 PST"."""
        by = f"; verdict final by {self.local(self.final_by):%H:%M:%S %Z}" if self.final_by else ""
        return f"{self.headline} — {'; '.join(self.pending) or 'items still running'}{by}"

    def to_json(self) -> dict:
        document = asdict(self)
        for key in ("started_at", "finished_at", "window_end", "final_by"):
            document[key] = document[key].isoformat() if document[key] else None
        document["headline"] = self.headline
        document["exit_code"] = self.exit_code
        document["timeline"] = [{"at": moment.isoformat(timespec="milliseconds"), "what": what}
                                for moment, what in self.timeline()]
        return document

    def write(self, reports_dir: Path, secrets: Secrets) -> tuple[Path, Path]:
        reports_dir.mkdir(parents=True, exist_ok=True)
        verdict_path = reports_dir / "verdict.json"
        verdict_path.write_text(secrets.redact(json.dumps(self.to_json(), indent=2)) + "\n", encoding="utf-8")
        summary_path = reports_dir / "summary.md"
        summary_path.write_text(secrets.redact(self.summary_markdown()), encoding="utf-8")
        return verdict_path, summary_path

    @property
    def tally(self) -> str:
        """The items by outcome in a few words: "2 failed, 1 could not be verified, 5 passed (8 items)"."""
        if not self.items:
            return "nothing was checked"
        words = {"failed": "failed", "inconclusive": "could not be verified", "skipped": "skipped", "passed": "passed"}
        counts = {outcome: sum(item.outcome == outcome for item in self.items) for outcome in words}
        items = f"{len(self.items)} item{'s' if len(self.items) != 1 else ''}"
        return ", ".join(f"{counts[o]} {w}" for o, w in words.items() if counts[o]) + f" ({items})"

    def one_line(self) -> str:
        """The verdict for the last line of the terminal, a CI log or a chat message."""
        return f"{self.headline} on {self.target}: {self.tally}, exit {self.exit_code}"

    def table_rows(self) -> list[tuple[str, str, str, str, str]]:
        """(item, outcome, probes failed/run, grade, time): the terminal's table and summary.md's."""
        return [(item.title, item.outcome, _counts(item), item.grade or "–", f"{item.seconds:.1f} s")
                for item in self.items]

    def local(self, moment: datetime) -> datetime:
        return moment.astimezone(ZoneInfo(self.time_zone))

    def timeline(self) -> list[tuple[datetime, str]]:
        """When the window ended, the run started, each item ended, and what the checks noted on
        the way (the email sent and answered), in order."""
        events: list[tuple[datetime, str]] = []
        if self.window_end:
            events.append((self.window_end, f"maintenance window ended ({self.window_end_source})"))
        events.append((self.started_at, "run started"))
        for item in self.items:
            for probe in item.probes:
                events += [(datetime.fromisoformat(when), what) for when, what in probe.moments]
            ended = item_ended_at(item)
            if ended:
                grade = f" {item.grade}" if item.grade and item.outcome == "failed" else ""
                events.append((ended, f"{OUTCOME_MARKS[item.outcome]} {item.title}: {item.outcome}{grade}"))
        for sent in (self.escalation or {}).get("deliveries", []):
            if sent.get("at") and sent["status"] != "unchanged":
                events.append((datetime.fromisoformat(sent["at"]), f"escalation ({sent.get('stage', 'end of run')}): "
                               f"{sent['sink']}: {sent['action']} {sent['item']} → {sent['status']}"))
        if self.final:
            events.append((self.finished_at, f"run finished: {self.headline}"))
        else:
            events.append((self.finished_at, f"provisional verdict: {self.provisional_line()}"))
        return sorted(events, key=lambda event: event[0])

    def summary_markdown(self) -> str:
        """One screen: the verdict, the same table as the terminal's, the timeline, what went wrong."""
        zone = ZoneInfo(self.time_zone)
        lines = [
            f"# Go checklist: {self.headline}",
            "",
            f"**{self.headline}**: {self.tally}. Target **{self.target}**, run "
            f"{self.local(self.started_at):%Y-%m-%d %H:%M:%S} → {self.local(self.finished_at):%H:%M:%S %Z}.",
        ]
        if self.faults:
            lines.append(f"Sandbox faults injected: {', '.join(self.faults)}.")
        if not self.final:
            lines.append(f"**Run still in progress**: {self.provisional_line()}. This file is written again when the "
                         "run ends.")
        if self.maintenance_in_progress:
            lines.append(f"The vendor's status page shows {self.maintenance_in_progress}: the window has not ended, "
                         "so the run cannot say GO, and failures go to ops only, not to the vendor.")
        if self.preflight:
            lines.append(f"Preflight, before the window: nothing was escalated; the baseline is `{self.baseline}`.")
        elif self.baseline:
            lines.append(f"Compared with the baseline {self.baseline}: failures already there then are marked "
                         "*already failing before the window* and not told to the vendor.")
        if self.not_started:
            lines += ["", "The checklist did not start: the target could not be loaded.", "", "```",
                      self.not_started, "```"]
        if self.items:
            lines += ["", "| item | outcome | probes failed/run | grade | time |", "| --- | --- | --- | --- | --- |"]
            for title, outcome, counts, grade, seconds in self.table_rows():
                lines.append(f"| {OUTCOME_MARKS[outcome]} {title} | {outcome} | {counts} | {grade} | {seconds} |")
        if self.sites:
            lines += ["", "## Sites", "", *[f"- **{site}**: {said}" for site, said in self.sites.items()]]
            lines += [f"- {item.title}: {item.probes_failed} of {item.probes_run} failed, {failure_sites(item)}"
                      for item in self.items if item.outcome in ("failed", "inconclusive") and failure_sites(item)]
        problems = [(item, p) for item in self.items for p in item.probes
                    if p.outcome in ("failed", "inconclusive") or p.degraded]
        if problems:
            lines += ["", "## What went wrong", ""]
            for item, probe in problems:
                lines.append(f"- **{item.title} / {probe.probe}** ({probe.outcome}"
                             f"{', degraded' if probe.degraded else ''}"
                             f"{', already failing before the window' if probe.already_failing else ''})")
                if probe.expected:
                    lines.append(f"  - expected: {probe.expected}")
                    lines.append(f"  - observed: {probe.observed}")
                elif probe.message or probe.degraded:
                    lines.append(f"  - {(probe.message or probe.degraded).splitlines()[0]}")
                for path in probe.evidence:
                    lines.append(f"  - evidence: `{path}`")
                for path in probe.facts.get("baseline_evidence", []) if probe.already_failing else []:
                    lines.append(f"  - evidence before the window: `{path}`")
        if self.items:
            lines += ["", f"## Timeline ({self.time_zone})", "", "| time | what |", "| --- | --- |"]
            day = self.local(self.started_at).date()
            for moment, what in self.timeline():
                local = moment.astimezone(zone)
                when = f"{local:%H:%M:%S}" if local.date() == day else f"{local:%Y-%m-%d %H:%M:%S}"
                lines.append(f"| {when} | {what.replace('|', '/')} |")
        lines += self._escalation_markdown()
        if self.html_report:
            lines += ["", f"HTML report: `{self.html_report}`"]
        return "\n".join(lines) + "\n"

    def _escalation_markdown(self) -> list[str]:
        escalation = self.escalation or {}
        deliveries = escalation.get("deliveries", [])
        if not deliveries:
            return []
        mode = " (dry run: nothing was sent)" if escalation.get("mode") == "dry-run" else ""
        lines = ["", f"## Escalation{mode}", ""]
        if escalation.get("failed"):
            lines += [f"**{escalation['failed']} delivery(ies) FAILED: the vendor or on-call may not know.** "
                      "Resend with `allclear escalate` once the sink is reachable.", ""]
        lines += ["| sink | item | action | result | detail |", "| --- | --- | --- | --- | --- |"]
        for d in deliveries:
            kind = {"inconclusive": " (could not verify)",
                    "already-failing": " (already failing before the window)"}.get(d["kind"], "")
            lines.append(f"| {d['sink']} | {d['item']}{kind} | {d['action']} | {d['status']} | "
                         f"{d['detail'].replace('|', '/')} |")
        if escalation.get("ticket"):
            lines += ["", f"Vendor ticket: `{escalation['ticket']}`"]
        return lines


def _counts(item: ItemResult) -> str:
    """`4/10`, or `4/10 (3 already)` when some were failing the same way before the window."""
    if not item.probes_run:
        return "–"
    already = f" ({item.probes_already_failing} already)" if item.probes_already_failing else ""
    return f"{item.probes_failed}/{item.probes_run}{already}"


def item_ended_at(item: ItemResult) -> datetime | None:
    """When the item's last probe ended (probes that said when they started only)."""
    ends = [datetime.fromisoformat(p.started_at) + timedelta(seconds=p.seconds) for p in item.probes if p.started_at]
    return max(ends, default=None)
