"""The probe mailbox logs in to each server its own way: not at all (a relay), with a password, or with
an OAuth2 token (XOAUTH2) from Microsoft's or Google's token endpoint, all against the sandbox's servers."""

from __future__ import annotations

import re
import smtplib
import time
import tomllib
from contextlib import contextmanager

import pytest
from imapclient import IMAPClient
from imapclient.exceptions import LoginError
from pydantic import ValidationError

from allclear.config import read_sandbox_template
from allclear.items.email import EmailCheck
from allclear.probes.mail import ProbeMailbox, ProbeMailboxError
from allclear.probes.oauth2 import AccessToken, MailboxTokens, TokenRefused
from allclear.sandbox import Sandbox
from allclear.sandbox.mail_tokens import PROVIDER
from tests.conftest import ROOT, SANDBOX_TOML

MAILBOX = "probe@sandbox.allclear.test"
MICROSOFT = {"flow": "client_credentials", "token_url": "{sandbox}/_mailbox-provider/sandbox-tenant/oauth2/v2.0/token",
             "client_id": "0b7a1c4e-probe-app", "client_secret_env": "PROBE_APP_SECRET"}
GOOGLE = {"flow": "refresh_token", "token_url": "{sandbox}/_mailbox-provider/token",
          "client_id": "probe.apps.googleusercontent.com", "client_secret_env": "PROBE_APP_SECRET",
          "refresh_token_env": "PROBE_REFRESH_TOKEN"}
MICROSOFT_DELEGATED = {"flow": "refresh_token",
                       "token_url": "{sandbox}/_mailbox-provider/sandbox-tenant/oauth2/v2.0/token",
                       "client_id": "0b7a1c4e-probe-app", "client_secret_env": "PROBE_APP_SECRET",
                       "refresh_token_env": "PROBE_REFRESH_TOKEN"}
SERVICE_ACCOUNT = {"flow": "google_service_account", "token_url": "{sandbox}/_mailbox-provider/token",
                   "service_account_env": "PROBE_SERVICE_ACCOUNT_KEY"}
OAUTH = {"smtp_auth": "oauth2", "imap_auth": "oauth2", "smtp_password_env": None, "imap_password_env": None}


@contextmanager
def probe_mailbox(faults: list[str] | None = None, **changes):
    """A ProbeMailbox on a sandbox whose `[email]` section has `changes`; yields (mailbox, sandbox)."""
    template = read_sandbox_template(SANDBOX_TOML)
    email = EmailCheck.model_validate({**template.email.model_dump(), **changes})
    environ: dict[str, str] = {}
    with Sandbox(template.model_copy(update={"email": email}), faults=faults, environ=environ) as sandbox:
        update = {"smtp_port": sandbox.mail.smtp_port, "imap_port": sandbox.mail.imap_port,
                  "reply_deadline_s": 5.0, "poll_interval_s": 0.5}
        if email.oauth2:
            update["oauth2"] = email.oauth2.model_copy(
                update={"token_url": email.oauth2.token_url.replace("{sandbox}", sandbox.url)})
        yield ProbeMailbox(email.model_copy(update=update), environ), sandbox


def round_trip(mailbox: ProbeMailbox):
    return mailbox.await_reply(mailbox.send())


@pytest.mark.parametrize("oauth2", [MICROSOFT, MICROSOFT_DELEGATED, GOOGLE, SERVICE_ACCOUNT],
                         ids=["microsoft", "microsoft-delegated", "google", "service-account"])
def test_oauth2_round_trips_over_xoauth2_on_both_servers(oauth2):
    with probe_mailbox(**OAUTH, oauth2=oauth2) as (mailbox, sandbox):
        seen = round_trip(mailbox)
        assert seen.reply_found, seen.problem
        assert sandbox.app[PROVIDER].issued == 1          # one token, kept, serves SMTP and IMAP
        assert any("OAuth2 token" in step.name for step in seen.steps)


def test_a_relay_without_auth_takes_the_mail_when_the_target_says_none():
    sent_passwords: list[str] = []
    with probe_mailbox(smtp_auth="none", smtp_password_env=None) as (mailbox, sandbox), \
            pytest.MonkeyPatch.context() as patch:
        patch.setattr(smtplib.SMTP, "login", lambda *args: sent_passwords.append("login"))
        seen = round_trip(mailbox)
        assert seen.reply_found and sent_passwords == []
        assert sandbox.mail.relay


