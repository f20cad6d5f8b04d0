"""Jira Cloud (REST v3): an issue per escalation with the HTML report attached; comments after.

The description and comments are Atlassian Document Format (v3 takes no wiki markup), converted
from the same Markdown the ticket uses: headings, bullet and numbered lists, **bold**, `code`.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Literal

from allclear.config.fields import EnvName, Grade, Url, join_url
from allclear.escalation.base import Sink, SinkClient, report_file
from allclear.escalation.courier import Request

if TYPE_CHECKING:
    from allclear.escalation.message import Notice


class JiraSink(Sink):
    """Jira Cloud: an issue per escalation, the HTML report attached, comments on update and resolve."""

    type: Literal["jira"]
    site: Url                      # https://<your-org>.atlassian.net
    user: str                      # the Atlassian account's email
    api_token_env: EnvName
    project: str                   # project key, e.g. OPS
    issue_type: str = "Bug"
    priority: dict[Grade, str] = {"P1": "Highest", "P2": "High", "P3": "Medium", "P4": "Low"}
    labels: list[str] = ["allclear"]


def adf_inline(text: str) -> list[dict]:
    nodes = []
    for part in re.split(r"(\*\*[^*]+\*\*|`[^`]+`)", text):
        if not part:
            continue
        if part.startswith("**") and part.endswith("**"):
            nodes.append({"type": "text", "text": part[2:-2], "marks": [{"type": "strong"}]})
        elif part.startswith("`") and part.endswith("`"):
            nodes.append({"type": "text", "text": part[1:-1], "marks": [{"type": "code"}]})
        else:
            nodes.append({"type": "text", "text": part})
    return nodes


def adf(markdown: str) -> dict:
    """A minimal ADF document from the ticket's Markdown subset."""
    content: list[dict] = []
    for line in markdown.splitlines():
        line = line.rstrip()
        if not line:
            continue
        heading = re.match(r"^(#{1,6}) (.*)", line)
        listed = re.match(r"^(- |\d+\. )(.*)", line)
        if heading:
            content.append({"type": "heading", "attrs": {"level": len(heading.group(1))},
                            "content": adf_inline(heading.group(2))})
        elif listed:
            kind = "bulletList" if listed.group(1) == "- " else "orderedList"
            entry = {"type": "listItem", "content": [{"type": "paragraph", "content": adf_inline(listed.group(2))}]}
            if content and content[-1]["type"] == kind:
                content[-1]["content"].append(entry)
            else:
                content.append({"type": kind, "content": [entry]})
        else:
            content.append({"type": "paragraph", "content": adf_inline(line)})
    return {"type": "doc", "version": 1, "content": content}


def key_label(dedup_key: str) -> str:
    """The escalation's stable key as a Jira label, which allows no spaces or "/":
    allclear/acme prod/login -> allclear-acme_prod-login."""
    return "-".join("".join(c if c.isalnum() or c in "_." else "_" for c in part) for part in dedup_key.split("/"))


class Jira(SinkClient):
    config: JiraSink

    def _request(self, method: str, path: str, **kwargs) -> Request:
        headers = {"Accept": "application/json", **kwargs.pop("headers", {})}
        return Request(method, join_url(self.config.site, path), headers=headers,
                       auth=(self.config.user, self.secrets[self.config.api_token_env]), **kwargs)

    def find_open(self, notice: Notice) -> str | None:
        """The unresolved issue carrying this escalation's label (JQL over /rest/api/3/search/jql)."""
        jql = f'labels = "{key_label(notice.change.record.dedup_key)}" AND statusCategory != Done'
        answer = self.send(self._request("GET", "/rest/api/3/search/jql",
                                         params={"jql": jql, "fields": "key", "maxResults": "10"}),
                           dry_answer={"issues": [], "isLast": True})
        keys = [issue["key"] for issue in answer.body.get("issues", [])]
        return keys[0] if keys else None

    def _attach(self, key: str, notice: Notice) -> None:
        part = report_file(notice)
        if part:
            self.send(self._request("POST", f"/rest/api/3/issue/{key}/attachments",
                                    headers={"X-Atlassian-Token": "no-check"}, files={"file": part}),
                      dry_answer=[{"filename": part[0], "size": len(part[1])}])

    def _comment(self, key: str, text: str) -> None:
        self.send(self._request("POST", f"/rest/api/3/issue/{key}/comment", json={"body": adf(text)}),
                  dry_answer={"id": "10000"})

    def open(self, notice: Notice) -> str:
        fields = {"project": {"key": self.config.project}, "summary": notice.title[:255],
                  "issuetype": {"name": self.config.issue_type}, "description": adf(notice.text),
                  "labels": [*self.config.labels, key_label(notice.change.record.dedup_key)]}
        if notice.change.kind == "failure":
            fields["priority"] = {"name": self.config.priority[notice.grade]}
        answer = self.send(self._request("POST", "/rest/api/3/issue", json={"fields": fields}, idempotent=False),
                           dry_answer={"id": "10000", "key": f"{self.config.project}-0",
                                       "self": join_url(self.config.site, "/rest/api/3/issue/10000")})
        key = answer.body["key"]
        self.optional("attaching the report", lambda: self._attach(key, notice))
        return key

    def update(self, notice: Notice, ref: str) -> str:
        self._comment(ref, f"{notice.update_heading}\n\n{notice.text}")
        self.optional("attaching the report", lambda: self._attach(ref, notice))
        return ref

    def resolve(self, notice: Notice, ref: str) -> str:
        """A comment, and the escalation's label taken off: the issue stays for people to close, but a
        later failure of the same item is a new incident and must not be found and appended to it."""
        self._comment(ref, notice.text)
        label = key_label(notice.change.record.dedup_key)
        self.optional("taking the escalation's label off", lambda: self.send(
            self._request("PUT", f"/rest/api/3/issue/{ref}", json={"update": {"labels": [{"remove": label}]}}),
            dry_answer=None))
        return ref
