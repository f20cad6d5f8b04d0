"""The probe mailbox's OAuth2 access token (for XOAUTH2 over IMAP and SMTP), from the provider's token endpoint.

Two flows are a plain form POST (RFC 6749), done here over httpx: client credentials (Microsoft 365
app-only access) and a refresh token (Google, or Microsoft delegated). A Google service account signs
a JWT with its private key; that is google-auth's job (the JWT-bearer grant, RFC 7523), pointed at
the key's own token endpoint or at `token_url`.

A refusal is our mailbox's problem, never the vendor's: `TokenRefused` carries the provider's own
words (`invalid_client: AADSTS7000215: Invalid client secret provided…`), because the mail servers
that refuse a token afterwards say little more than "AUTHENTICATE failed".
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

import httpx

from allclear.items.email import MailboxOAuth2
from allclear.probes.errors import ProbeError, one_line


class TokenRefused(ProbeError):
    """The provider's token endpoint would not give the probe mailbox a token (its own error text)."""


@dataclass(frozen=True)
class AccessToken:
    value: str = field(repr=False)
    expires_at: float               # time.time()
    scope: str

    def claims(self) -> dict:
        """The token's claims when it is a JWT (Microsoft's are; Google's are opaque): read, never verified,
        only to explain a mail server's refusal (audience, roles, expiry)."""
        parts = self.value.split(".")
        if len(parts) != 3:
            return {}
        try:
            payload = parts[1] + "=" * (-len(parts[1]) % 4)
            claims = json.loads(base64.urlsafe_b64decode(payload))
        except (binascii.Error, ValueError):
            return {}
        return claims if isinstance(claims, dict) else {}

    def described(self) -> str:
        """The facts about the token that explain a refusal, never the token itself."""
        claims = self.claims()
        facts = [f"asked for scope {self.scope}"]
        if claims.get("aud"):
            facts.append(f"audience {claims['aud']}")
        if "roles" in claims or "scp" in claims:
            facts.append(f"permissions {' '.join(claims.get('roles') or []) or claims.get('scp') or 'none'}")
        expires = claims.get("exp", self.expires_at)
        moment = datetime.fromtimestamp(float(expires), timezone.utc).strftime("%H:%M:%S UTC")
        facts.append(f"{'expired' if float(expires) <= time.time() else 'expires'} {moment}")
        return ", ".join(facts)


def xoauth2(user: str, token: AccessToken) -> str:
    """The XOAUTH2 initial response (Google's and Microsoft's documented format), before base64."""
    return f"user={user}\x01auth=Bearer {token.value}\x01\x01"


class MailboxTokens:
    """Gets the probe mailbox's access token and keeps it until a minute before it expires."""

    def __init__(self, settings: MailboxOAuth2, secrets: dict[str, str], subject: str,
                 transport: httpx.BaseTransport | None = None):
        self.settings, self.subject = settings, subject
        self._secrets, self._transport = secrets, transport
        self._token: AccessToken | None = None

    @property
    def holds_one(self) -> bool:
        """A token is kept that is good for another minute at least."""
        return self._token is not None and self._token.expires_at - 60 > time.time()

    def token(self) -> AccessToken:
        if not self.holds_one:
            self._token = self._fetch()
        return self._token

    def _fetch(self) -> AccessToken:
        s = self.settings
        if s.flow == "google_service_account":
            return self._service_account()
        form = {"client_id": s.client_id, "scope": s.scopes}
        if s.client_secret_env:
            form["client_secret"] = self._secrets[s.client_secret_env]
        if s.flow == "client_credentials":
            form["grant_type"] = "client_credentials"
        else:
            form |= {"grant_type": "refresh_token", "refresh_token": self._secrets[s.refresh_token_env or ""]}
        assert s.token_url
        try:
            with httpx.Client(timeout=s.timeout_s, transport=self._transport) as client:
                response = client.post(s.token_url, data=form, headers={"Accept": "application/json"})
        except httpx.HTTPError as exc:
            raise TokenRefused(f"could not reach the token endpoint {s.token_url}: {one_line(exc)}") from None
        return self._read(response)

    def _read(self, response: httpx.Response) -> AccessToken:
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.status_code != 200 or not body.get("access_token"):
            raise TokenRefused(f"the token endpoint {self.settings.token_url} refused the probe mailbox's "
                               f"{self.settings.flow.replace('_', ' ')} (HTTP {response.status_code}): "
                               f"{provider_error(body, response.text)}")
        return AccessToken(body["access_token"], time.time() + float(body.get("expires_in", 3600)),
                           body.get("scope") or self.settings.scopes)

    def _service_account(self) -> AccessToken:
        """google-auth signs the JWT and makes the JWT-bearer grant, acting as the probe mailbox."""
        import google.auth.exceptions
        import google.auth.transport.requests
        from google.oauth2 import service_account

        s = self.settings
        try:
            info = json.loads(self._secrets[s.service_account_env or ""])
            credentials = service_account.Credentials.from_service_account_info(
                info, scopes=s.scopes.split(), subject=self.subject)
        except (ValueError, KeyError) as exc:
            raise TokenRefused(f"{s.service_account_env} does not hold a Google service account's JSON key: "
                               f"{one_line(exc)}") from None
        if s.token_url:
            credentials = credentials.with_token_uri(s.token_url)
        try:
            credentials.refresh(_with_timeout(google.auth.transport.requests.Request(), s.timeout_s))
        except google.auth.exceptions.GoogleAuthError as exc:
            account = info.get("client_email", "?")
            raise TokenRefused(f"Google's token endpoint {credentials._token_uri} refused the service account "
                               f"{account} acting as {self.subject}: {_google_words(exc)}") from None
        expires = credentials.expiry.replace(tzinfo=timezone.utc).timestamp() if credentials.expiry else time.time()
        return AccessToken(credentials.token, expires, s.scopes)


def _with_timeout(request, timeout_s: float):
    """google-auth's token request waits 120 s by default; ours waits what the target says."""
    return lambda *args, **kwargs: request(*args, **{**kwargs, "timeout": timeout_s})


def provider_error(body: object, text: str) -> str:
    """`error: error_description` (RFC 6749 5.2), its first line: Microsoft adds trace and correlation ids."""
    if isinstance(body, dict) and body.get("error"):
        description = str(body.get("error_description") or "").strip().splitlines()
        return f"{body['error']}: {description[0]}" if description else str(body["error"])
    return one_line(ValueError(text.strip()[:200] or "an empty answer"))


def _google_words(error: Exception) -> str:
    """google-auth puts the endpoint's JSON answer in its exception's arguments."""
    for arg in getattr(error, "args", ()):
        if isinstance(arg, dict) and arg.get("error"):
            return provider_error(arg, "")
    return one_line(error)
