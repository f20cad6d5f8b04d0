"""The target's [escalation] table: the mode and the sinks, each sink's settings beside its client.

Imported by the target's model (allclear.config.target), so the sink modules keep their runtime
imports to the settings' own needs (the message types are imported for type checkers only).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator

from allclear.config.fields import Section
from allclear.config.secrets import secret_names
from allclear.escalation.email import EmailSink
from allclear.escalation.jira import JiraSink
from allclear.escalation.pagerduty import PagerDutySink
from allclear.escalation.slack import SlackSink
from allclear.escalation.webhook import WebhookSink
from allclear.escalation.zendesk import ZendeskSink

AnySink = Annotated[PagerDutySink | JiraSink | ZendeskSink | SlackSink | WebhookSink | EmailSink,
                    Field(discriminator="type")]


class EscalationSection(Section):
    """P1/P2 failures escalate to these sinks; inconclusive items only to the `ops = true` ones."""

    # send, or write what would be sent to reports/escalations/; unset: dry-run for a sandbox
    # target, send for a real one. --escalate / --dry-run override it for one run.
    mode: Literal["send", "dry-run"] | None = None
    report_url: str = ""           # a link to this run's report (also $ALLCLEAR_REPORT_URL), e.g. the CI run
    sinks: list[AnySink] = []

    @field_validator("sinks")
    @classmethod
    def _unique_labels(cls, sinks: list) -> list:
        labels = [sink.label for sink in sinks]
        twice = sorted({label for label in labels if labels.count(label) > 1})
        if twice:
            raise ValueError(f"two sinks are called {', '.join(twice)}: give each a distinct `name` "
                             "(it keys what each sink was told)")
        return sinks

    def secret_names(self) -> list[str]:
        return secret_names(self)
