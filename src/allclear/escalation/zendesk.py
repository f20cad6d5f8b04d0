"""Zendesk Support: upload the report, open a ticket with it; comment on update; solve on resolve."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from allclear.config.fields import EnvName, Grade, Url, join_url
from allclear.escalation.base import Sink, SinkClient, report_file
from allclear.escalation.courier import Request

if TYPE_CHECKING:
    from allclear.escalation.message import Notice


class ZendeskSink(Sink):
    """Zendesk Support: the report uploaded, a ticket created with it; comments on update, solved on resolve."""

    type: Literal["zendesk"]
    url: Url                       # https://<subdomain>.zendesk.com
    user: str                      # the agent's email; authenticated as "<user>/token"
    api_token_env: EnvName
    priority: dict[Grade, Literal["urgent", "high", "normal", "low"]] = {
        "P1": "urgent", "P2": "high", "P3": "normal", "P4": "low"}
    ticket_type: Literal["problem", "incident", "question", "task"] = "incident"
    tags: list[str] = ["allclear"]
    solve_on_resolve: bool = True  # a green run sets the ticket solved (else only a comment)


class Zendesk(SinkClient):
    config: ZendeskSink

    def _request(self, method: str, path: str, **kwargs) -> Request:
        return Request(method, join_url(self.config.url, path),
                       auth=(f"{self.config.user}/token", self.secrets[self.config.api_token_env]), **kwargs)

    def _upload(self, notice: Notice) -> list[str]:
        part = report_file(notice)
        if not part:
            return []
        filename, content, kind = part
        answer = self.send(self._request("POST", "/api/v2/uploads", params={"filename": filename},
                                         headers={"Content-Type": kind}, content=content),
                           dry_answer={"upload": {"token": "dry-run-upload-token"}})
        return [answer.body["upload"]["token"]]

    def _ticket(self, method: str, path: str, ticket: dict, dry_id: int = 0):
        return self.send(self._request(method, path, headers={"Content-Type": "application/json"},
                                       json={"ticket": ticket}, idempotent=method != "POST"),
                         dry_answer={"ticket": {"id": dry_id}})

    def find_open(self, notice: Notice) -> str | None:
        """A ticket not yet solved or closed with this escalation's external_id (Zendesk itself accepts
        duplicate external_ids: not opening a second one is ours to do)."""
        answer = self.send(self._request("GET", "/api/v2/tickets",
                                         params={"external_id": notice.change.record.dedup_key}),
                           dry_answer={"tickets": [], "next_page": None, "count": 0})
        open_ = [t for t in answer.body.get("tickets", []) if t.get("status") not in ("solved", "closed")]
        return str(min(t["id"] for t in open_)) if open_ else None

    def open(self, notice: Notice) -> str:
        uploads = self.optional("uploading the report", lambda: self._upload(notice), default=[])
        ticket = {"subject": notice.title, "comment": {"body": notice.text, "uploads": uploads},
                  "type": self.config.ticket_type, "tags": self.config.tags,
                  "external_id": notice.change.record.dedup_key}
        if notice.change.kind == "failure":
            ticket["priority"] = self.config.priority[notice.grade]
        answer = self._ticket("POST", "/api/v2/tickets", ticket)
        return str(answer.body["ticket"]["id"])

    def update(self, notice: Notice, ref: str) -> str:
        uploads = self.optional("uploading the report", lambda: self._upload(notice), default=[])
        ticket = {"comment": {"body": f"{notice.update_heading}\n\n{notice.text}",
                              "uploads": uploads}}
        if notice.change.kind == "failure":
            ticket["priority"] = self.config.priority[notice.grade]
        self._ticket("PUT", f"/api/v2/tickets/{ref}", ticket, int(ref) if ref.isdigit() else 0)
        return ref

    def resolve(self, notice: Notice, ref: str) -> str:
        ticket: dict = {"comment": {"body": notice.text}}
        if self.config.solve_on_resolve:
            ticket["status"] = "solved"
        else:       # left open for people, but no longer found as this escalation's open ticket
            seen = notice.details["first_seen"]        # None: the state that knew it was lost
            since = f"; first seen {seen[:10]}" if seen else ""
            ticket["external_id"] = f"{notice.change.record.dedup_key} (resolved{since})"
        self._ticket("PUT", f"/api/v2/tickets/{ref}", ticket, int(ref) if ref.isdigit() else 0)
        return ref
