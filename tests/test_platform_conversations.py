"""The conversations probe against the sandbox's conversations part, over HTTP.

It takes only the conversation holding this run's token, waits for a slow one, says what it found
instead, keeps under the vendor's rate limit and backs off from 429s, and labels the conversation
as a test (read back over the API).
"""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from email.utils import make_msgid
from pathlib import Path

import httpx
import pytest

from allclear.config import read_sandbox_template
from allclear.probes.errors import CredentialsRejected
from allclear.probes.platform_conversations import ConversationApiUnreachable, PlatformConversations
from allclear.sandbox import Sandbox, parse_fault
from allclear.sandbox.conversations import CONVERSATIONS, ConversationsState, record_inbound_email

SANDBOX_TOML = Path(__file__).resolve().parents[1] / "config" / "sandbox.toml"
API_USER = "reports-api@sandbox.allclear.test"
PROBE = "probe@sandbox.allclear.test"
SUPPORT = "support@sandbox.allclear.test"
NOTE = "allclear post-maintenance test message: no action needed"


@contextmanager
def running(*faults: str) -> Iterator[Sandbox]:
    environ: dict[str, str] = {}
    with Sandbox(read_sandbox_template(SANDBOX_TOML), faults=list(faults), environ=environ) as sandbox:
        sandbox.environ = environ
        yield sandbox


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with running() as started:
        yield started


def probe(sandbox: Sandbox, token: str | None = None) -> PlatformConversations:
    return PlatformConversations(f"{sandbox.url}/api/v1", API_USER,
                                 token or sandbox.environ["ALLCLEAR_SANDBOX_API_TOKEN"], timeout_s=5)


def api(sandbox: Sandbox) -> httpx.Client:
    return httpx.Client(base_url=f"{sandbox.url}/api/v1",
                        auth=(API_USER, sandbox.environ["ALLCLEAR_SANDBOX_API_TOKEN"]), timeout=5)


def new_token() -> str:
    return f"allclear-{uuid.uuid4().hex[:12]}"


def email(sandbox: Sandbox, token: str, sender: str = PROBE) -> None:
    """What the mail part reports when the support address receives the probe's message."""
    record_inbound_email(sandbox.app, sender, SUPPORT, f"allclear post-maintenance email check {token}",
                         f"Automated check after a maintenance window.\nToken: {token}\n", make_msgid())


def state(sandbox: Sandbox) -> ConversationsState:
    return sandbox.app[CONVERSATIONS]


def conversation_with(sandbox: Sandbox, token: str) -> str:
    """The sandbox's own record of which conversation holds the token (not through the API)."""
    return next(c.id for c in state(sandbox).conversations.values()
                if any(token in item["content"].get("subject", "") for item in c.items))


def test_finds_only_the_conversation_holding_this_runs_token(sandbox):
    earlier, ours, later = new_token(), new_token(), new_token()
    sent_at = datetime.now(timezone.utc)
    for token in (earlier, ours, later):            # the newest one is not ours, nor the oldest
        email(sandbox, token)
        time.sleep(0.01)                            # created in distinct milliseconds, so newest is plain
    with probe(sandbox) as client:
        seen = client.await_conversation(PROBE, ours, sent_at, deadline_s=5, poll_interval_s=0.2)
    assert seen.found, seen.problem
    assert seen.sighting.conversation_id == conversation_with(sandbox, ours)
    assert seen.sighting.conversation_id not in (conversation_with(sandbox, earlier), conversation_with(sandbox, later))
    customer = next(iter(state(sandbox).customers.values()))
    assert (seen.sighting.customer_id, seen.sighting.status) == (customer.id, "OPEN")
    assert datetime.fromisoformat(seen.sighting.created_at) >= sent_at.replace(microsecond=0)
    assert seen.sighting.lookups == seen.lookups >= 3 and seen.sighting.rate_limited == 0
    assert [step.status for step in seen.steps] == ["passed"]


def test_the_token_from_another_sender_is_not_taken(sandbox):
    ours = new_token()
    email(sandbox, ours, sender="Someone Else <someone@customer.example.test>")
    with probe(sandbox) as client:
        seen = client.await_conversation(PROBE, ours, datetime.now(timezone.utc), deadline_s=0.8, poll_interval_s=0.2)
    assert not seen.found and seen.sighting is None
    assert f"no conversation with token {ours} for customer {PROBE}: no customer with email {PROBE}" in seen.problem


def test_an_email_that_never_becomes_a_conversation_says_what_was_there(sandbox):
    email(sandbox, new_token())                               # an earlier run's conversation
    sandbox.state.faults.switch_on(parse_fault("email-no-conversation"))
    ours = new_token()
    email(sandbox, ours)
    with probe(sandbox) as client:
        seen = client.await_conversation(PROBE, ours, datetime.now(timezone.utc), deadline_s=1, poll_interval_s=0.2)
    assert not seen.found
    customer = next(iter(state(sandbox).customers))
    assert (f"no conversation with token {ours} for customer {PROBE}: customer found (id {customer}), "
            "1 conversation(s)") in seen.problem
    assert "none holds the token" in seen.problem and seen.polls >= 2
    assert [(step.status, step.problem) for step in seen.steps] == [("failed", seen.problem)]


