"""P1/P2 failures escalate; inconclusive items go to ops; green runs resolve. One entry point: `escalate`.

A run's changes (open / update / resolve, see plan.py) are offered to every configured sink. Each
sink remembers what it was last told, so a repeated failure updates instead of opening again, an
unchanged one stays quiet on `updates = "on-change"` sinks, and a sink that was down is offered the
escalation again next run. In a dry run the same decisions are made on a scratch copy of the state
and the requests are written to reports/escalations/ instead of sent.
"""

from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from allclear.config import Secrets, Target
from allclear.escalation.base import SinkClient
from allclear.escalation.courier import Courier, DeliveryFailed, DryRunCourier, LiveCourier
from allclear.escalation.email import Email
from allclear.escalation.jira import Jira
from allclear.escalation.message import Notice, notice_for
from allclear.escalation.pagerduty import PagerDuty
from allclear.escalation.plan import OPS_ONLY, Change, apply_run
from allclear.escalation.slack import Slack
from allclear.escalation.state import RESOLVED, EscalationState, SinkDelivery
from allclear.escalation.webhook import Webhook
from allclear.escalation.zendesk import Zendesk
from allclear.ticket import Escalated, ticket_markdown
from allclear.verdict import RunVerdict

SINK_TYPES: dict[str, type[SinkClient]] = {
    "pagerduty": PagerDuty, "jira": Jira, "zendesk": Zendesk, "slack": Slack, "webhook": Webhook, "email": Email,
}
STATE_FILE = "escalations.sqlite"
DRY_RUN_DIR = "escalations"
KIND_WORDS = {"inconclusive": " (could not verify)", "already-failing": " (already failing before the window)"}


@dataclass
class Delivery:
    sink: str
    item: str
    kind: str        # failure | inconclusive | already-failing
    action: str      # open | update | resolve
    status: str      # sent | dry-run | failed | unchanged | skipped
    detail: str      # the sink's handle (ticket key, ...), or what went wrong
    unreachable: bool = field(default=False, repr=False, compare=False)   # kept failing until its deadline
    at: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
                    compare=False)   # when it was done (or given up)
    stage: str = field(default="end of run", compare=False)   # or "at once": the item escalated as it was decided

    def line(self) -> str:
        return f"{self.sink}: {self.action} {self.item}{KIND_WORDS.get(self.kind, '')}" \
               f" → {self.status}{': ' + self.detail if self.detail else ''}"


@dataclass
class EscalationReport:
    mode: str                                   # send | dry-run
    deliveries: list[Delivery] = field(default_factory=list)
    ticket: str = ""                            # path of ticket.md
    dry_run_dir: str = ""
    earlier: list[Delivery] = field(default_factory=list)   # this run's, at once; the end offers failed ones again

    @property
    def failed(self) -> list[Delivery]:
        return [d for d in self.deliveries if d.status == "failed"]

    def to_json(self) -> dict:
        deliveries = [{k: v for k, v in d.__dict__.items() if k != "unreachable"}
                      for d in [*self.earlier, *self.deliveries]]
        return {"mode": self.mode, "ticket": self.ticket, "dry_run_dir": self.dry_run_dir,
                "failed": len(self.failed), "deliveries": deliveries}


def escalate(verdict: RunVerdict, target: Target, secrets: Secrets, reports_dir: Path, mode: str,
             report_path: Path | None = None, report_url: str | None = None, courier: Courier | None = None,
             progress: Callable[[str], None] = lambda line: None, only: set[str] | None = None,
             escalated_at_once: dict[str, set[str]] | None = None, dry_run_state: Path | None = None,
             told_by_sites: dict[str, set[str]] | None = None) -> EscalationReport:
    """Record the run in the escalation state, tell the sinks, write reports/ticket.md.

    `only`: escalate just these items, decided while the run goes on (a P1 pages at once, the
    verdict still provisional); `escalated_at_once`: the items this run escalated so, each with the
    sinks told then, which the end of the run updates with the final report, without counting the
    run twice.
    `dry_run_state`: a copy of the state that a dry run's calls share (else each decides on a fresh
    copy, and the run's end would open again what its items escalated at once).
    `told_by_sites`: a merge's: the items the sites' runs escalated, each with the sinks they told."""
    dry_run = mode == "dry-run"
    report = EscalationReport(mode)
    if report_url is None:   # where people open the report: the target's link, or the CI run's
        report_url = target.escalation.report_url or os.environ.get("ALLCLEAR_REPORT_URL", "")
    reports_dir.mkdir(parents=True, exist_ok=True)
    with open(reports_dir / "escalations.lock", "w") as lock:
        # Overlapping runs (a slow one and the next scheduled one) take turns: one decides and
        # records at a time, so both cannot open the same escalation.
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _escalate(verdict, target, secrets, reports_dir, dry_run, report, report_path, report_url,
                         courier, progress, only, escalated_at_once, dry_run_state, told_by_sites)


