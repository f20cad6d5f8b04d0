"""The embedded default target: a local stand-in for the whole platform, with fault injection.

The sandbox is made of parts, one module each (platform, reporting_api, statuspage, voice, mail,
dns, chat_widget, help_center, desk). To add a part, add a module to this package that declares its
`FAULTS` beside its handlers and how it joins the app (`add_routes(app)`; `setup(app, sandbox)` for
state built from the target or servers of its own); nothing else is edited: the server and
`KNOWN_FAULTS` find it (see parts.py). A fault name declared by two parts stops the sandbox at start-up.
"""

from allclear.sandbox.faults import KNOWN_FAULTS, Fault, FaultError, parse_fault
from allclear.sandbox.server import Sandbox

__all__ = ["KNOWN_FAULTS", "Fault", "FaultError", "Sandbox", "parse_fault"]
