"""A Slack incoming webhook: one short message (verdict, grade, the item, the report link)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from allclear.config.fields import EnvName
from allclear.escalation.base import PostingSink, Sink
from allclear.escalation.courier import Request

if TYPE_CHECKING:
    from allclear.escalation.message import Notice


class SlackSink(Sink):
    """A Slack incoming webhook: one short message when an escalation opens, changes or resolves."""

    type: Literal["slack"]
    webhook_url_env: EnvName       # the webhook URL is itself a secret


def escaped(text: str) -> str:
    """Slack's mrkdwn treats &, < and > as control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


ICONS = {"open": ":rotating_light:", "update": ":warning:", "resolve": ":white_check_mark:"}


class Slack(PostingSink):
    config: SlackSink

    def post(self, notice: Notice) -> str:
        text = f"{ICONS[notice.action]} {escaped(notice.title)}"
        blocks = [
            {"type": "section", "text": {"type": "mrkdwn",
                                         "text": f"*{escaped(notice.title)}*\n{escaped(notice.summary)}"}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": f"Report: {escaped(notice.report_link)}"}]},
        ]
        self.send(Request("POST", self.secrets[self.config.webhook_url_env],
                          headers={"Content-Type": "application/json"}, json={"text": text, "blocks": blocks}),
                  dry_answer="ok")
        return "sent"
