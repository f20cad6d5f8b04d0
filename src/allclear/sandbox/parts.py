"""The sandbox's parts: every module of this package that declares `FAULTS` is one part of the platform.

A part keeps all it knows beside its handlers, so adding one (say, SMS for a new Go item) is adding
one module to this package; the server and `KNOWN_FAULTS` find it here. What a part module declares:

    FAULTS = {"sms-undelivered": (None, "no text message reaches the support number")}   # the marker
    ORDER = 45                        # its place among the parts (default 100: after today's)
    STAYS_UP_IN_MAINTENANCE = ("/sms-carrier",)     # path prefixes the vendor's maintenance page spares
    def setup(app: web.Application, sandbox: PartSetup) -> None: ...      # state from the target
    def add_routes(app: web.Application) -> None: ...                      # routes and middlewares
    def addresses(app: web.Application) -> dict[str, str | int]: ...      # placeholders, once started

`FAULTS` maps a fault's name to (the kind of its argument, or None; what it does); a fault's name is
unique across parts. The parts' order (then their module names) is the order of `KNOWN_FAULTS` and
of the middleware chain. Only `FAULTS` is required. `setup` runs when the sandbox is made: it puts
the part's state into the app under the part's `web.AppKey`, and a part with servers of its own (mail,
DNS) starts and stops them in an `app.cleanup_ctx`, in the sandbox's loop. Every handler reads the
faults switched on now from `app[STATE].faults` (the platform part's).
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
import secrets
from collections.abc import Iterable, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from aiohttp import web

from allclear.config import Target

if TYPE_CHECKING:
    from allclear.sandbox.faults import Switchboard

FaultKinds = dict[str, tuple[type | None, str]]      # name -> (argument kind or None, what it does)
DEFAULT_ORDER = 100


class PartConflict(RuntimeError):
    """Two sandbox parts declare the same fault."""


def made_up_secret(environ: MutableMapping[str, str], env_name: str) -> str:
    """The secret the target names, made up (and exported) when it is not set already."""
    if not environ.get(env_name):
        environ[env_name] = secrets.token_urlsafe(18)
    return environ[env_name]


@dataclass(frozen=True)
class PartSetup:
    """What a part builds its state from: the target, the faults switched on, where its secrets live.

    `desk_file` keeps the ticket desk's alerts and tickets between runs (a JSON file under reports/).
    """

    target: Target
    faults: Switchboard
    environ: MutableMapping[str, str]
    desk_file: Path | None = None

    def secret(self, env_name: str) -> str:
        return made_up_secret(self.environ, env_name)


@dataclass(frozen=True)
class Parts:
    """The sandbox's parts in order, and what they declare together."""

    modules: tuple[ModuleType, ...]
    faults: FaultKinds        # every part's faults, in the parts' order

    @functools.cached_property
    def stays_up_in_maintenance(self) -> tuple[str, ...]:
        return tuple(prefix for part in self.modules for prefix in getattr(part, "STAYS_UP_IN_MAINTENANCE", ()))

    def join(self, app: web.Application, sandbox: PartSetup) -> None:
        """Each part builds its state and adds its routes to the app."""
        app[PARTS] = self
        for part in self.modules:
            if hasattr(part, "setup"):
                part.setup(app, sandbox)
            if hasattr(part, "add_routes"):
                part.add_routes(app)

    def addresses(self, app: web.Application) -> dict[str, str | int]:
        return {name: value for part in self.modules if hasattr(part, "addresses")
                for name, value in part.addresses(app).items()}


PARTS: web.AppKey[Parts] = web.AppKey("sandbox_parts", Parts)


def lineup(modules: Iterable[ModuleType]) -> Parts:
    """The modules that declare `FAULTS`, in order; refused if two of them declare the same fault."""
    found = [module for module in modules if isinstance(getattr(module, "FAULTS", None), dict)]
    found.sort(key=lambda part: (getattr(part, "ORDER", DEFAULT_ORDER), part.__name__))
    known: FaultKinds = {}
    declared_by: dict[str, str] = {}
    for part in found:
        for name, kind in part.FAULTS.items():
            if name in declared_by:
                raise PartConflict(f"sandbox fault {name!r} is declared by two parts: "
                                   f"{declared_by[name]} and {part.__name__}")
            declared_by[name] = part.__name__
            known[name] = kind
    return Parts(tuple(found), known)


def discover() -> Parts:
    """The parts among the modules of this package (its `__path__` as it is now)."""
    package = importlib.import_module(__package__)
    return lineup(importlib.import_module(f"{__package__}.{info.name}")
                  for info in pkgutil.iter_modules(package.__path__))
