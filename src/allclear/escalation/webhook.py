"""A generic JSON webhook: every event with its facts; signed with HMAC-SHA256 when a secret is set.

The receiver checks `X-Allclear-Signature: sha256=<hex of HMAC(secret, raw body)>`, the scheme
GitHub's webhooks made familiar; the secret itself never travels.
"""

from __future__ import annotations

import hashlib
import hmac
import json

from allclear.config import WebhookSink
from allclear.escalation.base import PostingSink
from allclear.escalation.courier import Request
from allclear.escalation.message import Notice


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
