"""The embedded default target: a local stand-in for the whole platform, with fault injection."""

from allclear.sandbox.faults import KNOWN_FAULTS, Fault, FaultError, parse_fault
from allclear.sandbox.server import Sandbox

__all__ = ["KNOWN_FAULTS", "Fault", "FaultError", "Sandbox", "parse_fault"]
