"""Email to a support address with the HTML report attached; updates and the resolution reply in
the same thread (In-Reply-To the first message), so the vendor's helpdesk keeps one ticket."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import TYPE_CHECKING, Literal

from pydantic import Field

from allclear.config.fields import EnvName, Port, Security
from allclear.escalation.base import Sink, SinkClient, report_file

if TYPE_CHECKING:
    from allclear.escalation.message import Notice


class EmailSink(Sink):
    """Email to a support address with the HTML report attached (the vendor asks for P2 or above)."""

    type: Literal["email"]
    to: list[str] = Field(min_length=1)
    from_address: str
    smtp_host: str
    smtp_port: Port = 587
    smtp_security: Security = "starttls"
    smtp_user: str = ""
    smtp_password_env: EnvName | None = None


class Email(SinkClient):
    config: EmailSink

    def _mail(self, notice: Notice, thread: str | None) -> str:
        message = EmailMessage()
        message["From"] = self.config.from_address
        message["To"] = ", ".join(self.config.to)
        message["Subject"] = notice.title if thread is None else f"Re: {notice.title}"
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = make_msgid(domain=self.config.from_address.rpartition("@")[2] or None)
        if notice.change.kind == "failure" and notice.action != "resolve":
            message["X-Priority"] = "1" if notice.grade == "P1" else "2"
        if thread:
            message["In-Reply-To"] = thread
            message["References"] = thread
        message.set_content(notice.text)
        part = report_file(notice)
        if part and notice.action != "resolve":
            filename, content, _ = part
            message.add_attachment(content, maintype="text", subtype="html", filename=filename)
        password = self.secrets[self.config.smtp_password_env] if self.config.smtp_password_env else ""
        self.courier.send_mail(self.label, message, {
            "host": self.config.smtp_host, "port": self.config.smtp_port, "security": self.config.smtp_security,
            "user": self.config.smtp_user, "password": password, "timeout_s": self.config.timeout_s,
        }, self.config.deadline_s)
        return thread or message["Message-ID"]

    def open(self, notice: Notice) -> str:
        return self._mail(notice, None)

    def update(self, notice: Notice, ref: str) -> str:
        return self._mail(notice, ref)

    def resolve(self, notice: Notice, ref: str) -> str:
        return self._mail(notice, ref)
