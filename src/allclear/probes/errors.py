"""Errors on our side of the probe. Any of them makes an item inconclusive, never a vendor failure."""

import http.client
import socket
import ssl


class ProbeError(Exception):
    """Our own probe could not run, so the item could not be verified."""


class BrowserUnavailable(ProbeError):
    """No Chromium could be started for the browser items."""


class CredentialsRejected(ProbeError):
    """The target refused the probe's own API credentials (HTTP 401/403): fix the token, not the vendor."""


class ServiceUnreachable(ProbeError):
    """A service on our side (the Twilio API, the probe mailbox's servers) could not be talked to."""


def one_line(error: BaseException) -> str:
    """What went wrong on the wire, in words, from the innermost cause: a refused connection, a
    timeout, a host name that does not resolve, an answer in some other protocol. Libraries wrap
    these (requests in urllib3 in http.client), and their own messages are reprs of the wrapping."""
    for cause in reversed(_causes(error)):
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused (nothing listens there)"
        if isinstance(cause, socket.gaierror):
            return f"the host name does not resolve ({cause.strerror})"
        if isinstance(cause, (socket.timeout, TimeoutError)):
            return "timed out"
        if isinstance(cause, ConnectionResetError):
            return "the connection was reset"
        if isinstance(cause, http.client.BadStatusLine):
            said = str(cause.args[0] if cause.args else "").strip()
            return f"the answer was not HTTP (it began {said[:60]!r})" if said else "it hung up without answering"
        if isinstance(cause, ssl.SSLError):
            return f"TLS failed: {cause.reason or cause}"
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _causes(error: BaseException) -> list[BaseException]:
    """The error and everything it wraps (__cause__, __context__, exceptions among its args)."""
    found: list[BaseException] = []
    todo = [error]
    while todo and len(found) < 20:
        current = todo.pop(0)
        if current in found:
            continue
        found.append(current)
        todo += [c for c in (current.__cause__, current.__context__) if c is not None]
        todo += [arg for arg in current.args if isinstance(arg, BaseException)]
    return found