def test_a_password_is_never_sent_to_a_server_that_offers_no_auth():
    logins: list[tuple] = []
    with probe_mailbox(faults=["smtp-no-auth"]) as (mailbox, _), pytest.MonkeyPatch.context() as patch:
        patch.setattr(smtplib.SMTP, "login", lambda *args: logins.append(args))
        with pytest.raises(ProbeMailboxError) as refused:
            mailbox.send()
    message = str(refused.value)
    assert logins == [] and "\n" not in message
    assert "offers no login (no AUTH in its EHLO), so the probe's password was not sent" in message
    assert 'set smtp_auth = "none"' in message


def test_no_login_against_a_server_that_wants_one_says_so():
    with probe_mailbox() as (mailbox, _):
        relay_settings = mailbox.settings.model_copy(update={"smtp_auth": "none", "smtp_password_env": None})
        with pytest.raises(ProbeMailboxError, match=r"wants a login \(it answered 530 5\.7\.0 Authentication "
                                                    r"required\): set smtp_auth to \"password\" or \"oauth2\""):
            ProbeMailbox(relay_settings, {}).send()


@pytest.mark.parametrize("oauth2, fault, provider_words", [
    (MICROSOFT, "oauth-expired", "invalid_client: AADSTS7000222: The provided client secret keys for app"),
    (MICROSOFT, "oauth-refused", "invalid_client: AADSTS7000215: Invalid client secret provided."),
    (MICROSOFT_DELEGATED, "oauth-expired", "invalid_grant: AADSTS700082: The refresh token has expired due to inac"),
    (GOOGLE, "oauth-expired", "invalid_grant: Token has been expired or revoked."),
    (GOOGLE, "oauth-refused", "invalid_client: Unauthorized"),
    (SERVICE_ACCOUNT, "oauth-expired", "invalid_grant: Invalid JWT Signature."),
    (SERVICE_ACCOUNT, "oauth-refused", "unauthorized_client: Client is unauthorized to retrieve access tokens"),
], ids=lambda value: value if isinstance(value, str) and not value.startswith("invalid") else None)
def test_a_token_refused_by_the_provider_is_ours_and_names_the_providers_words(oauth2, fault, provider_words):
    with probe_mailbox(faults=[fault], **OAUTH, oauth2=oauth2) as (mailbox, _):
        with pytest.raises(TokenRefused) as refused:
            mailbox.send()
    message = str(refused.value)
    assert provider_words in message and "\n" not in message and "Trace ID" not in message


def test_a_wrong_secret_is_refused_as_microsoft_refuses_it():
    with probe_mailbox(**OAUTH, oauth2=MICROSOFT) as (mailbox, _):
        mailbox._secrets["PROBE_APP_SECRET"] = "the secret's id, not its value"
        with pytest.raises(TokenRefused, match=r"\(HTTP 401\): invalid_client: AADSTS7000215"):
            mailbox.send()


def test_a_token_for_another_audience_is_refused_by_imap_and_the_refusal_says_whose_it_was():
    graph = {**MICROSOFT, "scope": "https://graph.microsoft.com/.default"}   # a common slip: Graph's scope
    with probe_mailbox(**OAUTH, oauth2=graph) as (mailbox, _):
        with pytest.raises(ProbeMailboxError) as refused, mailbox._imap():
            pass
    message = str(refused.value)
    assert "IMAP server 127.0.0.1 refused its OAuth2 token" in message
    assert "asked for scope https://graph.microsoft.com/.default, audience https://graph.microsoft.com" in message
    assert mailbox._tokens.token().value not in message


def test_the_mail_servers_refusing_a_good_token_is_inconclusive_with_what_smtp_said():
    with probe_mailbox(faults=["mail-token-refused"], **OAUTH, oauth2=MICROSOFT) as (mailbox, _):
        with pytest.raises(ProbeMailboxError) as refused:
            mailbox.send()
    message = str(refused.value)
    assert "SMTP server 127.0.0.1 refused its OAuth2 token (it answered 535 5.7.3 Authentication unsuccess" in message
    assert 'it said {"status": "401", "schemes": "bearer"' in message
    assert "permissions IMAP.AccessAsApp SMTP.SendAsApp" in message