def _escalate(verdict, target, secrets, reports_dir, dry_run, report, report_path, report_url, courier,
              progress, only, escalated_at_once, dry_run_state, told_by_sites) -> EscalationReport:
    later_call = dry_run_state is not None and dry_run_state.exists()    # this run escalated before
    if dry_run and dry_run_state is not None:
        if not dry_run_state.exists() and (reports_dir / STATE_FILE).exists():
            shutil.copyfile(reports_dir / STATE_FILE, dry_run_state)
        state = EscalationState.open(dry_run_state)
    else:
        state = EscalationState.open(reports_dir / STATE_FILE, scratch=dry_run)
    try:
        changes = apply_run(state, verdict, [sink.label for sink in target.escalation.sinks], only,
                            escalated_at_once or {}, told_by_sites,
                            ops_sinks={sink.label for sink in target.escalation.sinks if sink.ops})
        if courier is None:
            if dry_run:
                courier = DryRunCourier(secrets, reports_dir / DRY_RUN_DIR, keep=later_call)
                report.dry_run_dir = str(reports_dir / DRY_RUN_DIR)
            else:
                courier = LiveCourier(secrets)
        clients = [SINK_TYPES[sink.type](sink, secrets, courier) for sink in target.escalation.sinks]
        unreachable: dict[str, str] = {}   # sink -> why: one sink's deadline is waited out once per run
        for change in changes:
            notice = notice_for(change, verdict, target, report_path, report_url, secrets)
            for client in clients:
                if change.kind in OPS_ONLY and not client.config.ops:
                    continue
                if change.search:           # quietly, unless something was found and resolved
                    if client.label in unreachable or (change.kind == "failure" and verdict.maintenance_in_progress
                                                       and not client.config.ops):
                        continue
                    delivery = resolve_unrecorded(state, client, notice, verdict.finished_at, dry_run, progress)
                    if delivery is None:
                        continue
                    if delivery.unreachable:
                        unreachable[client.label] = delivery.detail
                elif change.kind == "failure" and verdict.maintenance_in_progress and not client.config.ops:
                    delivery = Delivery(client.label, change.item.item, change.kind, change.action, "skipped",
                                        f"held: the vendor's status page shows {verdict.maintenance_in_progress}")
                elif client.label in unreachable:
                    delivery = Delivery(client.label, change.item.item, change.kind, change.action, "failed",
                                        f"not tried: unreachable earlier in this run ({unreachable[client.label]})")
                else:
                    delivery = deliver(state, client, notice, verdict.finished_at, dry_run, progress)
                    if delivery.status == "failed" and delivery.unreachable:
                        unreachable[client.label] = delivery.detail.split(" (")[0]
                report.deliveries.append(delivery)
                progress(f"escalation: {delivery.line()}")
        ticket = reports_dir / "ticket.md"
        ticket.write_text(secrets.redact(ticket_markdown(verdict, target, ticket_entries(changes),
                                                         report_url or str(report_path or ""))), encoding="utf-8")
        report.ticket = str(ticket)
    finally:
        state.close()
    return report


