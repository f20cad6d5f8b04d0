"""Probes: one module per protocol, each returning an observation; they never import pytest."""

from allclear.probes.errors import BrowserUnavailable, ProbeError

__all__ = ["BrowserUnavailable", "ProbeError"]
