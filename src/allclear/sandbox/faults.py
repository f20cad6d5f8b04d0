"""The sandbox's fault switchboard: each fault is one way the platform can come back broken."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

# name -> (argument kind or None, what it does)
KNOWN_FAULTS: dict[str, tuple[type | None, str]] = {
    "maintenance": (None, "every page and API shows the vendor maintenance page"),
    "maintenance-for": (float, "maintenance for SECONDS, then it ends by itself (to rehearse `allclear watch`)"),
    "login-500": (None, "the login form answers HTTP 500"),
    "agents-locked": (int, "the first N configured agents are refused at login"),
    "desktop-spinner": (None, "the agent desktop never finishes loading"),
    "reports-503": (None, "the reporting API answers 503"),
    "reports-flaky": (int, "the reporting API answers 503 to its first N requests, then recovers"),
    "reports-401": (None, "the reporting API rejects the API token"),
    "reports-slow": (float, "the reporting API answers after SECONDS"),
    "reports-silent": (None, "the reporting API accepts connections and never answers"),
    "statuspage-in-progress": (None, "the status page still shows the maintenance in progress"),
    "voice-busy": (None, "every support line is busy"),
    "voice-no-answer": (None, "no support line answers"),
    "voice-maintenance-recording": (None, "support lines answer with the maintenance recording"),
    "voice-line-busy": (int, "only support line N (1-based, in target order) is busy"),
    "twilio-auth": (None, "the voice API rejects the probe's Twilio credentials"),
    "mail-blackhole": (None, "the support mailbox never replies"),
    "mail-slow": (float, "the support mailbox replies after SECONDS"),
    "smtp-down": (None, "the SMTP server refuses connections"),
    "smtp-silent": (None, "the SMTP server accepts connections and never says a word"),
    "imap-auth": (None, "the IMAP server refuses the probe mailbox's login"),
    "dns-mx-wrong": (None, "the support domain's MX points elsewhere"),
    "dns-nxdomain": (str, "NAME does not exist in the zone"),
    "chat-throttled": (None, "chat is throttled to 0%: the widget renders nothing"),
    "chat-search-off": (None, "'Enable Search and Quick Actions' is off: the chat panel has neither"),
    "chat-script-404": (None, "the chat widget's script answers 404"),
    "chat-quick-actions-fail": (None, "the chat panel opens but its quick actions never load (503)"),
    "helpcenter-maintenance": (None, "every help-center page and the answers API show the maintenance page"),
    "helpcenter-hangs": (None, "help-center pages start loading and never finish"),
    "helpcenter-search-broken": (None, "help-center search and the answers-search API answer 500"),
    "desk-down": (None, "the sandbox's ticket desk (PagerDuty, Zendesk, webhook stand-ins) answers 503"),
}


class FaultError(ValueError):
    """A fault name or argument the sandbox does not know."""


@dataclass(frozen=True)
class Fault:
    name: str
    arg: int | float | str | None = None

    def __str__(self) -> str:
        if self.arg is None:
            return self.name
        return f"{self.name}:{self.arg:g}" if isinstance(self.arg, (int, float)) else f"{self.name}:{self.arg}"


def parse_fault(spec: str) -> Fault:
    name, _, arg_text = spec.strip().partition(":")
    if name not in KNOWN_FAULTS:
        known = ", ".join(sorted(KNOWN_FAULTS))
        raise FaultError(f"unknown sandbox fault {name!r}; known faults: {known}")
    kind, _ = KNOWN_FAULTS[name]
    if kind is None:
        if arg_text:
            raise FaultError(f"sandbox fault {name!r} takes no argument, got {spec!r}")
        return Fault(name)
    if kind is str:
        if not arg_text:
            raise FaultError(f"sandbox fault {name!r} needs a name, as in '{name}:help.example.com', got {spec!r}")
        return Fault(name, arg_text)
    try:
        arg = kind(arg_text)
    except ValueError:
        raise FaultError(f"sandbox fault {name!r} needs a number, as in '{name}:3', got {spec!r}") from None
    if arg < 0:
        raise FaultError(f"sandbox fault {name!r} needs a number >= 0, got {spec!r}")
    return Fault(name, arg)


class Switchboard:
    """The faults switched on now; read by every handler on every request.

    It also keeps the sandbox's latest maintenance window: when `maintenance` was switched on and
    when it ended (switched off, or its `maintenance-for` time ran out), which the status page posts
    as the vendor would.
    """

    def __init__(self, faults: list[Fault] | None = None):
        self._faults: dict[str, Fault] = {}
        self.window: tuple[datetime, datetime | None] | None = None     # (start, end or None while on)
        for fault in faults or []:
            self.switch_on(fault)

    def switch_on(self, fault: Fault) -> None:
        now = datetime.now(timezone.utc)
        start = self.window[0] if self.in_maintenance() else now     # a maintenance under way goes on
        if fault.name == "maintenance":
            self.window = (start, None)
        elif fault.name == "maintenance-for":
            self.window = (start, now + timedelta(seconds=float(fault.arg or 0)))
        self._faults[fault.name] = fault

    def replace(self, faults: list[Fault]) -> None:
        """Switch exactly these faults on: a maintenance left out ends now."""
        if not any(fault.name in ("maintenance", "maintenance-for") for fault in faults):
            self.clear()
        self._faults.clear()
        for fault in faults:
            self.switch_on(fault)

    def clear(self) -> None:
        if self.in_maintenance():
            self.window = (self.window[0], datetime.now(timezone.utc))
        self._faults.clear()

    def in_maintenance(self) -> bool:
        if self.window is None:
            return False
        _, end = self.window
        return end is None or datetime.now(timezone.utc) < end

    def active(self, name: str) -> bool:
        if name == "maintenance":
            return self.in_maintenance()
        return name in self._faults

    def arg(self, name: str, default: float | str = 0) -> float | str:
        fault = self._faults.get(name)
        return default if fault is None or fault.arg is None else fault.arg

    def describe(self) -> list[str]:
        return [str(fault) for fault in self._faults.values()
                if fault.name not in ("maintenance", "maintenance-for") or self.in_maintenance()]
