"""The sandbox is made of parts, each declaring its own faults: a new part is one new module."""

import sys
import textwrap
from pathlib import Path
from types import ModuleType

import httpx
import pytest

import allclear.sandbox
from allclear.config import read_sandbox_template
from allclear.sandbox import KNOWN_FAULTS, Sandbox, parse_fault
from allclear.sandbox.parts import PartConflict, discover, lineup

SANDBOX_TOML = Path(__file__).resolve().parents[1] / "config" / "sandbox.toml"

# Today's faults, in the order `KNOWN_FAULTS` lists them (a new part's go where its ORDER puts them).
TODAYS_FAULTS = [
    "maintenance", "maintenance-for", "login-500", "agents-locked", "desktop-spinner", "desktop-slow",
    "reports-503", "reports-flaky", "reports-401", "reports-slow", "reports-silent",
    "email-no-conversation", "conversation-slow", "api-429",
    "statuspage-in-progress", "statuspage-verifying",
    "sms-maintenance-reply", "sms-not-routed", "sms-undelivered",
    "voice-busy", "voice-no-answer", "voice-maintenance-recording", "voice-error-recording", "voice-dead-air",
    "voice-greeting-then-maintenance", "voice-noise-after-greeting", "voice-second-voice", "voice-line-busy",
    "twilio-auth",
    "oauth-refused", "oauth-expired", "mail-token-refused",
    "mail-blackhole", "mail-slow", "smtp-down", "smtp-silent", "smtp-no-auth", "imap-auth",
    "dns-mx-wrong", "dns-nxdomain",
    "chat-throttled", "chat-search-off", "chat-script-404", "chat-quick-actions-fail",
    "helpcenter-maintenance", "helpcenter-hangs", "helpcenter-search-broken",
    "desk-down",
]

THROWAWAY_PART = '''
from aiohttp import web

from allclear.sandbox.platform import STATE

FAULTS = {"fax-undelivered": (None, "no text message reaches the support number")}


async def inbox(request: web.Request) -> web.Response:
    delivered = [] if request.app[STATE].faults.active("fax-undelivered") else ["Thanks for texting us"]
    return web.json_response({"messages": delivered})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/sms/inbox", inbox)
'''


def part(name: str, faults: dict) -> ModuleType:
    module = ModuleType(f"allclear.sandbox.{name}")
    module.FAULTS = faults
    return module


def test_the_parts_declare_todays_faults_in_todays_order():
    assert list(discover().faults) == TODAYS_FAULTS
    assert list(KNOWN_FAULTS) == TODAYS_FAULTS


def test_a_fault_declared_by_two_parts_is_refused_naming_both():
    first = part("sms", {"fax-undelivered": (None, "no text message arrives")})
    second = part("sms_gateway", {"fax-undelivered": (None, "the gateway drops every text")})
    both = r"'fax-undelivered' is declared by two parts: allclear\.sandbox\.sms and allclear\.sandbox\.sms_gateway"
    with pytest.raises(PartConflict, match=both):
        lineup([first, second])


def test_a_part_without_an_order_comes_after_todays():
    parts = lineup([*discover().modules, part("aaa_first_by_name", {"fax-undelivered": (None, "")})])
    assert list(parts.faults)[-1] == "fax-undelivered"


@pytest.fixture
def throwaway_part(tmp_path, monkeypatch):
    """A part written as a new module of the sandbox package, and nothing else edited."""
    (tmp_path / "throwaway_sms.py").write_text(textwrap.dedent(THROWAWAY_PART))
    monkeypatch.setattr(allclear.sandbox, "__path__", [*allclear.sandbox.__path__, str(tmp_path)])
    yield
    sys.modules.pop("allclear.sandbox.throwaway_sms", None)
    vars(allclear.sandbox).pop("throwaway_sms", None)


def test_a_new_part_module_is_served_and_its_fault_switched(throwaway_part):
    with Sandbox(read_sandbox_template(SANDBOX_TOML), environ={}) as sandbox, \
            httpx.Client(base_url=sandbox.url) as http:
        assert http.get("/sms/inbox").json() == {"messages": ["Thanks for texting us"]}
        switched = http.post("/_sandbox/faults", json={"faults": ["fax-undelivered", "reports-503"]})
        assert switched.status_code == 200, switched.text
        assert switched.json() == {"faults": ["fax-undelivered", "reports-503"]}
        assert http.get("/sms/inbox").json() == {"messages": []}
        assert http.get("/login").status_code == 200


def test_a_new_part_fault_can_be_on_from_the_start(throwaway_part):
    with Sandbox(read_sandbox_template(SANDBOX_TOML), faults=["fax-undelivered"], environ={}) as sandbox:
        assert httpx.get(f"{sandbox.url}/sms/inbox").json() == {"messages": []}
    assert parse_fault("fax-undelivered", sandbox.parts.faults).name == "fax-undelivered"
