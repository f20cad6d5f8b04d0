"""Escalation: each sink's exact requests against a local receiver, dedup and resolve across runs,
retries and loud failure when a sink is down, dry runs, and no secret where it does not belong."""

from __future__ import annotations

import base64
import email
import email.policy
import hashlib
import hmac
import json
import socket
import sqlite3
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from aiosmtpd.controller import Controller

from allclear.config import Secrets, Target
from allclear.escalation.courier import LiveCourier
from allclear.escalation.dispatch import escalate, resolve_mode
from allclear.escalation.jira import adf
from allclear.grading import ProbeResult, summarize_item
from allclear.verdict import EXIT_ESCALATION_FAILED, RunVerdict

SECRETS = {"PD_KEY": "pd-routing-key-0123456789abcdef", "JIRA_TOKEN": "jira-token-secret-value",
           "ZD_TOKEN": "zendesk-token-secret-value", "HOOK_SECRET": "webhook-hmac-secret-value",
           "SMTP_PASSWORD": "smtp-password-secret-value"}
START = datetime(2026, 11, 23, 22, 0, tzinfo=timezone.utc)


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self):
        return json.loads(self.body)


@dataclass
class Receiver:
    """A local HTTP server that records every request and answers from a script (default: success)."""

    url: str = ""
    requests: list[Seen] = field(default_factory=list)
    failures: list[int] = field(default_factory=list)    # statuses to answer first, one per request
    failing_paths: dict[str, int] = field(default_factory=dict)   # a path ending -> the status it answers
    zendesk_tickets: list[dict] = field(default_factory=list)     # what GET /api/v2/tickets?external_id= finds
    jira_issues: list[dict] = field(default_factory=list)         # what GET /rest/api/3/search/jql finds

    def answer(self, seen: Seen) -> tuple[int, object]:
        if self.failures:
            return self.failures.pop(0), {"error": "scripted failure"}
        path = seen.path.split("?")[0]
        for ending, status in self.failing_paths.items():
            if path.endswith(ending):
                return status, {"errorMessages": ["scripted failure"]}
        if seen.method == "GET" and path == "/api/v2/tickets":
            wanted = parse_qs(urlsplit(seen.path).query)["external_id"][0]
            found = [t for t in self.zendesk_tickets if t["external_id"] == wanted]
            return 200, {"tickets": found, "next_page": None, "previous_page": None, "count": len(found)}
        if seen.method == "GET" and path == "/rest/api/3/search/jql":
            jql = parse_qs(urlsplit(seen.path).query)["jql"][0]
            found = [i for i in self.jira_issues
                     if f'labels = "{i["label"]}"' in jql and "statusCategory != Done" in jql and i["status"] != "Done"]
            return 200, {"issues": [{"id": i["id"], "key": i["key"], "fields": {}} for i in found], "isLast": True}
        if path.endswith("/v2/enqueue"):
            return 202, {"status": "success", "message": "Event processed", "dedup_key": seen.json.get("dedup_key")}
        if path == "/rest/api/3/issue":
            return 201, {"id": "10007", "key": "OPS-7", "self": f"{self.url}/rest/api/3/issue/10007"}
        if path.endswith("/attachments"):
            return 200, [{"id": "1", "filename": "report.html"}]
        if path.endswith("/comment"):
            return 201, {"id": "100"}
        if path == "/api/v2/uploads":
            return 201, {"upload": {"token": "upload-token-1", "attachment": {"file_name": "report.html"}}}
        if path == "/api/v2/tickets":
            return 201, {"ticket": {"id": 35, "status": "new"}}
        if path.startswith("/api/v2/tickets/"):
            return 200, {"ticket": {"id": 35}}
        if path.startswith("/slack/"):
            return 200, "ok"
        return 200, {}

    def to(self, path_prefix: str) -> list[Seen]:
        return [r for r in self.requests if r.path.startswith(path_prefix)]


