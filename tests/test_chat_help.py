"""The chat widget and help center items end to end against the sandbox: usable when open, the
configured behaviour when closed, and each fault turning the item red with the broken step named."""

import re

import pytest

from tests.conftest import write_target

pytestmark = pytest.mark.slow

ALWAYS_OPEN = {day: ["00:00-24:00"] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
CHAT = ("test_chat_widget.py",)
HELP = ("test_help_center.py",)


def open_target(tmp_path, **changes):
    return write_target(tmp_path, {"business_hours.weekly": ALWAYS_OPEN, "business_hours.holidays": [], **changes})


def closed_target(tmp_path, off_hours):
    return write_target(tmp_path, {"business_hours.weekly": {}, "chat_widget.off_hours": off_hours})


def failed_probe(item: dict) -> dict:
    return next(p for p in item["probes"] if p["outcome"] == "failed")


def test_widget_and_help_center_work_when_open(run_go, tmp_path):
    result = run_go(target=open_target(tmp_path), checks=CHAT + HELP)
    assert {i["item"]: i["outcome"] for i in result.verdict["items"]} == {"chat_widget": "passed",
                                                                          "help_center": "passed"}
    assert result.exit_code == 0


@pytest.mark.parametrize("fault, step, says", [
    ("chat-throttled", "Chat launcher appears", "is chat still throttled to 0%?"),
    ("chat-search-off", "Quick actions load", "\"Enable Search and Quick Actions\" still switched off"),
    ("chat-script-404", "Open the website page", "the widget script answered HTTP 404"),
    ("chat-quick-actions-fail", "Quick actions load", "quick actions did not load"),
    ("maintenance", "Quick actions load", "quick actions did not load"),
])
def test_chat_faults_name_the_broken_step(run_go, tmp_path, fault, step, says):
    result = run_go("--sandbox-fault", fault, target=open_target(tmp_path), checks=CHAT)
    chat = result.item("chat_widget")
    assert (chat["outcome"], chat["grade"]) == ("failed", "P1"), result.output[-2000:]
    probe = failed_probe(chat)
    assert probe["observed"].startswith(f"{step}: ") and says in probe["observed"]
    assert any(path.endswith("screenshot.png") for path in probe["evidence"])
    assert any(path.endswith("trace.zip") for path in probe["evidence"])


def test_closed_widget_shows_its_offline_message(run_go, tmp_path):
    chat = run_go(target=closed_target(tmp_path, "offline-message"), checks=CHAT).item("chat_widget")
    assert chat["outcome"] == "passed"


def test_outside_business_hours_self_service_is_still_checked_and_live_chat_left_out_with_the_reason(run_go,
                                                                                                     tmp_path):
    chat = run_go(target=closed_target(tmp_path, "skip"), checks=CHAT).item("chat_widget")
    assert chat["outcome"] == "passed"
    assert chat["probes"][0]["facts"]["not_checked"] == ["live chat: outside business hours (off_hours = \"skip\")"]


@pytest.mark.parametrize("off_hours", ["offline-message", "skip"])
@pytest.mark.parametrize("fault, step, says", [
    ("chat-search-off", "Quick actions load", "\"Enable Search and Quick Actions\" still switched off"),
    ("chat-quick-actions-fail", "Quick actions load", "quick actions did not load"),
])
def test_search_and_quick_actions_are_checked_at_night_too(run_go, tmp_path, off_hours, fault, step, says):
    """Windows end at night: the switch people forget to turn back on is caught outside business hours."""
    result = run_go("--sandbox-fault", fault, target=closed_target(tmp_path, off_hours), checks=CHAT)
    chat = result.item("chat_widget")
    assert (chat["outcome"], chat["grade"]) == ("failed", "P1")
    observed = failed_probe(chat)["observed"]
    assert observed.startswith(f"{step}: ") and says in observed


def test_search_alone_names_the_switch_when_quick_actions_are_not_checked(run_go, tmp_path):
    target = write_target(tmp_path, {"business_hours.weekly": {}, "chat_widget.quick_actions": False})
    chat = run_go("--sandbox-fault", "chat-search-off", target=target, checks=CHAT).item("chat_widget")
    observed = failed_probe(chat)["observed"]
    assert observed.startswith("FAQ search answers: the panel has no search box") and "still switched off" in observed


def test_closed_widget_expected_hidden_but_shown_fails(run_go, tmp_path):
    chat = run_go(target=closed_target(tmp_path, "hidden"), checks=CHAT).item("chat_widget")
    assert chat["outcome"] == "failed"
    assert "the chat launcher shows although the site is outside business hours" in failed_probe(chat)["observed"]


@pytest.mark.parametrize("fault, says", [
    ("helpcenter-maintenance", "the maintenance page"),
    ("maintenance", "the maintenance page"),
    ("helpcenter-search-broken", "Search 'password' returns results: search 'password'"),
])
def test_help_center_faults(run_go, tmp_path, fault, says):
    result = run_go("--sandbox-fault", fault, target=open_target(tmp_path), checks=HELP)
    help_center = result.item("help_center")
    assert (help_center["outcome"], help_center["grade"]) == ("failed", "P2")   # non-core: capped at P2
    assert says in failed_probe(help_center)["observed"]


def test_certificate_expiring_too_soon_fails(run_go, tmp_path):
    target = open_target(tmp_path, **{"help_center.sites": [{
        "url": "{sandbox_https}/help/", "expected_title": "Sandbox Support Help Center",
        "article_link": "a.article-link", "article_body": "[data-testid=article-body]",
        "ca_file": "{sandbox_ca_file}", "cert_min_days": 100}]})
    help_center = run_go(target=target, checks=HELP).item("help_center")
    assert help_center["outcome"] == "failed"
    probe = failed_probe(help_center)
    assert probe["expected"] == "a certificate valid for 100 more days"
    assert re.fullmatch(r"it expires in (89|90)(\.\d)? days", probe["observed"])   # the sandbox's lasts 90 days
