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
GOOGLE_MAIL_SCOPE = "https://mail.google.com/"


class MailboxOAuth2(Section):
    """Where the probe mailbox's access token comes from; one token serves both IMAP and SMTP.

    `client_credentials`: Microsoft 365 app-only access (token_url of the tenant, scope
    https://outlook.office365.com/.default). `refresh_token`: a token a person granted once (Google,
    or Microsoft delegated). `google_service_account`: a Google Workspace service account with
    domain-wide delegation, acting as the mailbox (its JSON key in an environment variable).
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
        if self.scope:
            return self.scope
        return MICROSOFT_365_SCOPE if self.flow == "client_credentials" else GOOGLE_MAIL_SCOPE


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
        return self

    @property
    def smtp_login(self) -> str:
        return self.smtp_user or self.probe_address


def _reproduce(email: EmailCheck, probes: str) -> list[str]:
    return [f"Send an email from {email.probe_address} to {email.support_address}.",
            f"Wait up to {email.reply_deadline_s / 60:g} minutes for the platform's reply."]


ITEM = GoItem(
    key="email", title="An email to the support address gets a reply", order=5, name="Email round trip",
    probe=("test email", "test emails"), settings=EmailCheck, core=True, waits=True,
    interactions="emails: {failed} of {run} test emails got no reply", reproduce=_reproduce,
)
