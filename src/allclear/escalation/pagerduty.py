"""PagerDuty Events API v2: trigger, re-trigger (same dedup_key: the same alert), resolve."""

from __future__ import annotations

from datetime import timezone
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlparse

from allclear.config.fields import EnvName, Grade, Url
from allclear.escalation.base import Sink, SinkClient
from allclear.escalation.courier import Request

if TYPE_CHECKING:
    from allclear.escalation.message import Notice


PagerDutySeverity = Literal["critical", "error", "warning", "info"]


class PagerDutySink(Sink):
    """PagerDuty Events API v2: trigger / resolve an alert, deduplicated by target and item."""

    type: Literal["pagerduty"]
    routing_key_env: EnvName
    url: Url = "https://events.pagerduty.com/v2/enqueue"
    updates: Literal["every-run", "on-change"] = "every-run"   # a re-trigger with the same key is free
    severity: dict[Grade, PagerDutySeverity] = {"P1": "critical", "P2": "error", "P3": "warning", "P4": "info"}


class PagerDuty(SinkClient):
    config: PagerDutySink
    searchable = False

    def _event(self, notice: Notice, action: str) -> dict:
        event = {"routing_key": self.secrets[self.config.routing_key_env], "event_action": action,
                 "dedup_key": notice.change.record.dedup_key}
        if action == "resolve":
            return event
        event["payload"] = {
            "summary": notice.title[:1024],
            "source": notice.details["target"],
            "severity": self.config.severity[notice.grade],
            "timestamp": notice.change.record.last_seen.astimezone(timezone.utc).isoformat(timespec="seconds"),
            "component": notice.details["item"],
            "group": notice.details["target"],
            "class": "post-maintenance check" if notice.change.kind == "failure" else "could not verify",
            "custom_details": {**notice.details, "text": notice.text},
        }
        event["client"] = "allclear"
        if urlparse(notice.report_link).scheme in ("http", "https"):
            event["client_url"] = notice.report_link
            event["links"] = [{"href": notice.report_link, "text": "Go checklist report"}]
        return event

    def _send(self, notice: Notice, action: str) -> str:
        key = notice.change.record.dedup_key
        answer = self.send(Request("POST", self.config.url, headers={"Content-Type": "application/json"},
                                   json=self._event(notice, action)),
                           dry_answer={"status": "success", "message": "Event processed", "dedup_key": key})
        return (answer.body.get("dedup_key") if isinstance(answer.body, dict) else None) or key

    def find_to_resolve(self, notice: Notice) -> str | None:
        """Nothing to search with a routing key, and no need: a resolve whose dedup_key has no open alert
        is accepted and changes nothing (so the run says "resolved by its key" either way)."""
        return notice.change.record.dedup_key

    def open(self, notice: Notice) -> str:
        return self._send(notice, "trigger")

    def update(self, notice: Notice, ref: str) -> str:
        return self._send(notice, "trigger")

    def resolve(self, notice: Notice, ref: str) -> str:
        return self._send(notice, "resolve")