def deliver(state: EscalationState, client: SinkClient, notice: Notice, now: datetime, dry_run: bool,
            progress: Callable[[str], None]) -> Delivery:
    change = notice.change
    told = state.delivery(change.record, client.label)
    client.warnings.clear()
    found = ""

    def result(action: str, status: str, detail: str) -> Delivery:
        return Delivery(client.label, change.item.item, change.kind, action, status, detail)

    if change.action == "resolve":
        if told is None:
            return result("resolve", "skipped", "it was never told of this escalation (that delivery failed)")
        if told.fingerprint == RESOLVED:
            return result("resolve", "unchanged", f"already told it is resolved ({told.ref})")
        action = "resolve"
    elif told is None:
        action = "open"
        found = "" if dry_run else client.optional("searching for its open escalation",
                                                   lambda: client.find_open(notice)) or ""
        if found and change.at_site:     # another site opened it: the merge updates it
            state.delivered(change.record, client.label, found, change.record.fingerprint, now)
            return result("open", "unchanged", f"already open at the sink ({found}), found by its key "
                                               f"{change.record.dedup_key}: the merge of the sites updates it")
        if found:          # the local state had lost it: the sink's own search is the truth
            told = SinkDelivery(found, "")
            action = "update"
    elif (client.label in change.told_at_once or client.config.updates == "every-run"
          or told.fingerprint != change.record.fingerprint):
        action = "update"
    else:
        return result("update", "unchanged", f"still open ({told.ref}); nothing new to tell")
    progress(f"escalation: {client.label}: {action} {change.item.item} …")
    try:
        if action == "open":
            ref = client.open(notice)
        elif action == "update":
            ref = client.update(notice, told.ref)
        else:
            ref = client.resolve(notice, told.ref)
    except DeliveryFailed as exc:
        failed = result(action, "failed", str(exc))
        failed.unreachable = exc.unreachable
        return failed
    except Exception as exc:  # a bug in one sink must not cost the other sinks their escalation
        return result(action, "failed", client.secrets.redact(f"{type(exc).__name__}: {exc}"))
    state.delivered(change.record, client.label, ref, RESOLVED if action == "resolve" else change.record.fingerprint,
                    now)
    warnings = "".join(f" (but {warning})" for warning in client.warnings)
    found_note = f" (found open at the sink by its key {change.record.dedup_key})" if found else ""
    return result(action, "dry-run" if dry_run else "sent", ref + found_note + warnings)


def resolve_unrecorded(state: EscalationState, client: SinkClient, notice: Notice, now: datetime, dry_run: bool,
                       progress: Callable[[str], None]) -> Delivery | None:
    """An item passes and the state knows no escalation of it: if the sink holds one open by its key
    (opened before the state was lost, or by a site's run), resolve it. None when there was nothing to do."""
    change = notice.change
    if dry_run or client.label not in change.search:
        return None
    client.warnings.clear()

    def result(status: str, detail: str) -> Delivery:
        return Delivery(client.label, change.item.item, change.kind, "resolve", status, detail)

    try:
        ref = client.find_to_resolve(notice)
        if ref:
            progress(f"escalation: {client.label}: resolve {change.item.item} (by its key) …")
            ref = client.resolve(notice, ref)
    except DeliveryFailed as exc:
        skipped = result("skipped", f"could not look for an open escalation the local state does not know "
                                    f"({exc}); tried again next run")
        skipped.unreachable = exc.unreachable
        return skipped
    except Exception as exc:  # noqa: BLE001 - one sink's bug must not cost the others
        return result("skipped", client.secrets.redact(f"could not look for an open escalation the local state "
                                                       f"does not know ({type(exc).__name__}: {exc})"))
    state.searched_for(change.record.target, change.item.item, change.kind, client.label, now)
    if not ref:
        return None
    key = change.record.dedup_key
    how = (f"found open at the sink by its key {key} (the local state had no record of it)" if client.searchable
           else f"sent by its key {key}: {client.label} cannot be searched, and the resolve changes nothing "
                "if no alert was open")
    warnings = "".join(f" (but {warning})" for warning in client.warnings)
    return result("sent", f"{ref}: {how}{warnings}")


def ticket_entries(changes: list[Change]) -> list[Escalated]:
    """The ticket covers the failures open after this run, or, when none is, those it resolved."""
    failures = [c for c in changes if c.kind == "failure"]
    still_open = [Escalated(c.item, c.record.first_seen, c.record.runs, grade=c.record.grade)
                  for c in failures if c.action != "resolve" and c.record.grade in ("P1", "P2")]
    if still_open:
        return still_open
    return [Escalated(c.item, c.record.first_seen, c.record.runs, c.record.resolved_at, c.record.grade)
            for c in failures if c.action == "resolve" and c.changed]   # resolved in this run


def resolve_mode(target: Target, escalate_flag: bool, dry_run_flag: bool) -> str:
    if escalate_flag and dry_run_flag:
        raise ValueError("--escalate and --dry-run contradict each other: give one")
    if escalate_flag:
        return "send"
    if dry_run_flag:
        return "dry-run"
    return target.escalation.mode or ("dry-run" if target.sandbox else "send")
