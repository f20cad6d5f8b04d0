"""The vendor ticket, written from the verdict: reports/ticket.md, and the text every escalation carries.

It answers the questions a vendor's support intake asks (observed vs expected, steps to reproduce,
agents and interactions affected, frequency, time and time zone, identifiers, screenshots, logs)
so a support lead can send it as it is, and it carries the three status updates of an incident
(investigating, identified, resolved) filled in for this run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from allclear.config import Target
from allclear.grading import GRADES, ItemResult, ProbeResult, failure_sites
from allclear.items import item as declared
from allclear.verdict import RunVerdict

GRADE_NAMES = {"P1": "system outage", "P2": "major impairment", "P3": "minor loss", "P4": "no loss"}

IDENTIFIER_FACTS = {"call_sid": "call SID", "message_id": "Message-ID", "conversation_id": "conversation id",
                    "request_id": "request id"}


@dataclass
class Escalated:
    """One item of the ticket, with what the escalation state knows about it."""

    item: ItemResult
    first_seen: datetime
    runs: int               # consecutive failing runs so far, this one included
    resolved_at: datetime | None = None
    grade: str | None = None   # the escalation's grade (a resolved item no longer has one of its own)


def plural(count: int, item: str) -> str:
    one, many = declared(item).probe
    return one if count == 1 else many


def name(item: ItemResult) -> str:
    return declared(item.item, item.title).short_name


def local(moment: datetime, tz: str) -> str:
    return moment.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M:%S %Z")


def failing(item: ItemResult) -> list[ProbeResult]:
    bad = [p for p in item.probes if p.outcome == "failed"]
    return bad or [p for p in item.probes if p.outcome == "inconclusive"]


def affected(item: ItemResult) -> str:
    share = f" ({item.probes_failed / item.probes_run:.0%})" if item.probes_run else ""
    return f"{item.probes_failed} of {item.probes_run} {plural(item.probes_run, item.item)}{share}"


def headline(item: ItemResult) -> str:
    """`Agent login: 4 of 10 agents (40%) failing`: the one line a pager or chat message shows."""
    if item.outcome == "inconclusive":
        return f"{name(item)}: could not verify"
    return f"{name(item)}: {affected(item)} failing"


def steps_to_reproduce(item: ItemResult, target: Target) -> list[str]:
    """By hand, as a vendor engineer would retrace it, from the target's own endpoints."""
    probes = ", ".join(p.probe for p in failing(item)[:5]) or "any"
    return declared(item.item).steps_to_reproduce(target, probes)


def identifiers(item: ItemResult) -> list[str]:
    found: list[str] = []
    if declared(item.item).probes_are_identifiers:
        found += [f"{declared(item.item).probe[0]} {p.probe}" for p in failing(item)]
    for probe in item.probes:
        for fact, label in IDENTIFIER_FACTS.items():
            if probe.facts.get(fact):
                found.append(f"{label} {probe.facts[fact]} ({probe.probe}, {probe.outcome})")
    return found


def item_section(entry: Escalated, target: Target, level: str = "###") -> list[str]:
    item = entry.item
    lines = [f"{level} {name(item)}: {item.grade or 'not graded'}"
             + (f" ({GRADE_NAMES[item.grade]})" if item.grade else ""), "", f"_{item.title}._", ""]
    lines.append("**Observed vs expected**")
    lines.append("")
    seen: dict[str, list[ProbeResult]] = {}   # probes that saw the same thing, listed together
    for probe in failing(item):
        seen.setdefault(probe.observed or (probe.message or probe.outcome).splitlines()[0], []).append(probe)
    for observed, probes in seen.items():
        who = ", ".join(p.probe for p in probes)
        expected = probes[0].expected.replace(probes[0].probe, "it") if probes[0].expected else ""
        lines.append(f"- {who}: observed {observed}" + (f"; expected {expected}" if expected else ""))
    lines += ["", f"**Affected:** {affected(item)}."]
    if declared(item.item).interactions:
        lines.append("**Interactions affected:** "
                     + declared(item.item).interactions.format(failed=item.probes_failed, run=item.probes_run) + ".")
    lines.append(f"**First seen:** {local(entry.first_seen, target.time_zone)}.")
    again = "first run to fail" if entry.runs == 1 else f"failing in {entry.runs} consecutive runs"
    lines.append(f"**Frequency:** {again}; in this run {affected(item)} failed"
                 + (", every probe" if item.probes_failed == item.probes_run else "") + ".")
    lines += ["", "**Steps to reproduce**", ""]
    lines += [f"{n}. {step}" for n, step in enumerate(steps_to_reproduce(item, target), 1)]
    ids = identifiers(item)
    if ids:
        lines += ["", "**Identifiers**", ""] + [f"- {i}" for i in ids]
    evidence = sorted((path for p in failing(item) for path in p.evidence), key=lambda path: not path.endswith(".png"))
    if evidence:
        lines += ["", "**Screenshots and logs** (under reports/)", ""] + [f"- `{path}`" for path in evidence]
    return lines + [""]


