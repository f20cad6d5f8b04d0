"""Email round trip: a tokened email to the support address, sent after the window end + delay, gets a reply.

The probe mailbox logs in to each of its servers its own way (`smtp_auth`, `imap_auth`): a company
relay may take mail without a login (`none`), a mailbox may take a password, and Microsoft 365 and
Google take OAuth2 access tokens (XOAUTH2), got from the provider's token endpoint (`[email.oauth2]`).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from allclear.config.fields import EnvName, Port, Seconds, Section, Security, Url
from allclear.items import GoItem

MICROSOFT_365_SCOPE = "https://outlook.office365.com/.default"
# Delegated (a person's consent, a refresh token): the mailbox's own permissions, and a new refresh token.
MICROSOFT_365_DELEGATED_SCOPE = ("https://outlook.office.com/IMAP.AccessAsUser.All "
                                 "https://outlook.office.com/SMTP.Send offline_access")
GOOGLE_MAIL_SCOPE = "https://mail.google.com/"


class MailboxOAuth2(Section):
    """Where the probe mailbox's access token comes from; one token serves both IMAP and SMTP.

    `client_credentials`: Microsoft 365 app-only access (token_url of the tenant, scope
    https://outlook.office365.com/.default). `refresh_token`: a token a person granted once (Google,
    or Microsoft delegated: IMAP.AccessAsUser.All and SMTP.Send). `google_service_account`: a Google
    Workspace service account with domain-wide delegation, acting as the mailbox (its JSON key in an
    environment variable).
    """

    flow: Literal["client_credentials", "refresh_token", "google_service_account"]
    token_url: Url | None = None            # the provider's token endpoint (service accounts: the key's own)
    client_id: str = ""
    client_secret_env: EnvName | None = None
    refresh_token_env: EnvName | None = None
    service_account_env: EnvName | None = None
    scope: str = ""                          # default: the provider's mail scope for the flow
    timeout_s: Seconds = 20.0

    @model_validator(mode="after")
    def _flow_has_what_it_needs(self) -> MailboxOAuth2:
        needs = {"client_credentials": ("token_url", "client_id", "client_secret_env"),
                 "refresh_token": ("token_url", "client_id", "refresh_token_env"),
                 "google_service_account": ("service_account_env",)}[self.flow]
        missing = [key for key in needs if not getattr(self, key)]
        if missing:
            raise ValueError(f"flow {self.flow!r} needs {', '.join(missing)}")
        return self

    @property
    def scopes(self) -> str:
        """The configured scope, or the provider's mail scope for the flow (Microsoft's token
        endpoints end in /oauth2/v2.0/token)."""
        if self.scope:
            return self.scope
        if self.flow == "client_credentials":
            return MICROSOFT_365_SCOPE
        microsoft = self.flow == "refresh_token" and (self.token_url or "").endswith("/oauth2/v2.0/token")
        return MICROSOFT_365_DELEGATED_SCOPE if microsoft else GOOGLE_MAIL_SCOPE


class EmailCheck(Section):
    enabled: bool = True
    support_address: str
    probe_address: str
    smtp_host: str
    smtp_port: Port = 587
    smtp_security: Security = "starttls"
    smtp_auth: Literal["none", "password", "oauth2"] = "password"
    smtp_user: str = ""
    smtp_password_env: EnvName | None = None
    imap_host: str
    imap_port: Port = 993
    imap_security: Security = "ssl"
    imap_auth: Literal["password", "oauth2"] = "password"
    imap_user: str
    imap_password_env: EnvName | None = None
    imap_folder: str = "INBOX"
    oauth2: MailboxOAuth2 | None = None
    delay_after_window_min: float = Field(default=15.0, ge=0)   # the vendor: send 15 minutes after the window
    reply_deadline_s: Seconds = 600.0
    poll_interval_s: Seconds = 10.0
    connect_timeout_s: Seconds = 20.0
    cleanup: bool = True
    # The email seen inside the platform, over the reporting API's credentials ([reporting_api]).
    require: Literal["reply", "conversation", "both"] = "reply"
    find_conversation: bool = True      # look it up whenever [reporting_api] is there, required or not
    conversation_poll_s: Seconds = 5.0
    conversation_note: str = "allclear post-maintenance check: an automated test email, no action needed."
    conversation_topic_ids: list[str] = []
    close_conversation: bool = True

    @model_validator(mode="after")
    def _each_server_can_log_in(self) -> EmailCheck:
        for server, auth, password_env in (("smtp", self.smtp_auth, self.smtp_password_env),
                                           ("imap", self.imap_auth, self.imap_password_env)):
            if auth == "password" and not password_env:
                raise ValueError(f"{server}_auth = \"password\" needs {server}_password_env")
            if auth == "password" and server == "smtp" and not self.smtp_user:
                raise ValueError("smtp_auth = \"password\" needs smtp_user")
            if auth != "password" and password_env:
                raise ValueError(f"{server}_password_env is set but {server}_auth = \"{auth}\" never sends "
                                 "a password: remove it or set the auth to \"password\"")
            if auth == "oauth2" and self.oauth2 is None:
                raise ValueError(f"{server}_auth = \"oauth2\" needs an [email.oauth2] table")
        if self.oauth2 is not None and "oauth2" not in (self.smtp_auth, self.imap_auth):
            raise ValueError("[email.oauth2] is set but neither smtp_auth nor imap_auth is \"oauth2\"")
        if self.require != "reply" and not self.find_conversation:
            raise ValueError(f"require = \"{self.require}\" needs find_conversation = true")
        return self

    @property
    def wants_reply(self) -> bool:
        return self.require in ("reply", "both")

    @property
    def wants_conversation(self) -> bool:
        return self.require in ("conversation", "both")

    @property
    def smtp_login(self) -> str:
        return self.smtp_user or self.probe_address


def _reproduce(email: EmailCheck, probes: str) -> list[str]:
    steps = [f"Send an email from {email.probe_address} to {email.support_address}."]
    if email.wants_reply:
        steps.append(f"Wait up to {_duration(email.reply_deadline_s)} for the platform's reply.")
    if email.wants_conversation:
        steps.append(f"Look for the conversation of customer {email.probe_address} holding the email's token "
                     "(GET /customer-profiles?email=, /customers/{id}/conversations, /conversations/{id}/items).")
    return steps


def _duration(seconds: float) -> str:
    return f"{seconds:g} seconds" if seconds < 120 else f"{seconds / 60:g} minutes"


ITEM = GoItem(
    key="email", title="An email to the support address gets a reply", order=5, name="Email round trip",
    probe=("test email", "test emails"), settings=EmailCheck, core=True, waits=True,
    interactions="emails: {failed} of {run} test emails not taken in (no reply, or no conversation in the platform)",
    reproduce=_reproduce,
)