@pytest.fixture
def receiver():
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def _any(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            seen = Seen(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
            state.requests.append(seen)
            status, answer = state.answer(seen)
            text = answer if isinstance(answer, str) else json.dumps(answer)
            self.send_response(status)
            self.send_header("Content-Type", "text/plain" if isinstance(answer, str) else "application/json")
            self.send_header("Content-Length", str(len(text.encode())))
            self.end_headers()
            self.wfile.write(text.encode())

        do_GET = do_POST = do_PUT = _any

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


@dataclass
class Mailbox:
    messages: list[email.message.EmailMessage] = field(default_factory=list)
    port: int = 0

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 OK"


@pytest.fixture
def smtp():
    box = Mailbox()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        box.port = probe.getsockname()[1]
    controller = Controller(box, hostname="127.0.0.1", port=box.port)
    controller.start()
    yield box
    controller.stop()


def make_target(receiver: Receiver, sinks: list[str] | None = None, smtp_port: int = 0, **changes) -> Target:
    every = {
        "pagerduty": {"type": "pagerduty", "url": f"{receiver.url}/v2/enqueue", "routing_key_env": "PD_KEY",
                      "deadline_s": 5},
        "jira": {"type": "jira", "site": receiver.url, "user": "bot@example.com", "api_token_env": "JIRA_TOKEN",
                 "project": "OPS", "deadline_s": 5},
        "zendesk": {"type": "zendesk", "url": receiver.url, "user": "bot@example.com", "api_token_env": "ZD_TOKEN",
                    "deadline_s": 5},
        "slack": {"type": "slack", "webhook_url_env": "SLACK_URL", "deadline_s": 5, "ops": True},
        "webhook": {"type": "webhook", "url": f"{receiver.url}/hook", "secret_env": "HOOK_SECRET", "deadline_s": 5},
        "email": {"type": "email", "to": ["support@vendor.example.test"], "from_address": "ops@example.test",
                  "smtp_host": "127.0.0.1", "smtp_port": smtp_port, "smtp_security": "plain",
                  "smtp_user": "ops", "smtp_password_env": None, "deadline_s": 5},
    }
    raw = {"name": "t", "time_zone": "America/Los_Angeles",
           "login": {"url": "https://org.example.test/login"},
           "escalation": {"sinks": [every[name] for name in (list(every) if sinks is None else sinks)], **changes}}
    return Target.model_validate(raw)


def secrets_for(receiver: Receiver) -> Secrets:
    return Secrets({**SECRETS, "SLACK_URL": f"{receiver.url}/slack/T000/B000/slack-url-secret-part"})


def login_verdict(failed: int, of: int = 10, when: datetime = START, inconclusive: int = 0,
                  observed: str = "sign-in refused: account locked") -> RunVerdict:
    probes = []
    for n in range(of):
        outcome = "failed" if n < failed else "inconclusive" if n < failed + inconclusive else "passed"
        agent = f"agent{n + 1:02d}@example.test"
        probes.append(ProbeResult(
            "login", agent, outcome, finished_at=when.isoformat(),
            message="sign-in refused" if outcome == "failed" else "could not verify: browser" if outcome != "passed"
            else "",
            expected=f"{agent} signed in" if outcome == "failed" else "",
            observed=observed if outcome == "failed" else "",
            evidence=[f"evidence/login/{agent}/screenshot.png"] if outcome == "failed" else []))
    from allclear.config import Grading
    item = summarize_item("login", "Every agent can log in and set a status", probes, Grading())
    return RunVerdict.of([item], target="t", started_at=when - timedelta(seconds=30), finished_at=when,
                         window_end=when - timedelta(minutes=20), window_end_source="--window-end", faults=[])


def run(verdict, target, receiver, reports: Path, mode="send", report: Path | None = None, **kwargs):
    courier = LiveCourier(secrets_for(receiver), sleep=lambda s: None)
    kwargs.setdefault("report_url", "")
    return escalate(verdict, target, secrets_for(receiver), reports, mode, report_path=report,
                    courier=None if mode == "dry-run" else courier, **kwargs)


@pytest.fixture
def report_file(tmp_path) -> Path:
    path = tmp_path / "allclear-report.html"
    path.write_text("<html><body>the single-file report</body></html>")
    return path


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


# --- each sink's exact requests ------------------------------------------------------------------

def test_pagerduty_trigger_then_resolve(receiver, tmp_path):
    target = make_target(receiver, ["pagerduty"])
    run(login_verdict(4), target, receiver, tmp_path)
    run(login_verdict(0, when=START + timedelta(minutes=15)), target, receiver, tmp_path)

    trigger, resolve = receiver.to("/v2/enqueue")
    assert trigger.method == "POST" and trigger.headers["content-type"] == "application/json"
    event = trigger.json
    assert set(event) == {"routing_key", "event_action", "dedup_key", "payload", "client"}
    assert (event["routing_key"], event["event_action"], event["dedup_key"]) == (SECRETS["PD_KEY"], "trigger",
                                                                                  "allclear/t/login")
    payload = event["payload"]
    assert payload["severity"] == "critical" and payload["summary"].startswith("[P1] t: Agent login: 4 of 10")
    assert (payload["source"], payload["component"], payload["group"]) == ("t", "login", "t")
    assert payload["timestamp"] == "2026-11-23T22:00:00+00:00"
    assert payload["custom_details"]["affected"] == "4 of 10 agents (40%)"
    assert resolve.json == {"routing_key": SECRETS["PD_KEY"], "event_action": "resolve",
                            "dedup_key": "allclear/t/login"}


def test_pagerduty_links_the_report_when_it_has_a_url(receiver, tmp_path):
    run(login_verdict(4), make_target(receiver, ["pagerduty"]), receiver, tmp_path,
        report_url="https://ci.example.test/runs/42")
    event = receiver.to("/v2/enqueue")[0].json
    assert event["links"] == [{"href": "https://ci.example.test/runs/42", "text": "Go checklist report"}]
    assert event["client_url"] == "https://ci.example.test/runs/42"


def test_jira_creates_an_issue_attaches_the_report_and_comments(receiver, tmp_path, report_file):
    target = make_target(receiver, ["jira"])
    run(login_verdict(4), target, receiver, tmp_path, report=report_file)
    search, create, attach = receiver.requests
    assert (search.method, search.path.split("?")[0]) == ("GET", "/rest/api/3/search/jql")
    assert parse_qs(urlsplit(search.path).query) == {
        "jql": ['labels = "allclear-t-login" AND statusCategory != Done'], "fields": ["key"], "maxResults": ["10"]}
    assert (create.method, create.path) == ("POST", "/rest/api/3/issue")
    assert create.headers["authorization"] == basic("bot@example.com", SECRETS["JIRA_TOKEN"])
    assert create.headers["accept"] == "application/json"
    fields = create.json["fields"]
    assert fields["project"] == {"key": "OPS"} and fields["issuetype"] == {"name": "Bug"}
    assert fields["priority"] == {"name": "Highest"} and fields["labels"] == ["allclear", "allclear-t-login"]
    assert fields["summary"].startswith("[P1] t: Agent login")
    assert fields["description"]["type"] == "doc" and fields["description"]["version"] == 1
    assert (attach.method, attach.path) == ("POST", "/rest/api/3/issue/OPS-7/attachments")
    assert attach.headers["x-atlassian-token"] == "no-check"
    assert attach.headers["content-type"].startswith("multipart/form-data")
    assert b'name="file"; filename="allclear-report-t.html"' in attach.body and b"the single-file report" in attach.body

    run(login_verdict(2, when=START + timedelta(minutes=15)), target, receiver, tmp_path, report=report_file)
    comment = receiver.requests[3]            # after the search, the issue and its attachment
    assert (comment.method, comment.path) == ("POST", "/rest/api/3/issue/OPS-7/comment")
    assert comment.json["body"]["type"] == "doc"


def test_a_report_that_cannot_be_attached_does_not_lose_the_issue(receiver, tmp_path, report_file):
    receiver.failing_paths = {"/attachments": 413, "/api/v2/uploads": 413}
    report = run(login_verdict(4), make_target(receiver, ["jira", "zendesk"]), receiver, tmp_path, report=report_file)
    jira, zendesk = report.deliveries
    assert jira.status == "sent" and jira.detail.startswith("OPS-7 (but attaching the report failed: ")
    assert zendesk.status == "sent" and zendesk.detail.startswith("35 (but uploading the report failed: ")
    created = next(r for r in receiver.to("/api/v2/tickets") if r.method == "POST")
    assert created.json["ticket"]["comment"]["uploads"] == []


def test_adf_keeps_headings_lists_and_bold():
    doc = adf("## Agent login\n\n**Affected:** 4 of 10\n- one\n- two\n1. step")
    kinds = [node["type"] for node in doc["content"]]
    assert kinds == ["heading", "paragraph", "bulletList", "orderedList"]
    assert doc["content"][1]["content"][0] == {"type": "text", "text": "Affected:", "marks": [{"type": "strong"}]}
    assert len(doc["content"][2]["content"]) == 2


def test_zendesk_uploads_the_report_then_opens_a_ticket_with_it_and_solves_it(receiver, tmp_path, report_file):
    target = make_target(receiver, ["zendesk"])
    run(login_verdict(3), target, receiver, tmp_path, report=report_file)
    search, upload, create = receiver.requests
    assert (search.method, search.path) == ("GET", "/api/v2/tickets?external_id=allclear%2Ft%2Flogin")
    assert (upload.method, upload.path) == ("POST", "/api/v2/uploads?filename=allclear-report-t.html")
    assert upload.headers["content-type"] == "text/html" and upload.body == report_file.read_bytes()
    assert upload.headers["authorization"] == basic("bot@example.com/token", SECRETS["ZD_TOKEN"])
    assert (create.method, create.path) == ("POST", "/api/v2/tickets")
    ticket = create.json["ticket"]
    assert ticket["comment"]["uploads"] == ["upload-token-1"] and ticket["priority"] == "urgent"
    assert ticket["type"] == "incident" and ticket["external_id"] == "allclear/t/login"
    assert "Steps to reproduce" in ticket["comment"]["body"]

    run(login_verdict(0, when=START + timedelta(minutes=15)), target, receiver, tmp_path, report=report_file)
    solve = receiver.requests[-1]
    assert (solve.method, solve.path) == ("PUT", "/api/v2/tickets/35")
    assert solve.json["ticket"]["status"] == "solved" and "passes again" in solve.json["ticket"]["comment"]["body"]


def test_p2_maps_to_high_priorities(receiver, tmp_path):
    run(login_verdict(2), make_target(receiver, ["zendesk", "jira", "pagerduty"]), receiver, tmp_path)
    created = [r for r in receiver.requests if r.method == "POST"]
    assert next(r for r in created if r.path == "/api/v2/tickets").json["ticket"]["priority"] == "high"
    assert next(r for r in created if r.path == "/rest/api/3/issue").json["fields"]["priority"] == {"name": "High"}
    assert receiver.to("/v2/enqueue")[0].json["payload"]["severity"] == "error"


def test_slack_posts_a_short_message(receiver, tmp_path):
    run(login_verdict(4), make_target(receiver, ["slack"]), receiver, tmp_path, report_url="https://ci/42")
    (post,) = receiver.requests
    assert (post.method, post.path) == ("POST", "/slack/T000/B000/slack-url-secret-part")
    body = post.json
    assert set(body) == {"text", "blocks"} and "[P1] t: Agent login" in body["text"]
    assert body["blocks"][0]["type"] == "section" and body["blocks"][0]["text"]["type"] == "mrkdwn"
    assert "NO-GO" in body["blocks"][0]["text"]["text"]
    assert body["blocks"][1] == {"type": "context", "elements": [{"type": "mrkdwn", "text": "Report: https://ci/42"}]}


def test_webhook_body_is_signed(receiver, tmp_path):
    run(login_verdict(4), make_target(receiver, ["webhook"]), receiver, tmp_path)
    (post,) = receiver.requests
    expected = "sha256=" + hmac.new(SECRETS["HOOK_SECRET"].encode(), post.body, hashlib.sha256).hexdigest()
    assert post.headers["x-allclear-signature"] == expected
    event = post.json
    assert (event["event"], event["action"], event["grade"], event["item"]) == ("allclear.escalation", "open",
                                                                                 "P1", "login")
    assert event["failing_probes"][0]["observed"] == "sign-in refused: account locked"


def test_email_carries_the_report_and_threads_the_resolution(receiver, smtp, tmp_path, report_file):
    target = make_target(receiver, ["email"], smtp_port=smtp.port)
    run(login_verdict(4), target, receiver, tmp_path, report=report_file)
    run(login_verdict(0, when=START + timedelta(minutes=15)), target, receiver, tmp_path, report=report_file)
    opened, resolved = smtp.messages
    assert opened["To"] == "support@vendor.example.test" and opened["Subject"].startswith("[P1] t: Agent login")
    attachment = next(opened.iter_attachments())
    assert attachment.get_filename() == "allclear-report-t.html"
    assert resolved["In-Reply-To"] == opened["Message-ID"] and resolved["Subject"].startswith("Re: Resolved")


# --- dedup and resolve across runs ---------------------------------------------------------------

def test_three_runs_open_once_update_then_resolve(receiver, tmp_path, report_file):
    target = make_target(receiver, ["pagerduty", "jira", "slack"])
    first = run(login_verdict(4), target, receiver, tmp_path, report=report_file)
    second = run(login_verdict(4, when=START + timedelta(minutes=15)), target, receiver, tmp_path, report=report_file)
    third = run(login_verdict(0, when=START + timedelta(minutes=30)), target, receiver, tmp_path, report=report_file)

    assert [(d.sink, d.action, d.status) for d in first.deliveries] == [
        ("pagerduty", "open", "sent"), ("jira", "open", "sent"), ("slack", "open", "sent")]
    assert [(d.sink, d.action, d.status) for d in second.deliveries] == [
        ("pagerduty", "update", "sent"), ("jira", "update", "unchanged"), ("slack", "update", "unchanged")]
    assert [(d.sink, d.action, d.status) for d in third.deliveries] == [
        ("pagerduty", "resolve", "sent"), ("jira", "resolve", "sent"), ("slack", "resolve", "sent")]
    assert len(receiver.to("/rest/api/3/issue")) == 1 + 1 + 1 + 1   # create, attach, resolved comment, label off
    (label_off,) = [r for r in receiver.requests if r.method == "PUT" and r.path == "/rest/api/3/issue/OPS-7"]
    assert label_off.json == {"update": {"labels": [{"remove": "allclear-t-login"}]}}   # a new failure: a new issue
    assert [r.json["event_action"] for r in receiver.to("/v2/enqueue")] == ["trigger", "trigger", "resolve"]
    assert {r.json["dedup_key"] for r in receiver.to("/v2/enqueue")} == {"allclear/t/login"}
    assert len(receiver.to("/slack/")) == 2
    db = sqlite3.connect(tmp_path / "escalations.sqlite")
    assert db.execute("SELECT runs, resolved_at IS NOT NULL FROM escalations").fetchall() == [(2, 1)]


def test_a_changed_failure_updates_on_change_sinks(receiver, tmp_path):
    target = make_target(receiver, ["jira"])
    run(login_verdict(4), target, receiver, tmp_path)
    report = run(login_verdict(5, when=START + timedelta(minutes=15)), target, receiver, tmp_path)
    assert [(d.action, d.status) for d in report.deliveries] == [("update", "sent")]
    assert receiver.requests[-1].path == "/rest/api/3/issue/OPS-7/comment"


def test_a_failure_below_p2_does_not_escalate(receiver, tmp_path):
    report = run(login_verdict(1), make_target(receiver), receiver, tmp_path)
    assert report.deliveries == [] and receiver.requests == []
    assert "No vendor ticket" in (tmp_path / "ticket.md").read_text()


def test_inconclusive_goes_to_ops_sinks_only_and_does_not_resolve_a_failure(receiver, tmp_path):
    target = make_target(receiver, ["pagerduty", "slack"])   # slack is the ops sink here
    run(login_verdict(4), target, receiver, tmp_path)
    report = run(login_verdict(0, inconclusive=10, when=START + timedelta(minutes=15)), target, receiver, tmp_path)
    assert [(d.sink, d.kind, d.action) for d in report.deliveries] == [("slack", "inconclusive", "open")]
    assert "could not verify" in receiver.to("/slack/")[-1].json["text"]
    db = sqlite3.connect(tmp_path / "escalations.sqlite")
    assert db.execute("SELECT kind FROM escalations WHERE resolved_at IS NULL ORDER BY id").fetchall() == [
        ("failure",), ("inconclusive",)]


# --- a sink that is down -------------------------------------------------------------------------

def test_a_flapping_sink_is_retried_with_backoff(receiver, tmp_path):
    receiver.failures = [503, 429]
    report = run(login_verdict(4), make_target(receiver, ["pagerduty"]), receiver, tmp_path)
    assert [d.status for d in report.deliveries] == ["sent"]
    assert len(receiver.requests) == 3


def test_a_rejected_request_is_not_retried_and_is_reported(receiver, tmp_path):
    receiver.failures = [400]
    report = run(login_verdict(4), make_target(receiver, ["pagerduty"]), receiver, tmp_path)
    assert len(receiver.requests) == 1
    (failed,) = report.failed
    assert "HTTP 400" in failed.detail and "not retried" in failed.detail


def test_a_down_sink_fails_loudly_and_gets_the_escalation_next_run(receiver, tmp_path):
    target = make_target(receiver, ["pagerduty"], )
    down = make_target(receiver, ["pagerduty"]).model_copy(deep=True)
    down.escalation.sinks[0].__dict__.update(url="http://127.0.0.1:9/v2/enqueue", deadline_s=0.3)
    verdict = login_verdict(4)
    report = run(verdict, down, receiver, tmp_path)
    (failed,) = report.failed
    assert "ConnectError" in failed.detail and "deadline" in failed.detail
    verdict.escalation = report.to_json()
    assert verdict.exit_code == EXIT_ESCALATION_FAILED
    assert "FAILED" in verdict.summary_markdown()

    later = run(login_verdict(4, when=START + timedelta(minutes=15)), target, receiver, tmp_path)
    assert [(d.action, d.status) for d in later.deliveries] == [("open", "sent")]


# --- dry run, secrets ----------------------------------------------------------------------------

def test_dry_run_writes_requests_and_changes_no_state(receiver, tmp_path, report_file):
    target = make_target(receiver, ["pagerduty", "jira", "zendesk", "slack", "webhook", "email"])
    report = run(login_verdict(4), target, receiver, tmp_path, mode="dry-run", report=report_file)
    assert receiver.requests == []
    assert {d.status for d in report.deliveries} == {"dry-run"}
    written = sorted(p.name for p in (tmp_path / "escalations").iterdir())
    assert len(written) == 1 + 2 + 2 + 1 + 1 + 1
    assert any(name.endswith(".eml") for name in written)
    jira = json.loads(next((tmp_path / "escalations").glob("*jira-POST-issue.json")).read_text())
    assert jira["headers"]["Authorization"] == "Basic *** (user bot@example.com)"
    assert not (tmp_path / "escalations.sqlite").exists()
    again = run(login_verdict(4), target, receiver, tmp_path, mode="dry-run")
    assert {d.action for d in again.deliveries} == {"open"}


def test_no_secret_outside_the_header_or_field_it_belongs_in(receiver, smtp, tmp_path, report_file):
    target = make_target(receiver, smtp_port=smtp.port)
    secrets = secrets_for(receiver)
    run(login_verdict(4), target, receiver, tmp_path, report=report_file)
    run(login_verdict(0, when=START + timedelta(minutes=15)), target, receiver, tmp_path, report=report_file)
    allowed = {SECRETS["PD_KEY"]: "routing_key", SECRETS["JIRA_TOKEN"]: "authorization",
               SECRETS["ZD_TOKEN"]: "authorization"}
    for request in receiver.requests:
        for secret in secrets.values():
            in_body = secret.encode() in request.body
            if request.path.endswith("/v2/enqueue") and secret == SECRETS["PD_KEY"]:
                assert request.json["routing_key"] == secret
                assert request.body.count(secret.encode()) == 1
                continue
            assert not in_body, f"{secret[:6]}… in the body of {request.method} {request.path}"
            for name, value in request.headers.items():
                decoded = base64.b64decode(value[6:]).decode() if value.startswith("Basic ") else value
                if secret in value or secret in decoded:
                    assert allowed.get(secret) == name, f"{secret[:6]}… in header {name}"
    for message in smtp.messages:
        assert not any(secret in message.as_string() for secret in secrets.values())
    for path in tmp_path.rglob("*"):
        if path.is_file() and path.suffix in (".md", ".json"):
            assert not any(secret in path.read_text() for secret in secrets.values()), path


def test_ticket_answers_the_intake_questions(receiver, tmp_path, report_file):
    run(login_verdict(4), make_target(receiver, []), receiver, tmp_path, report=report_file)
    run(login_verdict(4, when=START + timedelta(minutes=15)), make_target(receiver, []), receiver, tmp_path,
        report=report_file)
    ticket = (tmp_path / "ticket.md").read_text()
    for needed in ("[P1]", "Observed vs expected", "expected it signed in", "4 of 10 agents (40%)",
                   "Interactions affected", "First seen:** 2026-11-23 14:00:00 PST", "America/Los_Angeles",
                   "failing in 2 consecutive runs", "Steps to reproduce", "1. Open https://org.example.test/login",
                   "agent agent01@example.test", "evidence/login/agent01@example.test/screenshot.png",
                   "**Investigating**", "**Identified, fix in progress**", "**Resolved**: pending",
                   str(report_file)):
        assert needed in ticket, needed


def test_mode_defaults_to_dry_run_for_the_sandbox_and_send_otherwise(receiver):
    real = make_target(receiver, [])
    sandbox = Target.model_validate({**real.model_dump(), "sandbox": {}})
    assert resolve_mode(real, False, False) == "send" and resolve_mode(sandbox, False, False) == "dry-run"
    assert resolve_mode(sandbox, True, False) == "send" and resolve_mode(real, False, True) == "dry-run"
    with pytest.raises(ValueError, match="contradict"):
        resolve_mode(real, True, True)


def test_two_sinks_of_a_type_need_names(receiver):
    with pytest.raises(Exception, match="distinct `name`"):
        make_target(receiver, ["pagerduty", "pagerduty"])


def test_the_same_verdict_offered_again_is_not_another_failing_run(receiver, tmp_path):
    target = make_target(receiver, ["jira"])
    verdict = login_verdict(4)
    run(verdict, target, receiver, tmp_path)
    again = run(verdict, target, receiver, tmp_path)
    assert [(d.action, d.status) for d in again.deliveries] == [("update", "unchanged")]
    assert "first run to fail" in (tmp_path / "ticket.md").read_text()


def test_an_item_escalated_at_once_is_updated_with_the_final_report_on_every_sink_and_counted_once(receiver,
                                                                                                  tmp_path):
    """Jira updates only on change, yet the run's end after a page at once is the final report: it goes
    to every sink; the run counts once; the ticket written at once says the run is still going."""
    target = make_target(receiver, ["jira", "slack"])
    early = login_verdict(4, when=START)
    early.final, early.pending = False, ["email round trip due 14:15:00 PST"]
    at_once = run(early, target, receiver, tmp_path, only={"login"})
    assert [(d.sink, d.action, d.status) for d in at_once.deliveries] == [("jira", "open", "sent"),
                                                                           ("slack", "open", "sent")]
    ticket = (tmp_path / "ticket.md").read_text()
    assert "**Run still in progress:** email round trip due 14:15:00 PST" in ticket and "NO-GO (P1) so far" in ticket

    ended = run(login_verdict(4, when=START + timedelta(minutes=16)), target, receiver, tmp_path,
                escalated_at_once={"login": {"jira", "slack"}})
    assert [(d.sink, d.action, d.status) for d in ended.deliveries] == [("jira", "update", "sent"),
                                                                         ("slack", "update", "sent")]
    comment = receiver.to("/rest/api/3/issue/OPS-7/comment")[-1].json["body"]
    assert "The run has ended (NO-GO (P1)): this is its final report." in json.dumps(comment)
    assert "first run to fail" in (tmp_path / "ticket.md").read_text()     # one run, not two


def test_an_unchanged_failure_escalated_at_once_stays_quiet_on_on_change_sinks_at_the_end(receiver, tmp_path):
    """Still failing as in the last run: told nothing at once, so the run's end has nothing to add either
    (a 30-minute schedule must not post a "final report" to Jira every run)."""
    target = make_target(receiver, ["jira"])
    run(login_verdict(4), target, receiver, tmp_path)
    early = login_verdict(4, when=START + timedelta(minutes=30))
    early.final = False
    at_once = run(early, target, receiver, tmp_path, only={"login"})
    assert [(d.action, d.status) for d in at_once.deliveries] == [("update", "unchanged")]
    told = {d.sink for d in at_once.deliveries if d.status in ("sent", "dry-run")}
    ended = run(login_verdict(4, when=START + timedelta(minutes=46)), target, receiver, tmp_path,
                escalated_at_once={"login": told})
    assert [(d.action, d.status) for d in ended.deliveries] == [("update", "unchanged")]
    assert "failing in 2 consecutive runs" in (tmp_path / "ticket.md").read_text()      # counted once


def test_with_the_state_lost_the_sinks_own_search_finds_the_open_ticket_and_no_second_is_opened(receiver,
                                                                                                tmp_path):
    """The Actions cache evicted reports/escalations.sqlite: Jira's label search and Zendesk's external_id
    find what is open, and the run updates it; a solved ticket of the same key is not reopened."""
    receiver.jira_issues = [{"id": "10001", "key": "OPS-1", "label": "allclear-t-login", "status": "In Progress"}]
    receiver.zendesk_tickets = [{"id": 7, "external_id": "allclear/t/login", "status": "solved"},
                                {"id": 12, "external_id": "allclear/t/login", "status": "open"},
                                {"id": 3, "external_id": "allclear/t/email", "status": "open"}]
    report = run(login_verdict(4), make_target(receiver, ["jira", "zendesk"]), receiver, tmp_path)
    assert [(d.sink, d.action, d.status) for d in report.deliveries] == [("jira", "update", "sent"),
                                                                        ("zendesk", "update", "sent")]
    assert report.deliveries[0].detail == "OPS-1 (found open at the sink by its key allclear/t/login)"
    assert not [r for r in receiver.requests if r.method == "POST" and r.path in ("/rest/api/3/issue",
                                                                                   "/api/v2/tickets")]
    assert [r.path for r in receiver.requests if r.method == "PUT"] == ["/api/v2/tickets/12"]
    assert receiver.to("/rest/api/3/issue/OPS-1/comment")

    again = run(login_verdict(4, when=START + timedelta(minutes=15)), make_target(receiver, ["jira", "zendesk"]),
                receiver, tmp_path)
    assert [d.action for d in again.deliveries] == ["update", "update"]      # the state knows them again


def test_with_the_state_lost_a_green_run_resolves_what_the_sinks_hold_open_then_searches_no_more(receiver,
                                                                                                  tmp_path):
    """The state was evicted while a failure was open: the first green run finds it at each sink by its
    key and resolves it there; later green runs do not search again."""
    receiver.jira_issues = [{"id": "10001", "key": "OPS-1", "label": "allclear-t-login", "status": "In Progress"}]
    receiver.zendesk_tickets = [{"id": 12, "external_id": "allclear/t/login", "status": "open"}]
    target = make_target(receiver, ["pagerduty", "jira", "zendesk", "slack"])
    green = run(login_verdict(0), target, receiver, tmp_path)
    assert [(d.sink, d.action, d.status) for d in green.deliveries] == [
        ("pagerduty", "resolve", "sent"), ("jira", "resolve", "sent"), ("zendesk", "resolve", "sent")]
    assert green.deliveries[1].detail == "OPS-1: found open at the sink by its key allclear/t/login (the local " \
                                        "state had no record of it)"
    assert "pagerduty cannot be searched, and the resolve changes nothing if no alert was open" in \
        green.deliveries[0].detail
    assert [r.json["event_action"] for r in receiver.to("/v2/enqueue")] == ["resolve"]
    assert receiver.to("/rest/api/3/issue/OPS-1/comment") and receiver.to("/api/v2/tickets/12")
    solved = receiver.to("/api/v2/tickets/12")[0].json["ticket"]
    assert solved["status"] == "solved" and "was found by its key" in solved["comment"]["body"]
    assert not receiver.to("/slack/")          # a chat has nothing to search and nothing to resolve

    before = len(receiver.requests)
    again = run(login_verdict(0, when=START + timedelta(minutes=15)), target, receiver, tmp_path)
    assert again.deliveries == [] and len(receiver.requests) == before


def test_a_lost_escalation_search_that_fails_is_tried_again_next_green_run(receiver, tmp_path):
    receiver.failing_paths = {"/search/jql": 503}
    target = make_target(receiver, ["jira"])
    (skipped,) = run(login_verdict(0), target, receiver, tmp_path).deliveries
    assert (skipped.action, skipped.status) == ("resolve", "skipped") and "tried again next run" in skipped.detail
    receiver.failing_paths = {}
    receiver.jira_issues = [{"id": "10001", "key": "OPS-1", "label": "allclear-t-login", "status": "In Progress"}]
    (resolved,) = run(login_verdict(0, when=START + timedelta(minutes=15)), target, receiver, tmp_path).deliveries
    assert (resolved.action, resolved.status) == ("resolve", "sent")


def test_a_site_pages_its_failure_at_once_never_resolves_and_the_merge_updates_the_same_escalation(receiver,
                                                                                                   tmp_path):
    """../shared/DECISIONS.md, sites: a P1 at one site pages from that site's run, by the target's and
    item's key; another site's green run resolves nothing; the merge updates the same alert and issue
    with the grade over all sites' probes, and it alone resolves."""
    target = make_target(receiver, ["pagerduty", "jira"])
    home = login_verdict(4)
    home.site = "home"
    opened = run(home, target, receiver, tmp_path / "home")
    assert [(d.sink, d.action, d.status) for d in opened.deliveries] == [("pagerduty", "open", "sent"),
                                                                        ("jira", "open", "sent")]
    page = receiver.to("/v2/enqueue")[0].json
    assert page["dedup_key"] == "allclear/t/login"
    assert "(seen from site home)" in page["payload"]["custom_details"]["text"]
    receiver.jira_issues = [{"id": "10007", "key": "OPS-7", "label": "allclear-t-login", "status": "To Do"}]

    austin = login_verdict(0, when=START + timedelta(minutes=1))
    austin.site = "austin"
    before = len(receiver.requests)
    assert run(austin, target, receiver, tmp_path / "austin").deliveries == []
    assert len(receiver.requests) == before                # no resolve, no search: home is still failing

    merged = login_verdict(4, of=20, when=START + timedelta(minutes=2))
    merged.sites = {"home": "NO-GO (P1)", "austin": "GO"}
    told = {"login": {"pagerduty", "jira"}}
    update = run(merged, target, receiver, tmp_path / "merged", told_by_sites=told)
    assert [(d.sink, d.action, d.status) for d in update.deliveries] == [("pagerduty", "open", "sent"),  # the same
                                                                        ("jira", "update", "sent")]   # dedup_key
    assert "OPS-7 (found open at the sink by its key allclear/t/login)" in update.deliveries[1].detail
    assert not [r for r in receiver.requests if r.method == "POST" and r.path == "/rest/api/3/issue"][1:]
    comment = json.dumps(receiver.to("/rest/api/3/issue/OPS-7/comment")[-1].json)
    assert "Every site has reported" in comment and "P2" in comment        # 4 of 20 agents over both sites
    assert [e.json["payload"]["severity"] for e in receiver.to("/v2/enqueue")] == ["critical", "error"]

    green = login_verdict(0, of=20, when=START + timedelta(minutes=32))
    green.sites = {"home": "GO", "austin": "GO"}
    resolved = run(green, target, receiver, tmp_path / "merged")
    assert [(d.sink, d.action, d.status) for d in resolved.deliveries] == [("pagerduty", "resolve", "sent"),
                                                                          ("jira", "resolve", "sent")]


def two_items_passing(when: datetime = START) -> RunVerdict:
    from allclear.config import Grading

    items = [summarize_item(key, key, [ProbeResult(key, "p1", "passed", finished_at=when.isoformat())], Grading())
             for key in ("login", "help_center")]
    return RunVerdict.of(items, target="t", started_at=when - timedelta(seconds=30), finished_at=when,
                         window_end=None, window_end_source="--window-end", faults=[])


def test_a_sink_down_is_waited_out_once_when_looking_for_lost_escalations(receiver, tmp_path):
    target = make_target(Receiver(url="http://127.0.0.1:9"), ["jira"])      # nothing listens there
    report = run(two_items_passing(), target, receiver, tmp_path)
    assert [(d.item, d.status) for d in report.deliveries] == [("login", "skipped")]   # help_center: not tried
    assert report.failed == []


def test_inconclusive_kinds_are_looked_for_only_at_ops_sinks_and_only_once(receiver, tmp_path):
    target = make_target(receiver, ["jira", "slack"])             # slack: ops = true, nothing to search
    run(login_verdict(0), target, receiver, tmp_path)
    with sqlite3.connect(tmp_path / "escalations.sqlite") as db:
        searched = sorted(db.execute("SELECT kind, sink FROM searched").fetchall())
    assert searched == [("already-failing", "slack"), ("failure", "jira"), ("failure", "slack"),
                        ("inconclusive", "slack")]


def test_a_site_opens_what_no_site_has_and_leaves_an_open_one_to_the_merge(receiver, tmp_path):
    """A second site failing finds the first site's ticket by its key: it neither opens another nor
    comments (the merge tells the grade across sites); its own later runs stay quiet too."""
    receiver.jira_issues = [{"id": "10007", "key": "OPS-7", "label": "allclear-t-login", "status": "To Do"}]
    target = make_target(receiver, ["jira"])
    second = login_verdict(4)
    second.site = "austin"
    (found,) = run(second, target, receiver, tmp_path).deliveries
    assert (found.action, found.status) == ("open", "unchanged") and "the merge of the sites updates it" in found.detail
    later = login_verdict(5, when=START + timedelta(minutes=30))
    later.site = "austin"
    assert run(later, target, receiver, tmp_path).deliveries == []
    assert not [r for r in receiver.requests if r.method in ("POST", "PUT")]


def test_what_a_site_opened_hears_the_merges_lower_grade_and_its_resolution(receiver, tmp_path):
    """One of a small site's three agents locked is a P1 there, a P3 over every site: the merge still
    tells the open page and issue so (they were opened), and resolves them when all is green."""
    receiver.jira_issues = [{"id": "10007", "key": "OPS-7", "label": "allclear-t-login", "status": "To Do"}]
    target = make_target(receiver, ["pagerduty", "jira"])
    merged = login_verdict(1, of=30)
    merged.sites = {"small": "NO-GO (P1)", "big": "GO"}
    assert merged.items[0].grade not in ("P1", "P2")
    told = run(merged, target, receiver, tmp_path, told_by_sites={"login": {"pagerduty", "jira"}})
    assert [(d.sink, d.status) for d in told.deliveries] == [("pagerduty", "sent"), ("jira", "sent")]
    assert "Every site has reported" in json.dumps(receiver.to("/rest/api/3/issue/OPS-7/comment")[-1].json)
    green = run(login_verdict(0, of=30, when=START + timedelta(minutes=30)), target, receiver, tmp_path)
    assert [(d.sink, d.action, d.status) for d in green.deliveries] == [("pagerduty", "resolve", "sent"),
                                                                        ("jira", "resolve", "sent")]


def test_a_search_that_fails_does_not_cost_the_escalation(receiver, tmp_path):
    receiver.failing_paths = {"/search/jql": 400}
    (jira,) = run(login_verdict(4), make_target(receiver, ["jira"]), receiver, tmp_path).deliveries
    assert (jira.action, jira.status) == ("open", "sent")
    assert "(but searching for its open escalation failed: " in jira.detail


def test_a_secret_quoted_by_a_probe_is_redacted_in_live_payloads(receiver, tmp_path):
    leaky = login_verdict(4, observed=f"login page said: bad token {SECRETS['JIRA_TOKEN']}")
    run(leaky, make_target(receiver, ["jira", "webhook"]), receiver, tmp_path)
    for request in receiver.requests:
        assert SECRETS["JIRA_TOKEN"].encode() not in request.body
    assert b"bad token ***" in receiver.to("/hook")[0].body


def test_a_create_that_may_have_happened_is_not_retried(receiver, tmp_path):
    receiver.failing_paths = {"/rest/api/3/issue": 502}
    report = run(login_verdict(4), make_target(receiver, ["jira"]), receiver, tmp_path)
    assert len(receiver.to("/rest/api/3/issue")) == 1
    assert "HTTP 502" in report.failed[0].detail


def test_a_missed_resolution_is_offered_again_on_the_next_green_run(receiver, tmp_path):
    target = make_target(receiver, ["pagerduty"])
    run(login_verdict(4), target, receiver, tmp_path)
    receiver.failures = [400]
    missed = run(login_verdict(0, when=START + timedelta(minutes=15)), target, receiver, tmp_path)
    assert [(d.action, d.status) for d in missed.deliveries] == [("resolve", "failed")]
    later = run(login_verdict(0, when=START + timedelta(minutes=30)), target, receiver, tmp_path)
    assert [(d.action, d.status) for d in later.deliveries] == [("resolve", "sent")]
    assert "No vendor ticket" in (tmp_path / "ticket.md").read_text()   # the ticket told it in the run it resolved
    quiet = run(login_verdict(0, when=START + timedelta(minutes=45)), target, receiver, tmp_path)
    assert quiet.deliveries == []
    removed = run(login_verdict(0, when=START + timedelta(minutes=60)), make_target(receiver, []), receiver, tmp_path)
    assert removed.deliveries == []


def test_no_sinks_still_writes_the_ticket(receiver, tmp_path):
    report = run(login_verdict(4), make_target(receiver, []), receiver, tmp_path)
    assert report.deliveries == [] and (tmp_path / "ticket.md").read_text().startswith("# [P1] t: Agent login")


def test_a_sink_down_is_waited_out_once_per_run_not_once_per_item(receiver, tmp_path):
    from allclear.config import Grading
    down = make_target(receiver, ["pagerduty"]).model_copy(deep=True)
    down.escalation.sinks[0].__dict__.update(url="http://127.0.0.1:9/v2/enqueue", deadline_s=0.3)
    verdict = login_verdict(4)
    line = ProbeResult("voice", "Main line", "failed", expected="answered", observed="busy",
                       finished_at=START.isoformat())
    verdict.items.append(summarize_item("voice", "Each support line answers", [line], Grading()))
    report = run(verdict, down, receiver, tmp_path)
    first, second = report.failed
    assert (first.item, second.item) == ("login", "voice")
    assert "deadline" in first.detail and second.detail.startswith("not tried: unreachable earlier in this run")
    assert "unreachable" not in json.dumps(report.to_json()["deliveries"][0])