def test_a_slow_conversation_is_found_once_it_shows_and_not_before():
    with running("conversation-slow:1") as sandbox:
        ours = new_token()
        sent_at = datetime.now(timezone.utc)
        email(sandbox, ours)
        with probe(sandbox) as client:
            early = client.await_conversation(PROBE, ours, sent_at, deadline_s=0.3, poll_interval_s=0.1)
            later = client.await_conversation(PROBE, ours, sent_at, deadline_s=5, poll_interval_s=0.2)
    assert not early.found and f"no customer with email {PROBE}" in early.problem
    assert later.found, later.problem
    assert (later.sighting.seen_at - sent_at).total_seconds() >= 0.9
    assert later.sighting.conversation_id == conversation_with(sandbox, ours)


def test_429s_are_backed_off_and_the_rate_limit_is_kept():
    with running("api-429:3") as sandbox:
        ours = new_token()
        email(sandbox, ours)
        sent_at = datetime.now(timezone.utc)
        with probe(sandbox) as client:
            seen = client.await_conversation(PROBE, ours, sent_at, deadline_s=10, poll_interval_s=0.2)
        assert seen.found, seen.problem
        assert seen.rate_limited >= 3 and seen.sighting.rate_limited >= 3
        # it waited between tries: at least half of each exponential step (1/8 + 1/4 + 1/2 s)
        assert (seen.sighting.seen_at - sent_at).total_seconds() >= 0.85
        assert state(sandbox).answered_429 == 3
        assert state(sandbox).max_in_any_second() <= 10


def test_polling_flat_out_stays_under_ten_requests_a_second(sandbox):
    for _ in range(6):                       # open conversations the probe reads each look, none of them ours
        email(sandbox, new_token())
    with probe(sandbox) as client:
        seen = client.await_conversation(PROBE, new_token(), datetime.now(timezone.utc), deadline_s=4,
                                         poll_interval_s=0)
    assert not seen.found and seen.lookups > 10          # it did push: more than a second's allowance
    assert state(sandbox).requests["GET"] == seen.lookups
    assert state(sandbox).max_in_any_second() <= 10 and state(sandbox).answered_429 == 0


def test_the_sandbox_answers_429_with_the_vendors_headers_beyond_ten_a_second(sandbox):
    with api(sandbox) as http:
        answers = [http.get("/customer-profiles", params={"email": PROBE}) for _ in range(40)]
    refused = [answer for answer in answers if answer.status_code == 429]
    assert refused, "40 requests in a row never met the limit"
    assert refused[0].headers["Ratelimit-Limit-Second"] == "10"
    assert refused[0].headers["Ratelimit-Remaining-Second"] == "0"
    assert refused[0].json()["errors"][0]["code"] == "rate_limited"
    assert state(sandbox).answered_429 == len(refused)
    assert answers[0].status_code == 200 and answers[0].headers["Ratelimit-Remaining-Second"] == "9"


def test_the_api_keeps_the_vendors_shapes(sandbox):
    ours = new_token()
    email(sandbox, ours)
    with api(sandbox) as http:
        customers = http.get("/customer-profiles", params={"email": PROBE.upper()}).json()
        conversations = http.get(f"/customers/{customers[0]['id']}/conversations").json()
        items = http.get(f"/conversations/{conversations[0]['id']}/items").json()
        missing = http.get("/conversations/nope/items")
        two_ids = http.get("/customer-profiles", params={"email": PROBE, "phoneNumber": "+14155550100"})
        anonymous = httpx.get(f"{sandbox.url}/api/v1/customer-profiles", params={"email": PROBE})
    assert customers[0]["emails"] == [{"original": PROBE, "normalized": PROBE, "primary": True}]
    assert {"id", "name", "createdAt", "updatedAt"} <= set(customers[0])
    assert {"id", "customerId", "createdAt", "inboxId", "status"} <= set(conversations[0])
    assert conversations[0]["status"] == "OPEN" and conversations[0]["customerId"] == customers[0]["id"]
    assert items[0]["content"] == {"type": "EMAIL", "from": PROBE, "to": [SUPPORT],
                                   "subject": f"allclear post-maintenance email check {ours}",
                                   "content": f"Automated check after a maintenance window.\nToken: {ours}\n"}
    assert items[0]["initiator"] == {"id": customers[0]["id"], "type": "CUSTOMER"}
    assert {"id", "conversationId", "customerId", "timestamp"} <= set(items[0])
    assert (missing.status_code, missing.json()["errors"][0]["code"]) == (404, "not_exist")
    assert two_ids.status_code == 400 and set(two_ids.json()["errors"][0]) == {"code", "detail"}
    assert anonymous.status_code == 401 and anonymous.json()["errors"][0]["code"] == "unauthorized"


