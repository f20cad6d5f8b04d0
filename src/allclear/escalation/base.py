"""What every sink is: told to open, update or resolve an escalation; answers with its handle."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from allclear.config.fields import Seconds, Section
from allclear.config.secrets import Secrets
from allclear.escalation.courier import Answer, Courier, DeliveryFailed, Request

if TYPE_CHECKING:      # the sinks' settings are part of the target: they must import without the messages
    from allclear.escalation.message import Notice


class Sink(Section):
    """Where an escalation goes. `ops = true` sinks also hear "could not verify" (inconclusive)
    items; the others hear only failures graded P1/P2, which are the vendor's to fix."""

    name: str = ""                 # how the sink is named in the summary (default: its type)
    ops: bool = False
    # every-run: each failing run updates the open escalation; on-change: only when its grade or
    # failing probes change (a scheduled job must not comment every 15 minutes on a vendor ticket)
    updates: Literal["every-run", "on-change"] = "on-change"
    timeout_s: Seconds = 10.0      # one request
    deadline_s: Seconds = 60.0     # all attempts of one delivery, retries with backoff included

    @property
    def label(self) -> str:
        return self.name or self.type  # type: ignore[attr-defined]


class SinkClient:
    searchable = True        # find_open / find_to_resolve ask the sink (False: they only know the key)

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

    def find_open(self, notice: Notice) -> str | None:
        """The sink's own open escalation of this key (its handle), found by the sink's search, or None.

        Asked before opening when the local state knows of none: that state (reports/escalations.sqlite,
        carried in an Actions cache GitHub evicts) may be lost, and the sink is the truth. Sinks with
        nothing to search (a chat message, a webhook) find nothing; PagerDuty needs no search, since its
        dedup_key folds a second trigger into the open alert."""
        return None

    def find_to_resolve(self, notice: Notice) -> str | None:
        """An open escalation the local state has no record of, to resolve now that the item passes."""
        return self.find_open(notice)

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
