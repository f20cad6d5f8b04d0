"""Bad input: a broken target file, bad options, and endpoints that answer wrongly.

Each gets a clear one-line reason, in the terminal and in verdict.json, never a traceback as the
only message: ops at 23:00 must be able to tell a typo from a dead host from a wrong port.
"""

import pytest

from tests.conftest import SANDBOX_TOML, write_target
from tests.hostile import closed_port, dns_server_answering_garbage, tcp_server_saying

SSH_BANNER = b"SSH-2.0-OpenSSH_9.6\r\n"
HTTP_ERROR = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"


def written(tmp_path, text: str):
    path = tmp_path / "target.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("make_target, args, reason", [
    (lambda d: written(d, SANDBOX_TOML.read_text() + "\n[login\n"), (), "not valid TOML"),
    (lambda d: write_target(d, {"run.agents_at_once": "four"}), (), "run.agents_at_once: Input should be a valid int"),
    (lambda d: write_target(d, {"login.urll": "http://x"}), (), "login.urll: unknown key (check its spelling"),
    (lambda d: write_target(d, {"retries.voicemail": {"count": 1}}), (), "retries.voicemail: Input should be 'login'"),
    (lambda d: write_target(d, {"email.smtp_port": "twenty-five"}), (), "email.smtp_port: Input should be a valid int"),
    (lambda d: write_target(d, {}), ("--deadline", "-3"), "--deadline must be a number of seconds above 0"),
    (lambda d: write_target(d, {}), ("--deadline", "0"), "--deadline must be a number of seconds above 0, got 0"),
    (lambda d: write_target(d, {}), ("--deadline", "soon"), "--deadline: invalid float value: 'soon'"),
    (lambda d: write_target(d, {}), ("--window-end", "yesterday"), "--window-end: 'yesterday' is not an ISO 8601 time"),
    (lambda d: write_target(d, {}), ("--sandbox-fault", "agents-locked:many"), "needs a number"),
], ids=["malformed TOML", "wrong type", "unknown key", "unknown item", "port not a number", "deadline below 0",
        "deadline 0", "deadline not a number", "window end not a time", "fault argument not a number"])
def test_a_bad_target_or_option_stops_the_run_with_one_line_saying_why(run_go, tmp_path, make_target, args, reason):
    result = run_go(*args, target=make_target(tmp_path), checks=("test_dns.py",))

    assert result.exit_code == 4, result.output[-2000:]
    assert reason in result.output
    assert "Traceback" not in result.output



def test_a_target_that_cannot_be_loaded_still_says_why_on_the_github_run_page(run_go, tmp_path):
    step_summary = tmp_path / "step-summary.md"
    result = run_go(target=write_target(tmp_path, {"login.urll": "http://x"}), checks=("test_dns.py",),
                    env={"GITHUB_STEP_SUMMARY": str(step_summary)})
    assert result.exit_code == 4
    assert "The checklist did not start: the target could not be loaded" in step_summary.read_text()
    assert "login.urll: unknown key" in step_summary.read_text()


@pytest.mark.slow
def test_endpoints_that_answer_wrongly_each_get_a_one_line_reason(run_go, tmp_path):
    """A closed port, a host name that does not resolve, a non-HTTP server where HTTP was expected,
    a web server where SMTP was, and a DNS server that answers garbage: each item says which, in
    one line."""
    with tcp_server_saying(SSH_BANNER) as ssh, tcp_server_saying(HTTP_ERROR) as web, \
            dns_server_answering_garbage() as garbage_dns:
        dead = closed_port()
        target = write_target(tmp_path, {
            "business_hours": None,
            "login.url": f"http://127.0.0.1:{ssh}/login",
            "reporting_api.api_base": f"http://127.0.0.1:{dead}/api/v1",
            "status_page.url": f"http://127.0.0.1:{ssh}/statuspage",
            "voice.api_base": f"http://127.0.0.1:{ssh}",
            "sms.api_base": f"http://127.0.0.1:{ssh}",
            "email.smtp_port": web,
            "dns.port": garbage_dns, "dns.timeout_s": 2.0,
            "chat_widget.pages": [f"http://127.0.0.1:{dead}/website/"],
            "help_center.sites": [{"name": "Help center", "url": "http://help.no-such-host.invalid/hc/",
                                   "expected_title": "Help", "search_queries": ["password"]}],
        }, agents=2)
        result = run_go(target=target, checks=("test_login.py", "test_reporting_api.py", "test_status_page.py",
                                                "test_voice.py", "test_sms.py", "test_email.py", "test_dns.py",
                                                "test_chat_widget.py", "test_help_center.py"))

    reasons = {
        "login": ("failed", "the answer was not HTTP [net::ERR_INVALID_HTTP_RESPONSE]"),
        "reporting_api": ("failed", f"could not talk to http://127.0.0.1:{dead}/api/v1: connection refused"),
        "status_page": ("failed", f"could not read http://127.0.0.1:{ssh}/statuspage"),
        "voice": ("inconclusive", "could not reach the Twilio API at "
                                  f"http://127.0.0.1:{ssh}: the answer was not HTTP (it began 'SSH-2.0-OpenSSH_9.6')"),
        "sms": ("inconclusive", "could not reach the Twilio API at "
                                f"http://127.0.0.1:{ssh}: the answer was not HTTP (it began 'SSH-2.0-OpenSSH_9.6')"),
        "email": ("inconclusive", f"SMTP server 127.0.0.1:{web}: it does not speak SMTP"),
        "dns": ("failed", f"127.0.0.1:{garbage_dns} answered with something that is not a DNS message"),
        "chat_widget": ("failed", "connection refused (nothing listens there) [net::ERR_CONNECTION_REFUSED]"),
        "help_center": ("failed", "the host name does not resolve [net::ERR_NAME_NOT_RESOLVED]"),
    }
    for key, (outcome, reason) in reasons.items():
        item = result.item(key)
        message = item["probes"][0]["message"]
        assert item["outcome"] == outcome and reason in message, (key, message)
        assert "\n" not in message and "Traceback" not in message
        assert reason in result.output.split("Go checklist:")[-1]       # the terminal summary says it too


def test_an_imap_server_that_is_not_imap_is_named_as_such(run_go, tmp_path):
    with tcp_server_saying(HTTP_ERROR) as web:
        target = write_target(tmp_path, {"email.imap_port": web, "email.connect_timeout_s": 3.0})
        result = run_go(target=target, checks=("test_email.py",))

    email = result.item("email")
    assert email["outcome"] == "inconclusive"
    assert f"could not reach the probe mailbox over IMAP 127.0.0.1:{web}: " in email["probes"][0]["message"]
    assert "\n" not in email["probes"][0]["message"]


def test_listing_the_checks_reads_and_sends_nothing(run_go, tmp_path):
    """`--collect-only`: the checks are listed (one per agent), and no verdict is written and
    nothing is escalated, not even as a dry run."""
    result = run_go("--collect-only", "-q", target=write_target(tmp_path, {}, agents=3))

    assert result.exit_code == 0, result.output[-2000:]
    assert "test_agent_logs_in_and_sets_status[agent03@sandbox.allclear.test]" in result.output
    assert not (result.reports / "verdict.json").exists()
    assert not (result.reports / "escalations").exists()
