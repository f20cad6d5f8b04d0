"""An HTTP client for the official `twilio` SDK that sends its REST calls to another base URL.

The SDK builds every URL on `https://api.twilio.com`; rewriting that prefix, and only that one,
lets an unchanged `twilio.rest.Client` talk to the sandbox's voice API:

    Client(account_sid, auth_token, http_client=RebasedHttpClient("http://127.0.0.1:8080"))

Other hosts pass through untouched. Note that TWILIO_EDGE / TWILIO_REGION (or `edge=` / `region=`
on the Client) make the SDK use `api.<edge>.<region>.twilio.com`, which is not rebased: leave them
unset when pointing the SDK at the sandbox.
"""

from __future__ import annotations

from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response

TWILIO_API = "https://api.twilio.com"


class RebasedHttpClient(TwilioHttpClient):
    """`TwilioHttpClient` that replaces the `https://api.twilio.com` prefix with `base_url`."""

    def __init__(self, base_url: str, **kwargs):
        super().__init__(**kwargs)
        self.base_url = base_url.rstrip("/")

    def rebase(self, url: str) -> str:
        rest = url[len(TWILIO_API):]
        if url.startswith(TWILIO_API) and (not rest or rest[0] in "/?#"):
            return self.base_url + rest
        return url

    def request(self, method: str, url: str, *args, **kwargs) -> Response:
        return super().request(method, self.rebase(url), *args, **kwargs)
