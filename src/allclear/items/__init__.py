"""The Go items: one declaration each, the one place that says what an item is.

An item is a check file (`checks/test_<key>.py`), a probe, and a declaration here: a module of
this package with an `ITEM = GoItem(...)` (and the item's own `[<key>]` table of the target, a
config model, beside it). The plugin, the target's config, the grading defaults and the ticket
all read the declarations, so adding an item touches nothing central:

    ITEM = GoItem(key="sms", title="A text to the support number gets no maintenance auto-reply",
                  name="SMS", probe=("text", "texts"), settings=SmsCheck,
                  parameter=Parameter("sms_number", lambda target: target.sms.numbers if ... else []),
                  core=True)

A check file with no declaration still runs (the README's quick check): it is named by its
docstring, its probes are "probes", and it is graded as a non-core item.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from allclear.config.fields import Grade, Section


@dataclass(frozen=True)
class Parameter:
    """The item's parameter: one probe per value (an agent, a support line, a page)."""

    name: str                                       # the check's argument, e.g. `support_line`
    values: Callable[[Any], list]                   # from the target: the values to probe
    id: Callable[[Any], str] = str                  # how one probe is named: in the terminal, Allure, tickets


@dataclass(frozen=True)
class GoItem:
    key: str                                        # checks/test_<key>.py; its table [<key>]; [retries.<key>]
    title: str                                      # what the item verifies: the first line of its check's docstring
    order: int = 100                                # its place among the target's tables (as config/example.toml
                                                    # has them): lists of items and of secrets follow it
    name: str = ""                                  # short, for pagers and tickets: "Agent login"
    probe: tuple[str, str] = ("probe", "probes")    # what one probe is, singular and plural: ("agent", "agents")
    settings: type[Section] | None = None           # the model of its [<key>] table
    parameter: Parameter | None = None
    core: bool = False                              # a core channel (SEVERITY.md): 30% failing is a P1
    cap: Grade | None = None                        # the worst grade it may get unless [grading] caps says otherwise
    waits: bool = False                             # waits out a delay (the email): started last, judged last
    interactions: str = ""                          # what failing probes cost customers: "calls: {failed} of {run} ..."
    reproduce: Callable[[Any, str], list[str]] | None = None   # (its settings, the affected probes) -> steps by hand
    probes_are_identifiers: bool = False            # the ticket lists each failing probe (an agent) as an identifier

    @property
    def short_name(self) -> str:
        return self.name or self.title

    def steps_to_reproduce(self, target: Any, probes: str) -> list[str]:
        settings = getattr(target, self.key, None)
        if self.reproduce is not None and settings is not None:
            return self.reproduce(settings, probes)
        return [f"Run `pytest -m go checks/test_{self.key}.py` with this target."]


@cache
def registered() -> dict[str, GoItem]:
    """Every declared item by key, in their declared order."""
    found: dict[str, GoItem] = {}
    for module in pkgutil.iter_modules(__path__):
        item = getattr(importlib.import_module(f"{__name__}.{module.name}"), "ITEM", None)
        if isinstance(item, GoItem):
            if item.key in found:
                raise TypeError(f"two Go items are declared with the key {item.key!r}")
            found[item.key] = item
    return dict(sorted(found.items(), key=lambda entry: (entry[1].order, entry[0])))


def item(key: str, check_doc: str | None = None) -> GoItem:
    """The declaration of `key`; for a check nobody declared, one made from its docstring."""
    if key in registered():
        return registered()[key]
    title = ((check_doc or "").strip() or key).splitlines()[0].rstrip(".")
    return GoItem(key=key, title=title)