def status_updates(entries: list[Escalated], verdict: RunVerdict, target: Target) -> list[str]:
    when = local(verdict.finished_at, target.time_zone)
    first = min(e.first_seen for e in entries)
    titles = ", ".join(name(e.item) for e in entries)
    summaries = "; ".join(f"{name(e.item)} failing" if e.resolved_at else headline(e.item) for e in entries)
    resolved = [e for e in entries if e.resolved_at]
    grade = min((e.grade or e.item.grade or "P2" for e in entries), key=GRADES.index)
    lines = ["## Status updates", "",
             f"**Investigating** ({local(first, target.time_zone)}): after the maintenance window we see {summaries}. "
             "We are investigating with the vendor.", "",
             f"**Identified, fix in progress** ({when}): the failure is in {titles}; reported to the vendor "
             f"as {grade}. Our checks re-run on schedule and update this ticket.", ""]
    if resolved and len(resolved) == len(entries):
        last = max(e.resolved_at for e in resolved)
        lines.append(f"**Resolved** ({local(last, target.time_zone)}): {titles} passed the Go checklist again.")
    else:
        lines.append("**Resolved**: pending; posted when a Go run passes these items again "
                     "(allclear resolves the escalation itself).")
    return lines + [""]


def ticket_markdown(verdict: RunVerdict, target: Target, entries: list[Escalated], report: str) -> str:
    """The ticket for the escalating items of this run (or their resolution, when it is green)."""
    if not entries:
        return (f"# No vendor ticket: {verdict.headline}\n\nTarget {target.name}, run finished "
                f"{local(verdict.finished_at, target.time_zone)}. Nothing graded P2 or higher is open.\n")
    resolved = all(e.resolved_at for e in entries)
    grade = min((e.grade or e.item.grade or "P2" for e in entries), key=GRADES.index)
    subject = "; ".join(f"{name(e.item)} passes again" if resolved else headline(e.item) for e in entries)
    lines = [f"# {'Resolved' if resolved else f'[{grade}]'} {target.name}: {subject}", ""]
    if not resolved:
        lines += [f"**Priority:** {grade} ({GRADE_NAMES.get(grade or '', '')}). After maintenance, "
                  "teams that cannot receive requests from customers are asked to contact support "
                  "with P2 or above as the priority.", ""]
    window = (f"{local(verdict.window_end, target.time_zone)} ({verdict.window_end_source})"
              if verdict.window_end else "not known")
    lines += [f"**Target:** {target.name}. **Time zone of all times:** {target.time_zone}. "
              f"**Maintenance window ended:** {window}.",
              f"**Checked:** {local(verdict.started_at, target.time_zone)} to "
              f"{verdict.finished_at.astimezone(ZoneInfo(target.time_zone)):%H:%M:%S %Z} by allclear's Go checklist "
              f"(verdict {verdict.headline}).", ""]
    if verdict.sites:
        affected = "; ".join(f"{name(e.item)} {failure_sites(e.item)}" for e in entries
                             if not e.resolved_at and failure_sites(e.item))
        lines += [f"**Sites checked:** {', '.join(f'{site} ({said})' for site, said in verdict.sites.items())}."
                  + (f" **Affected:** {affected}." if affected else ""), ""]
    if not verdict.final:
        lines += [f"**Run still in progress:** {'; '.join(verdict.pending)}. This ticket was written as soon as the "
                  "items below were decided; the final report follows when the run ends.", ""]
    for entry in entries:
        if entry.resolved_at:
            lines.append(f"- **{name(entry.item)}**: {entry.item.probes_run} of {entry.item.probes_run} "
                         f"{plural(entry.item.probes_run, entry.item.item)} pass again; first seen failing "
                         f"{local(entry.first_seen, target.time_zone)}, resolved "
                         f"{local(entry.resolved_at, target.time_zone)} ({entry.runs} failing run(s)).")
        else:
            lines += item_section(entry, target)
    if resolved:
        lines.append("")
    lines += status_updates(entries, verdict, target)
    lines += ["## Attachments", "", f"- The full report (single HTML file): {report or 'not built in this run'}",
              "- verdict.json and summary.md beside it.", ""]
    return "\n".join(lines)

