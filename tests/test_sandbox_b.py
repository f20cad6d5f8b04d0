"""Sandbox B, the second shape (config/sandbox-b.toml): healthy it is GO; its pages exist only at their
trailing-slash URLs; its sign-in (single sign-on, a JavaScript form that keeps the typed password
after a refusal, a second factor) leaves neither the password nor the TOTP seed in any file of the
run, trace archives included."""

import json
from pathlib import Path

import httpx
import pytest

from allclear.config import read_sandbox_template
from allclear.sandbox import Sandbox
from tests.conftest import ROOT, find_leaks, made_up_secrets, write_target

SANDBOX_B = ROOT / "config" / "sandbox-b.toml"


@pytest.fixture(scope="module")
def sandbox_b():
    with Sandbox(read_sandbox_template(SANDBOX_B), environ={}) as running:
        yield running


@pytest.mark.parametrize("path", ["/agent", "/agent/desk", "/site", "/kb", "/kb/find"])
def test_pages_answer_only_at_their_trailing_slash_url(sandbox_b, path):
    assert httpx.get(f"{sandbox_b.url}{path}").status_code == 404
    assert httpx.get(f"{sandbox_b.url}{path}/", follow_redirects=False).status_code in (200, 302)


def test_the_identity_provider_is_on_its_own_host(sandbox_b):
    landing = httpx.get(f"{sandbox_b.url}/agent/").text
    assert f'href="http://localhost:{sandbox_b.url.rsplit(":", 1)[1]}/idp/signin/"' in landing


@pytest.mark.slow
def test_healthy_sandbox_b_is_go(run_go, tmp_path):
    target = write_target(tmp_path, base=SANDBOX_B)
    result = run_go(target=target)
    assert (result.verdict["verdict"], result.exit_code) == ("GO", 0), result.output[-3000:]
    results = [json.loads(f.read_text()) for f in (result.reports / "allure-results").glob("*-result.json")]
    agent = next(r for r in results if r["name"] == "agent01@sandbox.allclear.test")
    assert [step["name"] for step in agent["steps"]] == [
        "Open the sign-in page", "Sign in at the identity provider", "Enter the one-time code",
        "Agent desktop loads", "Agent sets status Helping Customers", "Agent signs out"]


@pytest.mark.slow
@pytest.mark.parametrize("fault, step", [("agents-locked:2", "Sign in at the identity provider"),
                                         ("desktop-spinner", "Agent desktop loads")])
def test_no_password_or_seed_in_any_file_with_traces_kept(run_go, tmp_path, fault, step):
    """A refused sign-in keeps the typed password in the identity provider's form; a desktop that never
    loads keeps the traces around the identity provider's POSTs and the second factor."""
    target = write_target(tmp_path, agents=3, base=SANDBOX_B)
    secrets = made_up_secrets(target)
    assert any(name.endswith("_TOTP_SEED") for name in secrets)
    result = run_go("--sandbox-fault", fault, target=target, env=secrets, checks=("test_login.py",))
    failed = [p for p in result.item("login")["probes"] if p["outcome"] == "failed"]
    assert failed and all(p["observed"] for p in failed), result.output[-3000:]
    evidence = {Path(path).name for p in failed for path in p["evidence"]}
    assert any(name.endswith(".zip") for name in evidence) and "screenshot.png" in evidence
    assert not find_leaks(result.reports, secrets, result.output)


@pytest.mark.slow
@pytest.mark.parametrize("fault, outcome", [(None, "passed"), ("chat-search-off", "failed")])
def test_sandbox_bs_widget_at_night_self_service_checked_live_chat_offline(run_go, tmp_path, fault, outcome):
    """B's widget sits in an iframe and words things its own way: at night too, search and quick actions
    must answer, and the offline note stands where "Message us" is in business hours."""
    target = write_target(tmp_path, {"business_hours.weekly": {}}, base=SANDBOX_B)
    chat = run_go(*(["--sandbox-fault", fault] if fault else []), target=target,
                  checks=("test_chat_widget.py",)).item("chat_widget")
    assert chat["outcome"] == outcome
    if fault:
        assert "still switched off" in chat["probes"][0]["observed"]
