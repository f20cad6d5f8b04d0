"""The email probe in-process against the sandbox's SMTP/IMAP servers."""

import imaplib

import pytest

from allclear.config import read_sandbox_template
from allclear.probes.mail import ProbeMailbox
from allclear.sandbox import Sandbox
from tests.conftest import SANDBOX_TOML


@pytest.fixture(scope="module")
def sandbox():
    environ: dict[str, str] = {}
    template = read_sandbox_template(SANDBOX_TOML)
    with Sandbox(template, environ=environ) as running:
        running.settings = template.email.model_copy(update={
            "smtp_port": running.mail.smtp_port, "imap_port": running.mail.imap_port, "reply_deadline_s": 5.0,
            "poll_interval_s": 0.5})
        running.secrets = environ
        yield running


def test_reply_matched_by_token_and_cleaned_up(sandbox):
    mailbox = ProbeMailbox(sandbox.settings, sandbox.secrets)
    seen = mailbox.await_reply(mailbox.send())
    assert seen.reply_found and seen.matched_by == "In-Reply-To"
    # IDLE, unless pymap's IDLE broke (about one run in ten) and the probe reconnected and polled, as it should
    assert seen.waited_with == "IDLE" or "reconnected, polling" in seen.notes[0]
    assert seen.reply_subject.startswith("Re: allclear post-maintenance email check allclear-")
    assert seen.cleaned_up == 1


def test_reply_with_a_rewritten_subject_is_matched_by_in_reply_to(sandbox):
    sandbox.mail.reply_subject = "Your request #1234 has been received"
    try:
        mailbox = ProbeMailbox(sandbox.settings, sandbox.secrets)
        seen = mailbox.await_reply(mailbox.send())
    finally:
        sandbox.mail.reply_subject = ""
    assert seen.reply_found and seen.matched_by == "In-Reply-To"
    assert seen.reply_subject == "Your request #1234 has been received" and seen.cleaned_up == 1


def test_a_broken_idle_session_reconnects_and_polls(sandbox, monkeypatch):
    """Seen with pymap about once in ten runs: IDLE ends in `abort: unexpected response`."""
    real_wait, broken = ProbeMailbox._wait, []

    def wait_breaking_once(self, imap, idle, seconds):
        if idle and not broken:
            broken.append(True)
            raise imaplib.IMAP4.abort("unexpected response: b'(FLAGS ())'")
        return real_wait(self, imap, idle, seconds)

    monkeypatch.setattr(ProbeMailbox, "_wait", wait_breaking_once)
    monkeypatch.setattr(sandbox.mail.faults, "active", lambda name: name == "mail-slow")
    monkeypatch.setattr(sandbox.mail.faults, "arg", lambda name, default=0: 1.0 if name == "mail-slow" else default)
    mailbox = ProbeMailbox(sandbox.settings, sandbox.secrets)
    seen = mailbox.await_reply(mailbox.send())
    assert broken and seen.reply_found and seen.waited_with.startswith("polling")
    assert "reconnected, polling" in seen.notes[0]
