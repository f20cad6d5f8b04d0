"""What a run changes about the open escalations: open, update, resolve. ../shared/SEVERITY.md:

- an item failed at P1/P2 opens a failure escalation, or updates the open one (never a second);
- an item that passes resolves its open escalations (in the merge of several sites' runs; a site's
  own run only opens: the merge updates and resolves); one that failed below P2 after escalating
  keeps its escalation open with the lower grade (it is not green yet);
- an inconclusive item opens or updates a "could not verify" escalation (ops sinks only) and
  leaves any open failure alone: not knowing is not evidence that the vendor fixed it;
- a skipped or absent item changes nothing;
- an item that passes with no escalation in the state has each sink searched for an open one by its
  key, once per state file (the state, kept in an Actions cache, can be evicted: never the only truth);
- probes already failing the same way before the window (allclear.baseline) are left out of what
  the vendor is told (grading.vendor_view), and go to ops sinks as their own "already failing"
  escalation, opened, updated and resolved like the others.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from allclear.escalation.state import EscalationState, Record
from allclear.grading import ESCALATING, ItemResult, ProbeResult, vendor_view
from allclear.verdict import RunVerdict

Action = Literal["open", "update", "resolve"]


@dataclass
class Change:
    action: Action
    kind: str              # failure | inconclusive | already-failing
    item: ItemResult
    record: Record         # as it stands after this run
    changed: bool          # grade or failing probes differ from the previous run (always true for open)
    told_at_once: frozenset[str] = frozenset()   # the run's end, for an item escalated at once: the sinks
                                                 # told then get the final report, whatever `updates` says
    search: frozenset[str] = frozenset()   # a resolve of an escalation the state has no record of: the
                                           # sinks to search for it by its key (the state may have been lost)
    at_site: bool = False  # a site's run: an escalation found open at a sink is another site's, left to the merge


OPS_ONLY = ("inconclusive", "already-failing")       # kinds that only `ops = true` sinks hear of


def _concerned(item: ItemResult, kind: str) -> list[ProbeResult]:
    if kind == "inconclusive":
        return [p for p in item.probes if p.outcome == "inconclusive"]
    return [p for p in item.probes if p.outcome == "failed" and p.already_failing == (kind == "already-failing")]


def fingerprint(item: ItemResult, kind: str) -> str:
    probes = sorted(p.probe for p in _concerned(item, kind))
    return f"{item.grade or '-'}|{','.join(probes)}"


def first_seen(item: ItemResult, kind: str, fallback: datetime) -> datetime:
    """When the first of the item's failing probes ended: the failure was seen then, not at run end."""
    times = [datetime.fromisoformat(p.finished_at) for p in _concerned(item, kind) if p.finished_at]
    return min(times, default=fallback)


def apply_run(state: EscalationState, verdict: RunVerdict, sinks: list[str] = (), only: set[str] | None = None,
              escalated_at_once: dict[str, set[str]] | None = None,
              told_by_sites: dict[str, set[str]] | None = None, ops_sinks: set[str] | None = None) -> list[Change]:
    """Record the run in `state` and say what changed, in the verdict's item order. `sinks`: the
    configured sinks' names, which are offered resolutions they missed. `only`: the items to
    escalate now (an item decided while the run goes on); `escalated_at_once`: items this run
    escalated that way already (with the sinks told then), whose run is not counted twice and whose
    update carries the end. `told_by_sites`: for a merge, the items the sites' own runs escalated
    (with the sinks told): those sinks get the grade across sites, whatever `updates` says, even a
    grade below P2, and its resolution. `ops_sinks`: the sinks that hear inconclusive items.

    A site's run (`verdict.site`) only opens, so a failure at one site pages at once; the merge
    updates it with the grade over every site, and resolves it: one site green says nothing of
    another, and only the merge sees them all."""
    seen = verdict.finished_at
    escalated_at_once = escalated_at_once or {}
    told_by_sites = told_by_sites or {}
    ops_sinks = set(sinks) if ops_sinks is None else ops_sinks
    changes: list[Change] = []

    def sites_told(item: ItemResult, kind: str) -> frozenset[str]:
        return frozenset(told_by_sites.get(item.item, ())) if kind == "failure" else frozenset()

    def open_or_update(item: ItemResult, kind: str, may_open: bool) -> None:
        mark = fingerprint(item, kind)
        record = state.open_record(verdict.target, item.item, kind)
        if record is None:
            if may_open or sites_told(item, kind):      # what a site opened hears the grade across sites
                record = state.opened(verdict.target, item.item, kind, item.grade, mark, first_seen(item, kind, seen),
                                      seen)
                changes.append(Change("open", kind, item, record, changed=True, told_at_once=sites_told(item, kind),
                                      at_site=bool(verdict.site)))
            return
        changed = record.fingerprint != mark
        again = item.item in escalated_at_once
        record = state.seen_again(record, item.grade, mark, seen, same_run=again)
        if verdict.site:            # the merge tells the sinks how it stands over every site
            return
        told = frozenset({*escalated_at_once.get(item.item, ()), *sites_told(item, kind)}) \
            if kind == "failure" else frozenset()
        changes.append(Change("update", kind, item, record, changed, told_at_once=told))

    def resolve(item: ItemResult, kind: str) -> None:
        record = state.open_record(verdict.target, item.item, kind)
        if verdict.site:             # this site's own record only; the sinks hear it from the merge
            if record:
                state.resolved(record, seen)
            return
        eligible = list(sinks) if kind == "failure" else [sink for sink in sinks if sink in ops_sinks]
        if record:
            changes.append(Change("resolve", kind, item, state.resolved(record, seen), changed=True))
        elif only is None and (search := {*state.unsearched(verdict.target, item.item, kind, eligible),
                                          *sites_told(item, kind)}):
            changes.append(Change("resolve", kind, item, state.unrecorded(verdict.target, item.item, kind, seen),
                                  changed=False, search=frozenset(search)))
        for untold in state.resolved_untold(verdict.target, item.item, kind, list(sinks)):
            if record is None or untold.id != record.id:
                changes.append(Change("resolve", kind, item, untold, changed=False))

    for whole in verdict.items:
        if only is not None and whole.item not in only:
            continue
        if whole.probes_already_failing:
            open_or_update(whole, "already-failing", may_open=True)
        elif whole.outcome in ("passed", "failed"):
            resolve(whole, "already-failing")
        item = vendor_view(whole)
        if item.outcome == "passed":
            resolve(item, "failure")
            resolve(item, "inconclusive")
        elif item.outcome == "failed":
            open_or_update(item, "failure", may_open=item.grade in ESCALATING)
            resolve(item, "inconclusive")
        elif item.outcome == "inconclusive":
            open_or_update(item, "inconclusive", may_open=True)
    return changes
