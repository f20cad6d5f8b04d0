"""The sandbox's fault switchboard: each fault is one way the platform can come back broken.

Each part of the sandbox declares its own faults beside its handlers (see parts.py); `KNOWN_FAULTS`
is all of them, gathered from the parts the first time it is asked for.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from allclear.sandbox import parts


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


@functools.cache
def known_faults() -> parts.FaultKinds:
    """Every fault of every part of the sandbox, in the parts' order (see parts.py)."""
    return parts.discover().faults


def __getattr__(name: str) -> parts.FaultKinds:
    """`KNOWN_FAULTS`, gathered when first asked for: the parts import this module, so not before."""
    if name == "KNOWN_FAULTS":
        return known_faults()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def parse_fault(spec: str, known: parts.FaultKinds | None = None) -> Fault:
    """A fault as written on the command line, `name` or `name:argument`, among `known` (default: KNOWN_FAULTS)."""
    known = known_faults() if known is None else known
    name, _, arg_text = spec.strip().partition(":")
    if name not in known:
        raise FaultError(f"unknown sandbox fault {name!r}; known faults: {', '.join(sorted(known))}")
    kind, _ = known[name]
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
