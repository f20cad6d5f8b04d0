"""The sandbox's Messages API speaks Twilio: the official SDK sends a text and lists the replies, the
platform answers as its faults say, and every body and error agrees with Twilio's OpenAPI spec."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import httpx
import jsonschema
import pytest
from twilio.base.exceptions import TwilioRestException

from allclear.config import read_sandbox_template
from allclear.probes.twilio_client import twilio_client
from allclear.sandbox import Sandbox, messages, parse_fault
from tests.conftest import SANDBOX_TOML
from tests.test_sandbox_voice import ERROR_SCHEMA, EXTRACT, assert_matches_spec

OURS = "+15005550006"


@pytest.fixture(scope="module")
def sandbox():
    environ: dict[str, str] = {}
    template = read_sandbox_template(SANDBOX_TOML)
    with Sandbox(template, environ=environ) as running:
        running.sms = template.sms.model_copy(update={"api_base": running.url})
        running.token = environ[template.sms.auth_token_env]
        yield running


@pytest.fixture
def twilio(sandbox):
    sandbox.state.faults.clear()
    return twilio_client(sandbox.sms, sandbox.token)


@pytest.fixture
def api(sandbox, twilio):
    base = f"{sandbox.url}/2010-04-01/Accounts/{sandbox.sms.account_sid}"
    with httpx.Client(base_url=base, auth=(sandbox.sms.account_sid, sandbox.token)) as http:
        yield http


def support(sandbox) -> str:
    return sandbox.sms.numbers[0].number


def replies_to(twilio, support_number: str, after: datetime, wait_s: float = 2.0) -> list:
    time.sleep(wait_s)
    return twilio.messages.list(to=OURS, from_=support_number, date_sent_after=after)


def test_a_text_is_delivered_and_the_platform_auto_replies(twilio, sandbox):
    sent = twilio.messages.create(to=support(sandbox), from_=OURS, body="hello")
    assert (sent.status, sent.direction, sent.sid[:2]) == ("queued", "outbound-api", "SM")
    [reply] = replies_to(twilio, support(sandbox), sent.date_created)
    assert (reply.direction, reply.status, reply.to) == ("inbound", "received", OURS)
    assert reply.body.startswith(sandbox.sms.expected_reply)
    assert twilio.messages(sent.sid).fetch().status == "delivered"


@pytest.mark.parametrize("fault", ["sms-maintenance-reply", "maintenance"])
def test_the_maintenance_auto_reply(twilio, sandbox, fault):
    sandbox.state.faults.switch_on(parse_fault(fault))
    sent = twilio.messages.create(to=support(sandbox), from_=OURS, body="hello")
    [reply] = replies_to(twilio, support(sandbox), sent.date_created)
    assert reply.body == messages.MAINTENANCE_REPLY


def test_a_text_not_routed_gets_no_reply_and_an_undelivered_one_says_why(twilio, sandbox):
    sandbox.state.faults.switch_on(parse_fault("sms-not-routed"))
    sent = twilio.messages.create(to=support(sandbox), from_=OURS, body="hello")
    assert replies_to(twilio, support(sandbox), sent.date_created) == []
    assert twilio.messages(sent.sid).fetch().status == "delivered"
    sandbox.state.faults.clear()
    sandbox.state.faults.switch_on(parse_fault("sms-undelivered"))
    lost = twilio.messages.create(to=support(sandbox), from_=OURS, body="hello")
    time.sleep(1)
    fetched = twilio.messages(lost.sid).fetch()
    assert (fetched.status, fetched.error_code) == ("undelivered", 30005)


def test_date_sent_filters_as_twilio_documents(twilio, sandbox):
    sent = twilio.messages.create(to=support(sandbox), from_=OURS, body="hello")
    time.sleep(1)
    later = datetime.now(timezone.utc) + timedelta(seconds=5)
    assert twilio.messages.list(to=OURS, date_sent_after=later) == []
    assert any(m.to == OURS for m in twilio.messages.list(to=OURS, date_sent=sent.date_created.date()))
    assert twilio.messages.list(to=OURS, date_sent_before=sent.date_created - timedelta(days=2)) == []


def test_every_body_matches_the_spec(api, twilio, sandbox):
    created = api.post("/Messages.json", data={"To": support(sandbox), "From": OURS, "Body": "hi"})
    assert created.status_code == 201
    assert_matches_spec("CreateMessage", created.json())
    time.sleep(1.2)
    assert_matches_spec("FetchMessage", api.get(f"/Messages/{created.json()['sid']}.json").json())
    listed = api.get("/Messages.json", params={"To": OURS, "DateSent>": "2020-01-01"}).json()
    assert_matches_spec("ListMessage", listed)
    assert listed["messages"] and all(m["to"] == OURS for m in listed["messages"])


@pytest.mark.parametrize("form, status, code", [
    ({"From": OURS, "Body": "x"}, 400, 21604),
    ({"To": "+14155550110", "Body": "x"}, 400, 21603),
    ({"To": "+14155550110", "From": OURS}, 400, 21602),
    ({"To": "+14155550110", "From": "+14155550123", "Body": "x"}, 400, 21606),
    ({"To": "4155550110", "From": OURS, "Body": "x"}, 400, 21211),
    ({"To": "+14155550110", "From": OURS, "Body": "x" * 1601}, 400, 21617),
])
def test_errors_are_twilios(api, form, status, code):
    refused = api.post("/Messages.json", data=form)
    jsonschema.validate(refused.json(), ERROR_SCHEMA)
    assert (refused.status_code, refused.json()["code"]) == (status, code)


def test_wrong_credentials_are_refused_like_twilio(sandbox):
    client = twilio_client(sandbox.sms, "0" * 32)
    with pytest.raises(TwilioRestException) as refused:
        client.messages.create(to=support(sandbox), from_=OURS, body="hello")
    assert (refused.value.status, refused.value.code) == (401, 20003)


def test_the_sandbox_reads_only_params_twilio_defines():
    create, listing = EXTRACT["operations"]["CreateMessage"], EXTRACT["operations"]["ListMessage"]
    assert set(messages.CREATE_PARAMS) <= set(create["form"])
    assert set(create["form_required"]) <= set(messages.CREATE_PARAMS)
    assert set(messages.LIST_QUERY) <= set(listing["query"])
