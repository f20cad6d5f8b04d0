"""The probe mailbox's OAuth2 provider: a token endpoint shaped like Microsoft's and Google's, and the
token check the sandbox's SMTP and IMAP servers make for XOAUTH2.

Two endpoints, two providers' shapes (their documented form parameters and error bodies):
    POST /_mailbox-provider/{tenant}/oauth2/v2.0/token   Microsoft identity platform (v2.0): client
         credentials or a refresh token; errors {error, error_description "AADSTSnnnn: …", error_codes, …}
    POST /_mailbox-provider/token                         Google: a refresh token, or a service account's
         signed JWT (grant urn:ietf:params:oauth:grant-type:jwt-bearer); errors {error, error_description}
Access tokens are JWTs signed by the sandbox, with an audience, permissions and an expiry, so the mail
servers can refuse an expired or wrong-audience token as a real provider's servers do.
"""

from __future__ import annotations

import json
import secrets
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone

import jwt
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from allclear.items.email import GOOGLE_MAIL_SCOPE, MICROSOFT_365_SCOPE
from allclear.sandbox.parts import FaultKinds, PartSetup

FAULTS: FaultKinds = {
    "oauth-refused": (None, "the mailbox provider's token endpoint refuses the probe's app (invalid_client)"),
    "oauth-expired": (None, "the probe mailbox's client secret, refresh token or key has expired at the provider"),
    "mail-token-refused": (None, "the mail servers refuse the probe's access tokens (the app may not open it)"),
}
ORDER = 45
STAYS_UP_IN_MAINTENANCE = ("/_mailbox-provider",)     # the mailbox provider is ours, not the vendor's
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
# Resources a client-credentials token may be for; only the mail one opens a mailbox.
MICROSOFT_RESOURCES = {MICROSOFT_365_SCOPE: "https://outlook.office365.com",
                       "https://graph.microsoft.com/.default": "https://graph.microsoft.com"}
MAIL_AUDIENCES = {"https://outlook.office365.com", "https://outlook.office.com", GOOGLE_MAIL_SCOPE}
DELEGATED = {"IMAP": "https://outlook.office.com/IMAP.AccessAsUser.All", "SMTP": "https://outlook.office.com/SMTP.Send"}
TOKEN_LIFETIME_S = 3599


@dataclass
class MailboxProvider:
    """The probe mailbox's app as the provider knows it, and the tokens it signs."""

    faults: object
    mailbox: str
    client_id: str = ""
    client_secret: str = ""
    refresh_token: str = ""
    service_account_key: rsa.RSAPublicKey | None = None
    service_account_email: str = ""
    signing_key: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    issued: int = 0

    def issue(self, audience: str, permissions: list[str], subject: str, lifetime_s: float = TOKEN_LIFETIME_S,
              delegated: str = "") -> dict:
        """A signed access token: an app's `roles`, or a person's delegated `scp` (as Microsoft's carry)."""
        now = int(time.time())
        claims = {"aud": audience, "iss": "https://sandbox-mailbox-provider/", "iat": now,
                  "exp": int(now + lifetime_s), "sub": subject, "appid": self.client_id, "roles": permissions}
        if delegated:
            claims["scp"] = delegated
        self.issued += 1
        return {"token_type": "Bearer", "expires_in": int(lifetime_s), "ext_expires_in": int(lifetime_s),
                "access_token": jwt.encode(claims, self.signing_key, algorithm="HS256")}

    def refusal(self, user: str, token: str, protocol: str) -> str | None:
        """Why a mail server refuses this token for `user`, or None when it opens the mailbox."""
        if self.faults.active("mail-token-refused"):
            return "the app has no permission on this mailbox"
        try:
            claims = jwt.decode(token, self.signing_key, algorithms=["HS256"], audience=list(MAIL_AUDIENCES))
        except jwt.ExpiredSignatureError:
            return "the token has expired"
        except jwt.InvalidAudienceError:
            return "the token is for another audience"
        except jwt.InvalidTokenError:
            return "the token is not one of ours"
        if user.lower() != self.mailbox.lower():
            return f"the token does not open {user}"
        wanted = {"IMAP": "IMAP.AccessAsApp", "SMTP": "SMTP.SendAsApp"}[protocol]
        delegated = DELEGATED[protocol].rsplit("/", 1)[1]
        if claims["aud"] != GOOGLE_MAIL_SCOPE and wanted not in claims.get("roles", []) \
                and delegated not in claims.get("scp", "").split():
            return f"the token lacks {wanted} (or, delegated, {delegated})"
        return None


