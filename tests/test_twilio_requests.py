"""Every request the voice and SMS probes make through the twilio SDK is one Twilio's OpenAPI spec
defines: its path and method, only parameters the spec names, and the required ones (checked against
the spec extract in tests/data, which a test keeps equal to the spec)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from twilio.rest import Client

from allclear.config import read_sandbox_template
from allclear.probes.sms import SupportText
from allclear.probes.twilio_client import RebasedHttpClient
from allclear.probes.voice import SupportLineCall
from allclear.sandbox import Sandbox
from tests.conftest import SANDBOX_TOML
from tests.test_sandbox_voice import EXTRACT


class RecordingHttpClient(RebasedHttpClient):
    """Rebased to the sandbox, and keeps (method, path, query names, form names) of each request."""

    def __init__(self, base_url: str):
        super().__init__(base_url)
        self.sent: list[tuple[str, str, set[str], set[str]]] = []

    def request(self, method, url, params=None, data=None, *args, **kwargs):
        self.sent.append((method.upper(), urlsplit(url).path, set(params or {}), set(data or {})))
        return super().request(method, url, params, data, *args, **kwargs)


def operation_of(method: str, path: str) -> tuple[str, dict]:
    for name, operation in EXTRACT["operations"].items():
        pattern = re.sub(r"\{\w+\}", r"[^/]+", re.escape(operation["path"]).replace(r"\{", "{").replace(r"\}", "}"))
        if operation["method"] == method and re.fullmatch(pattern, path):
            return name, operation
    raise AssertionError(f"{method} {path} is not an operation of Twilio's spec (as extracted)")


@pytest.fixture(scope="module")
def sandbox():
    environ: dict[str, str] = {}
    template = read_sandbox_template(SANDBOX_TOML)
    with Sandbox(template, environ=environ) as running:
        running.template, running.environ = template, environ
        yield running


def assert_spec_requests(sent) -> set[str]:
    used = set()
    for method, path, query, form in sent:
        name, operation = operation_of(method, path)
        used.add(name)
        assert query <= set(operation["query"]), (name, query - set(operation["query"]))
        assert form <= set(operation.get("form", [])), (name, form - set(operation.get("form", [])))
        assert set(operation.get("form_required", [])) <= form, (name, operation.get("form_required"))
    return used


def test_the_voice_probe_asks_only_what_the_spec_defines(sandbox, tmp_path):
    settings = sandbox.template.voice.model_copy(update={"api_base": sandbox.url})
    token = sandbox.environ[settings.auth_token_env]
    recorder = RecordingHttpClient(sandbox.url)
    seen = SupportLineCall(Client(settings.account_sid, token, http_client=recorder), settings, tmp_path,
                           token).run(settings.lines[0])
    assert seen.hearing.decision == "greeting"
    assert {"CreateCall", "FetchCall", "ListRecording"} <= assert_spec_requests(recorder.sent)


def test_the_sms_probe_asks_only_what_the_spec_defines(sandbox):
    settings = sandbox.template.sms.model_copy(update={"api_base": sandbox.url})
    recorder = RecordingHttpClient(sandbox.url)
    client = Client(settings.account_sid, sandbox.environ[settings.auth_token_env], http_client=recorder)
    seen = SupportText(client, settings).run(settings.numbers[0])
    assert seen.expected_reply_seen
    assert assert_spec_requests(recorder.sent) == {"CreateMessage", "ListMessage", "FetchMessage"}
