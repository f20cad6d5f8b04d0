"""Errors on our side of the probe. Any of them makes an item inconclusive, never a vendor failure."""


class ProbeError(Exception):
    """Our own probe could not run, so the item could not be verified."""


class BrowserUnavailable(ProbeError):
    """No Chromium could be started for the browser items."""


class CredentialsRejected(ProbeError):
    """The target refused the probe's own API credentials (HTTP 401/403): fix the token, not the vendor."""
