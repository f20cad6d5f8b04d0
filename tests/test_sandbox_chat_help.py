"""The sandbox's customer website, chat widget and help center, over HTTP, HTTPS and in Chromium."""

import ssl
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from allclear.config import read_sandbox_template
from allclear.sandbox import Sandbox, parse_fault
from allclear.sandbox.help_center import ARTICLES

SANDBOX_TOML = Path(__file__).resolve().parents[1] / "config" / "sandbox.toml"
LA = ZoneInfo("America/Los_Angeles")
TUESDAY_NOON = datetime(2026, 11, 24, 12, 0, tzinfo=LA)      # config/sandbox.toml: Mon-Fri 06:00-22:00
SUNDAY_NOON = datetime(2026, 11, 22, 12, 0, tzinfo=LA)
CHRISTMAS_NOON = datetime(2026, 12, 25, 12, 0, tzinfo=LA)     # a Friday, and a holiday
CONFIG = "/chat-sdk/config/sandbox.allclear.test.json"
QUICK_ACTIONS = "/chat-sdk/quick-actions/sandbox.allclear.test.json"
ANSWERS_SEARCH = "/api/v1/orgs/sandbox-org/answers-search"


@pytest.fixture
def sandbox():
    with Sandbox(read_sandbox_template(SANDBOX_TOML), environ={}) as running:
        running.chat.clock = lambda: TUESDAY_NOON
        yield running


@pytest.fixture
def client(sandbox):
    with httpx.Client(base_url=sandbox.url) as http:
        yield http


def fault(sandbox, *specs):
    sandbox.state.faults.clear()
    for spec in specs:
        sandbox.state.faults.switch_on(parse_fault(spec))


# --- the customer's website and the widget's endpoints ---

def test_website_embeds_the_widget_like_the_vendor_loader(client):
    response = client.get("/website/")
    assert response.status_code == 200 and "<title>Sandbox Outfitters</title>" in response.text
    assert 'window.gladlyConfig = { appId: "sandbox.allclear.test" }' in response.text
    assert '"/chat-sdk/widget.js"' in response.text and '"?q=" + Date.now()' in response.text
    assert client.get("/website", follow_redirects=True).url.path == "/website/"


