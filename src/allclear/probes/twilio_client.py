"""An HTTP client for the official `twilio` SDK that sends its REST calls to another base URL.

The SDK builds its URLs on `https://api.twilio.com` (voice, messages) and
`https://intelligence.twilio.com` (Conversational Intelligence); rewriting those prefixes, and only
those, lets an unchanged `twilio.rest.Client` talk to the sandbox's stand-ins:

    Client(account_sid, auth_token, http_client=RebasedHttpClient("http://127.0.0.1:8080"))

Other hosts pass through untouched. Note that TWILIO_EDGE / TWILIO_REGION (or `edge=` / `region=`
on the Client) make the SDK use `api.<edge>.<region>.twilio.com`, which is not rebased: leave them
unset when pointing the SDK at the sandbox.
"""

from __future__ import annotations

import json
from typing import Protocol

from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from allclear.probes.errors import ProbeError

TWILIO_API = "https://api.twilio.com"
REBASED_HOSTS = (TWILIO_API, "https://intelligence.twilio.com")


class TwilioAccountError(ProbeError):
    """Twilio refused the probe's own account or number: nothing was placed or sent."""


def create_refused(exc: TwilioRestException, our_side_codes: set[int], doing: str) -> str:
    """A create Twilio refused: raise TwilioAccountError when it was our account or number (`our_side_codes`);
    else the words for the target's trouble ("Twilio could not place the call: HTTP 400, error …")."""
    if exc.status in (401, 403) or exc.code in our_side_codes:
        raise TwilioAccountError(f"Twilio refused the probe's account: HTTP {exc.status}, error {exc.code}: "
                                 f"{exc.msg}") from None
    return f"Twilio could not {doing}: HTTP {exc.status}, error {exc.code}: {exc.msg}"


def refused_account(exc: TwilioException) -> TwilioAccountError | None:
    """Twilio saying no to our credentials (401/403), from a REST error or a list page's "Unable to fetch page"."""
    if isinstance(exc, TwilioRestException):
        status, code, words = exc.status, exc.code, exc.msg
    else:
        response = exc.args[1] if len(exc.args) > 1 and hasattr(exc.args[1], "status_code") else None
        if response is None:
            return None
        try:
            body = json.loads(response.text)
        except (ValueError, TypeError):
            body = {}
        status, code, words = response.status_code, body.get("code"), body.get("message", "")
    if status not in (401, 403):
        return None
    return TwilioAccountError(f"Twilio refused the probe's account: HTTP {status}, error {code}: {words}")


class TwilioSettings(Protocol):
    api_base: str
    account_sid: str


def twilio_client(settings: TwilioSettings, auth_token: str) -> Client:
    """The official SDK's client for the target's account; rebased when `api_base` is not Twilio's."""
    rebased = None if settings.api_base.rstrip("/") == TWILIO_API else RebasedHttpClient(settings.api_base)
    return Client(settings.account_sid, auth_token, http_client=rebased)


class RebasedHttpClient(TwilioHttpClient):
    """`TwilioHttpClient` that replaces the prefixes of REBASED_HOSTS with `base_url`."""

    def __init__(self, base_url: str, **kwargs):
        super().__init__(**kwargs)
        self.base_url = base_url.rstrip("/")

    def rebase(self, url: str) -> str:
        for host in REBASED_HOSTS:
            rest = url[len(host):]
            if url.startswith(host) and (not rest or rest[0] in "/?#"):
                return self.base_url + rest
        return url

    def request(self, method: str, url: str, *args, **kwargs) -> Response:
        return super().request(method, self.rebase(url), *args, **kwargs)
