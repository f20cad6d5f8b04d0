"""Email round trip: a tokened email to the support address, sent after the window end + delay, gets a reply."""

from __future__ import annotations

from pydantic import Field

from allclear.config.fields import EnvName, Port, Seconds, Section, Security
from allclear.items import GoItem


class EmailCheck(Section):
    enabled: bool = True
    support_address: str
    probe_address: str
    smtp_host: str
    smtp_port: Port = 587
    smtp_security: Security = "starttls"
    smtp_user: str
    smtp_password_env: EnvName
    imap_host: str
    imap_port: Port = 993
    imap_security: Security = "ssl"
    imap_user: str
    imap_password_env: EnvName
    imap_folder: str = "INBOX"
    delay_after_window_min: float = Field(default=15.0, ge=0)   # the vendor: send 15 minutes after the window
    reply_deadline_s: Seconds = 600.0
    poll_interval_s: Seconds = 10.0
    connect_timeout_s: Seconds = 20.0
    cleanup: bool = True


def _reproduce(email: EmailCheck, probes: str) -> list[str]:
    return [f"Send an email from {email.probe_address} to {email.support_address}.",
            f"Wait up to {email.reply_deadline_s / 60:g} minutes for the platform's reply."]


ITEM = GoItem(
    key="email", title="An email to the support address gets a reply", order=5, name="Email round trip",
    probe=("test email", "test emails"), settings=EmailCheck, core=True, waits=True,
    interactions="emails: {failed} of {run} test emails got no reply", reproduce=_reproduce,
)
