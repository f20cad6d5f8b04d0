"""What every sink is: told to open, update or resolve an escalation; answers with its handle."""

from __future__ import annotations

from typing import Any

from allclear.config import Secrets, Sink
from allclear.escalation.courier import Answer, Courier, DeliveryFailed, Request
from allclear.escalation.message import Notice


class SinkClient:
    def __init__(self, config: Sink, secrets: Secrets, courier: Courier):
        self.config = config
        self.secrets = secrets
        self.courier = courier
        self.warnings: list[str] = []   # what went wrong without losing the escalation (an attachment)

    @property
    def label(self) -> str:
        return self.config.label

    def send(self, request: Request, dry_answer: Any = None) -> Answer:
        return self.courier.send(self.label, request, self.config.deadline_s, self.config.timeout_s, dry_answer)

    def optional(self, what: str, step, default=None):
        """A step the escalation must not be lost over (attaching the report): its failure is a warning."""
        try:
            return step()
        except DeliveryFailed as exc:
            self.warnings.append(f"{what} failed: {exc}")
        except Exception as exc:  # noqa: BLE001 - the ticket exists: its handle must still be recorded
            self.warnings.append(self.secrets.redact(f"{what} failed: {type(exc).__name__}: {exc}"))
        return default

    def open(self, notice: Notice) -> str:
        """Tell the sink about a new escalation; the handle it gives back (ticket key, ...)."""
        raise NotImplementedError

    def update(self, notice: Notice, ref: str) -> str:
        """The same failure again, or changed: a comment or a re-trigger, never a new ticket."""
        raise NotImplementedError

    def resolve(self, notice: Notice, ref: str) -> str:
        raise NotImplementedError


class PostingSink(SinkClient):
    """A sink with no ticket to keep (a chat message, a webhook): every change is one more post."""

    def post(self, notice: Notice) -> str:
        raise NotImplementedError

    def open(self, notice: Notice) -> str:
        return self.post(notice)

    def update(self, notice: Notice, ref: str) -> str:
        return self.post(notice)

    def resolve(self, notice: Notice, ref: str) -> str:
        return self.post(notice)


def report_file(notice: Notice) -> tuple[str, bytes, str] | None:
    """The single-file HTML report as a multipart/attachment part, if it was built."""
    path = notice.report_path
    if path is None or not path.is_file():
        return None
    slug = "".join(c if c.isalnum() or c in "-_" else "-" for c in notice.details["target"])
    return (f"allclear-report-{slug}.html", path.read_bytes(), "text/html")   # not index.html: a name support knows