PROVIDER: web.AppKey[MailboxProvider] = web.AppKey("mailbox_provider", MailboxProvider)


def _microsoft_error(status: int, error: str, code: int, words: str) -> web.Response:
    now = datetime.now(timezone.utc)
    trace, correlation = uuid.uuid4(), uuid.uuid4()
    description = (f"AADSTS{code}: {words}\r\nTrace ID: {trace}\r\nCorrelation ID: {correlation}\r\n"
                   f"Timestamp: {now:%Y-%m-%d %H:%M:%SZ}")
    return web.json_response({
        "error": error, "error_description": description, "error_codes": [code],
        "timestamp": f"{now:%Y-%m-%d %H:%M:%SZ}", "trace_id": str(trace), "correlation_id": str(correlation),
        "error_uri": f"https://login.microsoftonline.com/error?code={code}"}, status=status)


def _google_error(status: int, error: str, words: str) -> web.Response:
    return web.json_response({"error": error, "error_description": words}, status=status)


async def microsoft_token(request: web.Request) -> web.Response:
    provider, form = request.app[PROVIDER], await request.post()
    app_name = f"app '{form.get('client_id', '')}'({provider.client_id and 'allclear-probe'})"
    if form.get("client_id") != provider.client_id:
        return _microsoft_error(400, "unauthorized_client", 700016,
                                f"Application with identifier '{form.get('client_id', '')}' was not found in the "
                                f"directory '{request.match_info['tenant']}'.")
    grant, scope = form.get("grant_type"), str(form.get("scope", ""))
    if grant == "client_credentials":
        if provider.faults.active("oauth-expired"):
            return _microsoft_error(401, "invalid_client", 7000222,
                                    f"The provided client secret keys for {app_name} are expired. Visit the Azure "
                                    "portal to create new keys for your app: https://aka.ms/NewClientSecret.")
        if provider.faults.active("oauth-refused") or not secrets.compare_digest(
                str(form.get("client_secret", "")), provider.client_secret):
            return _microsoft_error(401, "invalid_client", 7000215,
                                    "Invalid client secret provided. Ensure the secret being sent in the request is "
                                    "the client secret value, not the client secret ID, for a secret added to "
                                    f"{app_name}.")
        if scope not in MICROSOFT_RESOURCES:
            return _microsoft_error(400, "invalid_scope", 1002012,
                                    f"The provided value for scope {scope} is not valid. Client credential flows must "
                                    "have a scope value with /.default suffixed to the resource identifier.")
        return web.json_response(provider.issue(MICROSOFT_RESOURCES[scope], ["IMAP.AccessAsApp", "SMTP.SendAsApp"],
                                                provider.mailbox))
    if grant == "refresh_token":
        if provider.faults.active("oauth-expired"):
            return _microsoft_error(400, "invalid_grant", 700082,
                                    "The refresh token has expired due to inactivity. The token was issued on "
                                    "2026-08-01T09:12:44Z and was inactive for 90.00:00:00.")
        if provider.faults.active("oauth-refused") or str(form.get("refresh_token")) != provider.refresh_token:
            return _microsoft_error(400, "invalid_grant", 9002313, "Invalid request. Request is malformed or invalid.")
        granted = [name for name in DELEGATED.values() if name in str(form.get("scope", "")).split()]
        if not granted:
            return _microsoft_error(400, "invalid_scope", 70011,
                                    f"The provided value for the input parameter 'scope' is not valid. The scope "
                                    f"{form.get('scope', '')} is not valid for this mailbox's delegated access.")
        # Microsoft hands a new refresh token back each time; the old one stays good until it expires.
        issued = provider.issue("https://outlook.office.com", [], provider.mailbox,
                                delegated=" ".join(name.rsplit("/", 1)[1] for name in granted))
        return web.json_response({**issued, "scope": " ".join(granted), "refresh_token": secrets.token_urlsafe(24)})
    return _microsoft_error(400, "unsupported_grant_type", 70003,
                            f"The app requested an unsupported grant type '{grant}'.")