def test_an_expired_access_token_is_inconclusive_and_says_when_it_expired(monkeypatch):
    """A token kept too long (or a clock far off) is refused by the mail server: the refusal says so."""
    with probe_mailbox(**OAUTH, oauth2=MICROSOFT) as (mailbox, sandbox):
        expired = sandbox.app[PROVIDER].issue("https://outlook.office365.com", ["IMAP.AccessAsApp"], MAILBOX,
                                              lifetime_s=-120)
        monkeypatch.setattr(MailboxTokens, "token", lambda self: AccessToken(expired["access_token"],
                                                                             time.time() + 600, "x/.default"))
        with pytest.raises(ProbeMailboxError) as refused, mailbox._imap():
            pass
    message = str(refused.value)
    assert "refused its OAuth2 token" in message and re.search(r"expired \d\d:\d\d:\d\d UTC", message)
    assert expired["access_token"] not in message


def test_the_sandbox_refuses_expired_tokens_at_imap():
    with probe_mailbox(**OAUTH, oauth2=MICROSOFT) as (mailbox, sandbox):
        provider = sandbox.app[PROVIDER]
        expired = provider.issue("https://outlook.office365.com", ["IMAP.AccessAsApp"], MAILBOX, lifetime_s=-5)
        assert provider.refusal(MAILBOX, expired["access_token"], "IMAP") == "the token has expired"
        fresh = provider.issue("https://outlook.office365.com", ["IMAP.AccessAsApp"], MAILBOX)
        assert provider.refusal(MAILBOX, fresh["access_token"], "IMAP") is None
        assert provider.refusal("someone.else@sandbox.allclear.test", fresh["access_token"], "IMAP")
        client = IMAPClient("127.0.0.1", port=sandbox.mail.imap_port, ssl=False, timeout=5)
        with pytest.raises(LoginError, match="AUTHENTICATIONFAILED"):
            client.oauth2_login(MAILBOX, expired["access_token"])
        client.oauth2_login(MAILBOX, fresh["access_token"])
        client.logout()


@pytest.mark.parametrize("changes, words", [
    ({"smtp_password_env": None}, 'smtp_auth = "password" needs smtp_password_env'),
    ({"smtp_auth": "oauth2", "smtp_password_env": None}, 'smtp_auth = "oauth2" needs an [email.oauth2] table'),
    ({"smtp_auth": "none"}, 'smtp_password_env is set but smtp_auth = "none" never sends a password'),
    ({**OAUTH, "oauth2": {"flow": "client_credentials", "client_id": "x"}},
     "flow 'client_credentials' needs token_url, client_secret_env"),
])
def test_the_config_says_what_an_auth_mode_needs(changes, words):
    template = read_sandbox_template(SANDBOX_TOML)
    with pytest.raises(ValidationError, match=words.replace("[", r"\[").replace("(", r"\(")):
        EmailCheck.model_validate({**template.email.model_dump(), **changes})


def example_oauth2_tables() -> list[str]:
    """The commented `[email.oauth2]` tables of config/example.toml, as a user would uncomment them."""
    lines = (ROOT / "config" / "example.toml").read_text(encoding="utf-8").splitlines()
    tables, current = [], None
    for line in lines:
        if line == "# [email.oauth2]":
            current = []
            tables.append(current)
        elif current is not None and re.match(r"# [a-z_]+ = ", line):
            current.append(line[2:])
        else:
            current = None
    return ["\n".join(table) for table in tables]


def test_every_mailbox_example_in_the_example_target_is_a_valid_table():
    tables = example_oauth2_tables()
    assert len(tables) == 3
    template = read_sandbox_template(SANDBOX_TOML)
    flows = []
    for table in tables:
        email = EmailCheck.model_validate({**template.email.model_dump(), **OAUTH, "oauth2": tomllib.loads(table)})
        flows.append(email.oauth2.flow)
    assert sorted(flows) == ["client_credentials", "google_service_account", "refresh_token"]