def test_a_wrong_api_token_is_our_side(sandbox):
    ours = new_token()
    email(sandbox, ours)
    with probe(sandbox, token="not-the-token") as client:
        with pytest.raises(CredentialsRejected, match="HTTP 401"):
            client.await_conversation(PROBE, ours, datetime.now(timezone.utc), deadline_s=3, poll_interval_s=0.2)
        done = client.label_as_test(conversation_with(sandbox, ours), NOTE, close=True)
    assert len(done) == 2 and all(line.startswith("could not") and "HTTP 401" in line for line in done)


def test_an_unreachable_api_is_our_side():
    with socket.socket() as spare:
        spare.bind(("127.0.0.1", 0))
        port = spare.getsockname()[1]
    with PlatformConversations(f"http://127.0.0.1:{port}/api/v1", API_USER, "token", timeout_s=1) as client:
        with pytest.raises(ConversationApiUnreachable, match="connection refused"):
            client.await_conversation(PROBE, new_token(), datetime.now(timezone.utc), deadline_s=0.8,
                                      poll_interval_s=0.2)


def test_rate_limited_until_the_deadline_is_our_side_not_a_missing_conversation():
    """Other clients of the organisation may spend its allowance: no look made is no verdict."""
    with running("api-429:1000") as sandbox, probe(sandbox) as client:
        with pytest.raises(ConversationApiUnreachable, match=r"before the deadline: rate limited \(HTTP 429\)"):
            client.await_conversation(PROBE, new_token(), datetime.now(timezone.utc), deadline_s=1.5,
                                      poll_interval_s=0.2)


def test_an_api_in_maintenance_is_told_in_the_problem():
    with running("maintenance") as sandbox, probe(sandbox) as client:
        seen = client.await_conversation(PROBE, new_token(), datetime.now(timezone.utc), deadline_s=0.8,
                                         poll_interval_s=0.2)
    assert not seen.found and "GET /customer-profiles: HTTP 503" in seen.problem and seen.polls >= 2


def test_stop_ends_the_wait_early(sandbox):
    stop = threading.Event()
    threading.Timer(0.3, stop.set).start()
    started = time.monotonic()
    with probe(sandbox) as client:
        seen = client.await_conversation(PROBE, new_token(), datetime.now(timezone.utc), deadline_s=30,
                                         poll_interval_s=0.2, stop=stop)
    assert not seen.found and "asked to stop" in seen.problem
    assert time.monotonic() - started < 10


def test_label_as_test_adds_the_note_and_closes_the_conversation(sandbox):
    ours, kept_open = new_token(), new_token()
    email(sandbox, ours)
    email(sandbox, kept_open)
    with probe(sandbox) as client:
        seen = client.await_conversation(PROBE, ours, datetime.now(timezone.utc), deadline_s=5, poll_interval_s=0.2)
        closing = client.label_as_test(seen.sighting.conversation_id, NOTE, close=True)
        noting = client.label_as_test(conversation_with(sandbox, kept_open), NOTE, close=False)
        missing = client.label_as_test("no-such-conversation", NOTE, close=True)
    closed_id, open_id = seen.sighting.conversation_id, conversation_with(sandbox, kept_open)
    assert closing == [f"added a note to conversation {closed_id}", f"closed conversation {closed_id}"]
    assert noting == [f"added a note to conversation {open_id}"]
    assert missing[0].startswith("could not add a note to conversation no-such-conversation: HTTP 404: not_exist")
    with api(sandbox) as http:
        closed = http.get(f"/conversations/{closed_id}").json()
        still_open = http.get(f"/conversations/{open_id}").json()
        items = http.get(f"/conversations/{closed_id}/items").json()
    assert closed["status"] == "CLOSED" and "closedAt" in closed
    assert still_open["status"] == "OPEN" and "closedAt" not in still_open
    assert [item["content"]["type"] for item in items] == ["EMAIL", "CONVERSATION_NOTE", "CONVERSATION_STATUS_CHANGE"]
    assert items[1]["content"]["body"] == NOTE and items[1]["initiator"]["type"] == "API"


def test_the_sandbox_refuses_to_close_a_waiting_conversation_without_force(sandbox):
    """Why the probe closes with `force`: its own email waits for a reply, and the vendor says so."""
    ours = new_token()
    email(sandbox, ours)
    with api(sandbox) as http:
        refused = http.patch(f"/conversations/{conversation_with(sandbox, ours)}", json={"status": {"value": "CLOSED"}})
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["code"] == "invalid_state"
    assert "status.force" in refused.json()["errors"][0]["detail"]