async def google_token(request: web.Request) -> web.Response:
    provider, form = request.app[PROVIDER], await request.post()
    grant = form.get("grant_type")
    if grant == JWT_BEARER:
        return _service_account(provider, str(form.get("assertion", "")))
    if grant != "refresh_token":
        return _google_error(400, "unsupported_grant_type", f"Invalid grant_type: {grant}")
    if form.get("client_id") != provider.client_id or provider.faults.active("oauth-refused") or \
            not secrets.compare_digest(str(form.get("client_secret", "")), provider.client_secret):
        return _google_error(401, "invalid_client", "Unauthorized")
    if provider.faults.active("oauth-expired") or str(form.get("refresh_token")) != provider.refresh_token:
        return _google_error(400, "invalid_grant", "Token has been expired or revoked.")
    return web.json_response({**provider.issue(GOOGLE_MAIL_SCOPE, [], provider.mailbox), "scope": GOOGLE_MAIL_SCOPE})


def _service_account(provider: MailboxProvider, assertion: str) -> web.Response:
    """Google's answers to a service account's JWT: a deleted or expired key, missing delegation."""
    if provider.service_account_key is None or provider.faults.active("oauth-expired"):
        return _google_error(400, "invalid_grant", "Invalid JWT Signature.")
    try:
        claims = jwt.decode(assertion, provider.service_account_key, algorithms=["RS256"],
                            options={"verify_aud": False})
    except jwt.InvalidTokenError:
        return _google_error(400, "invalid_grant", "Invalid JWT Signature.")
    if provider.faults.active("oauth-refused") or claims.get("iss") != provider.service_account_email \
            or claims.get("sub") != provider.mailbox or GOOGLE_MAIL_SCOPE not in str(claims.get("scope", "")).split():
        return _google_error(401, "unauthorized_client",
                             "Client is unauthorized to retrieve access tokens using this method, or client not "
                             "authorized for any of the scopes requested.")
    return web.json_response({**provider.issue(GOOGLE_MAIL_SCOPE, [], provider.mailbox), "scope": GOOGLE_MAIL_SCOPE})


def service_account_key(email: str, project: str = "allclear-sandbox") -> str:
    """A service account's JSON key, made up as Google's console hands one out."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    info = {"type": "service_account", "project_id": project, "private_key_id": secrets.token_hex(20),
            "private_key": pem, "client_email": email, "client_id": str(secrets.randbelow(10**20)),
            "token_uri": "https://oauth2.googleapis.com/token"}
    return json.dumps(info)


def setup(app: web.Application, sandbox: PartSetup) -> None:
    email = sandbox.target.email
    oauth = email.oauth2 if email and email.enabled else None
    if oauth is None:
        return
    provider = MailboxProvider(sandbox.faults, mailbox=email.imap_user, client_id=oauth.client_id)
    if oauth.client_secret_env:
        provider.client_secret = sandbox.secret(oauth.client_secret_env)
    if oauth.refresh_token_env:
        provider.refresh_token = sandbox.secret(oauth.refresh_token_env)
    if oauth.service_account_env:
        if not sandbox.environ.get(oauth.service_account_env, "").lstrip().startswith("{"):
            sandbox.environ[oauth.service_account_env] = service_account_key(
                "allclear-probe@allclear-sandbox.iam.gserviceaccount.com")
        info = json.loads(sandbox.environ[oauth.service_account_env])
        provider.service_account_email = info["client_email"]
        provider.service_account_key = serialization.load_pem_private_key(
            info["private_key"].encode(), password=None).public_key()
    app[PROVIDER] = provider


def add_routes(app: web.Application) -> None:
    app.router.add_post("/_mailbox-provider/{tenant}/oauth2/v2.0/token", microsoft_token)
    app.router.add_post("/_mailbox-provider/token", google_token)