def test_widget_script_and_its_404_fault(sandbox, client):
    response = client.get("/chat-sdk/widget.js", params={"q": "1700000000000"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/javascript")
    assert "gladlyConfig" in response.text
    fault(sandbox, "chat-script-404")
    assert client.get("/chat-sdk/widget.js").status_code == 404


def test_config_in_business_hours(client):
    assert client.get(CONFIG).json() == {
        "appId": "sandbox.allclear.test", "available": True, "throttlePercent": 100,
        "searchAndQuickActionsEnabled": True, "offHours": "offline-message",
        "offlineMessage": "Our team is away right now. We're back during business hours.",
    }


@pytest.mark.parametrize("moment", [SUNDAY_NOON, CHRISTMAS_NOON, TUESDAY_NOON.replace(hour=5, minute=59),
                                    TUESDAY_NOON.replace(hour=22)], ids=["weekend", "holiday", "early", "late"])
def test_config_outside_business_hours(sandbox, client, moment):
    sandbox.chat.clock = lambda: moment.astimezone(timezone.utc)
    assert client.get(CONFIG).json()["available"] is False


def test_config_always_available_without_business_hours(sandbox, client):
    sandbox.chat.business_hours = None
    sandbox.chat.clock = lambda: SUNDAY_NOON
    assert client.get(CONFIG).json()["available"] is True


def test_config_faults_and_unknown_app(sandbox, client):
    fault(sandbox, "chat-throttled")
    assert client.get(CONFIG).json()["throttlePercent"] == 0
    fault(sandbox, "chat-search-off")
    config = client.get(CONFIG).json()
    assert (config["throttlePercent"], config["searchAndQuickActionsEnabled"]) == (100, False)
    assert client.get("/chat-sdk/config/someone-else.json").status_code == 404


def test_quick_actions_and_their_fault(sandbox, client):
    actions = client.get(QUICK_ACTIONS).json()["quickActions"]
    assert [a["id"] for a in actions] == ["track-order", "returns", "talk"]
    assert actions[1] == {"id": "returns", "label": "Start a return"}
    fault(sandbox, "chat-quick-actions-fail")
    assert client.get(QUICK_ACTIONS).status_code == 503
    assert client.get(CONFIG).status_code == 200


def test_a_chat_message_is_recorded(sandbox, client):
    started = client.post("/chat-sdk/conversations", json={"appId": "sandbox.allclear.test"})
    assert started.status_code == 201
    conversation = started.json()["id"]
    sent = client.post(f"/chat-sdk/conversations/{conversation}/messages", json={"text": "hello from allclear"})
    assert sent.status_code == 201 and sent.json()["status"] == "received" and sent.json()["id"]
    assert [m["text"] for m in sandbox.chat.conversations[conversation].messages] == ["hello from allclear"]
    assert client.post(f"/chat-sdk/conversations/{conversation}/messages", json={"text": " "}).status_code == 400
    assert client.post("/chat-sdk/conversations/conv-9999/messages", json={"text": "hi"}).status_code == 404


def test_maintenance_spares_the_website_and_widget_but_not_quick_actions_or_faqs(sandbox, client):
    fault(sandbox, "maintenance")
    for path in ("/website/", "/chat-sdk/widget.js", CONFIG):
        assert client.get(path).status_code == 200, path
    for path in (QUICK_ACTIONS, f"{ANSWERS_SEARCH}?q=return", "/help/", "/help/search?q=return"):
        response = client.get(path)
        assert response.status_code == 503 and "scheduled maintenance" in response.text.lower(), path
    assert client.post("/chat-sdk/conversations", json={}).status_code == 503


# --- the help center and the answers API ---

def test_help_center_home_lists_articles(client):
    response = client.get("/help/")
    assert response.status_code == 200 and "<title>Sandbox Support Help Center</title>" in response.text
    assert '<form class="help-search" action="/help/search" method="get"' in response.text
    assert response.text.count('<a class="article-link" href="/help/articles/') == len(ARTICLES) == 5
    assert client.get("/help", follow_redirects=True).url.path == "/help/"


def test_help_article_and_unknown_article(client):
    response = client.get("/help/articles/password-reset")
    assert response.status_code == 200
    assert "<h1>Reset your account password</h1>" in response.text
    assert '<article data-testid="article-body"><p>' in response.text
    assert client.get("/help/articles/no-such-thing").status_code == 404


def test_help_search_matches_title_or_body_case_insensitively(client):
    found = client.get("/help/search", params={"q": "PASSWORD"}).text
    assert '<li class="search-result"><a href="/help/articles/password-reset">' in found
    by_body = client.get("/help/search", params={"q": "prepaid shipping label"}).text
    assert by_body.count('class="search-result"') == 1 and "/help/articles/returns" in by_body
    nothing = client.get("/help/search", params={"q": "kayak rental"}).text
    assert '<p class="no-results">' in nothing and "search-result" not in nothing


def test_healthy_help_pages_never_say_maintenance(client):
    for path in ["/help/", *[f"/help/articles/{a}" for a in ARTICLES], "/help/search?q=a", "/website/"]:
        assert "maintenance" not in client.get(path).text.lower(), path


def test_answers_api_is_public_and_shaped_like_the_vendors(client):
    hits = client.get(ANSWERS_SEARCH, params={"q": "return", "lng": "en-us"}).json()
    assert hits and set(hits[0]) == {"id", "name", "snippet"} and hits[0]["id"] == "returns"
    assert client.get(ANSWERS_SEARCH, params={"q": "kayak rental"}).json() == []
    answer = client.get("/api/v1/orgs/sandbox-org/answers/warranty", params={"lng": "en-us"}).json()
    assert set(answer) == {"id", "name", "bodyHtml", "language", "updatedAt"}
    assert answer["bodyHtml"].startswith("<p>") and answer["language"] == "en-us"
    assert client.get("/api/v1/orgs/sandbox-org/answers/nope").status_code == 404
    assert client.get("/api/v1/agents").status_code == 401          # the reporting API still wants its token


def test_helpcenter_maintenance_fault(sandbox, client):
    fault(sandbox, "helpcenter-maintenance")
    for path in ("/help/", "/help/articles/returns", "/help/search?q=return", f"{ANSWERS_SEARCH}?q=return",
                 "/api/v1/orgs/sandbox-org/answers/returns"):
        response = client.get(path)
        assert response.status_code == 503 and "scheduled maintenance" in response.text.lower(), path
    assert client.get("/website/").status_code == 200


def test_helpcenter_search_broken_fault(sandbox, client):
    fault(sandbox, "helpcenter-search-broken")
    broken = client.get("/help/search", params={"q": "return"})
    assert broken.status_code == 500 and "Something went wrong" in broken.text
    assert client.get(ANSWERS_SEARCH, params={"q": "return"}).status_code == 500
    assert client.get("/help/").status_code == 200 and client.get("/help/articles/returns").status_code == 200


# --- HTTPS ---

def test_https_with_the_sandbox_certificate_as_ca(sandbox):
    assert sandbox.addresses()["sandbox_https"] == sandbox.https_url
    assert sandbox.addresses()["sandbox_ca_file"] == str(sandbox.ca_file)
    plain = ssl.create_default_context(cafile=sandbox.ca_file)
    strict = ssl.create_default_context(cafile=sandbox.ca_file)
    strict.verify_flags |= ssl.VERIFY_X509_STRICT                   # Python 3.13's default
    for verify in (plain, strict):
        response = httpx.get(sandbox.https_url + "/help/", verify=verify)
        assert response.status_code == 200 and "Sandbox Support Help Center" in response.text
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(sandbox.https_url + "/help/")


def test_served_certificate_names_localhost_and_lasts_90_days(sandbox):
    port = int(sandbox.https_url.rsplit(":", 1)[1])
    served = x509.load_pem_x509_certificate(ssl.get_server_certificate(("127.0.0.1", port)).encode())
    assert served.public_bytes(Encoding.PEM) == sandbox.ca_file.read_bytes()
    left = served.not_valid_after_utc - datetime.now(timezone.utc)
    assert timedelta(days=89, hours=23) < left <= timedelta(days=90)
    assert datetime.now(timezone.utc) - served.not_valid_before_utc >= timedelta(minutes=59)
    names = served.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["localhost"]
    assert [str(ip) for ip in names.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]


def test_certificate_directory_is_removed_on_stop():
    with Sandbox(read_sandbox_template(SANDBOX_TOML), environ={}) as running:
        directory = running.ca_file.parent
        assert running.ca_file.is_file()
    assert not directory.exists()


# --- the widget in Chromium ---



@pytest.fixture
def page(browser):
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(5000)
    page.console_errors = []
    page.on("console", lambda message: message.type == "error" and page.console_errors.append(message.text))
    page.on("pageerror", lambda error: page.console_errors.append(f"uncaught: {error}"))
    yield page
    context.close()


def test_widget_healthy_walk(sandbox, page):
    page.goto(sandbox.url + "/website/")
    page.click("#gladly-launcher")
    panel = page.locator("[data-testid=chat-panel]")
    panel.wait_for()
    quick_actions = panel.locator("[data-testid=chat-quick-action]")
    quick_actions.first.wait_for()
    assert quick_actions.all_inner_texts() == ["Track my order", "Start a return", "Talk to us"]
    assert panel.locator("[data-testid=chat-quick-actions-loading]").count() == 0
    assert panel.locator("[data-testid=chat-offline]").count() == 0

    search = panel.locator("[data-testid=chat-search-input]")
    search.fill("return")
    search.press("Enter")
    results = panel.locator("[data-testid=chat-search-result]")
    results.first.wait_for()
    assert "Returns and exchanges" in results.first.inner_text()
    search.fill("kayak rental")
    search.press("Enter")
    panel.locator("[data-testid=chat-search-empty]").wait_for()

    panel.locator("[data-testid=chat-start]").click()
    panel.locator("[data-testid=chat-message-input]").fill("allclear test, please ignore")
    panel.locator("[data-testid=chat-send]").click()
    status = panel.locator("[data-testid=chat-message-status]")
    status.filter(has_text="Sent").wait_for()
    assert status.inner_text() == "Sent"
    [conversation] = sandbox.chat.conversations.values()
    assert [m["text"] for m in conversation.messages] == ["allclear test, please ignore"]
    assert page.console_errors == []


def test_widget_quick_actions_that_never_load(sandbox, page):
    fault(sandbox, "chat-quick-actions-fail")
    page.goto(sandbox.url + "/website/")
    page.click("[data-testid=chat-launcher]")
    page.locator("[data-testid=chat-search-input]").wait_for()
    page.wait_for_timeout(3000)
    assert page.locator("[data-testid=chat-quick-actions-loading]").is_visible()
    assert page.locator("[data-testid=chat-quick-action]").count() == 0
    assert any("quick actions" in error for error in page.console_errors)     # retried, and said so


@pytest.mark.parametrize("faults, clock, visible, absent", [
    (["chat-throttled"], TUESDAY_NOON, [], ["chat-launcher"]),
    (["chat-search-off"], TUESDAY_NOON, ["chat-panel", "chat-start"],
     ["chat-search-input", "chat-quick-actions", "chat-offline"]),
    ([], SUNDAY_NOON, ["chat-panel", "chat-search-input", "chat-quick-action", "chat-offline"], ["chat-start"]),
], ids=["throttled", "search-off", "off-hours"])
def test_widget_configuration_shapes_the_panel(sandbox, page, faults, clock, visible, absent):
    fault(sandbox, *faults)
    sandbox.chat.clock = lambda: clock
    page.goto(sandbox.url + "/website/")
    if visible:
        page.click("[data-testid=chat-launcher]")
    else:
        page.wait_for_load_state("networkidle")
    for testid in visible:
        page.locator(f"[data-testid={testid}]").first.wait_for()
    for testid in absent:
        assert page.locator(f"[data-testid={testid}]").count() == 0, testid
    if "chat-offline" in visible:
        assert page.inner_text("[data-testid=chat-offline]") == "Our team is away right now. " \
                                                                "We're back during business hours."
    assert page.console_errors == []
