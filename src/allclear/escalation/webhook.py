"""A generic JSON webhook: every event with its facts; signed with HMAC-SHA256 when a secret is set.

The receiver checks `X-Allclear-Signature: sha256=<hex of HMAC(secret, raw body)>`, the scheme
GitHub's webhooks made familiar; the secret itself never travels.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import TYPE_CHECKING, Literal

from allclear.config.fields import EnvName, Url
from allclear.escalation.base import PostingSink, Sink
from allclear.escalation.courier import Request

if TYPE_CHECKING:
    from allclear.escalation.message import Notice


class WebhookSink(Sink):
    """A generic JSON webhook; with `secret_env`, the body is signed (HMAC-SHA256) in a header."""

    type: Literal["webhook"]
    url: Url
    secret_env: EnvName | None = None
    updates: Literal["every-run", "on-change"] = "every-run"


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class Webhook(PostingSink):
    config: WebhookSink

    def post(self, notice: Notice) -> str:
        event = {"event": "allclear.escalation", "action": notice.action, "dedup_key": notice.change.record.dedup_key,
                 "title": notice.title, "summary": notice.summary, "text": notice.text, **notice.details}
        body = json.dumps(event, sort_keys=True).encode()
        headers = {"Content-Type": "application/json", "User-Agent": "allclear"}
        if self.config.secret_env:
            headers["X-Allclear-Signature"] = signature(self.secrets[self.config.secret_env], body)
        self.send(Request("POST", self.config.url, headers=headers, content=body), dry_answer={})
        return "sent"
