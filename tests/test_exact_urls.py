"""A configured URL is requested exactly as written: servers that answer only `/help/` (404 on
`/help`) or only `/help` (404 on `/help/`) both work, and a path goes onto a base with one slash."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from allclear.config import validate_target
from allclear.config.fields import join_url
from allclear.probes.login_page import look_at_login_page
from allclear.probes.reporting_api import ReportingApi
from allclear.probes.statuspage import read_status_page

STATUS = {"status": {"indicator": "none", "description": "All Systems Operational"}}
NO_MAINTENANCES = {"scheduled_maintenances": []}


class StrictSite:
    """A server that knows each page at exactly one path, like many real ones: anything else is 404."""

    def __init__(self, pages: dict[str, tuple[str, str]]):
        self.pages, self.asked = pages, []
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                site.asked.append(self.path)
                content_type, body = site.pages.get(self.path, ("text/plain", None))
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Type", content_type)
                self.end_headers()
                self.wfile.write((body or "not found").encode())

            do_POST = do_GET

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def site():
    sites = []

    def serve(pages):
        sites.append(StrictSite(pages))
        return sites[-1]

    yield serve
    for started in sites:
        started.close()


@pytest.mark.parametrize("base, path, joined", [
    ("https://x.test/api/v1", "/reports", "https://x.test/api/v1/reports"),
    ("https://x.test/api/v1/", "/reports", "https://x.test/api/v1/reports"),
    ("https://x.test/api/v1/", "reports", "https://x.test/api/v1/reports"),
    ("https://status.x.test", "api/v2/status.json", "https://status.x.test/api/v2/status.json"),
])
def test_join_puts_one_slash_between_base_and_path(base, path, joined):
    assert join_url(base, path) == joined


@pytest.mark.parametrize("written", ["https://x.test/help/", "https://x.test/help", "https://x.test/site/?a=1"])
def test_the_target_keeps_a_url_as_written(written):
    site = {"url": written, "expected_title": "Help"}
    target = validate_target({"name": "x", "agents": [], "help_center": {"sites": [site]},
                              "chat_widget": {"pages": [written]}, "login": {"url": written}}, Path("t.toml"))
    assert (target.help_center.sites[0].url, target.chat_widget.pages[0], target.login.url) == (written,) * 3


@pytest.mark.parametrize("path", ["/login/", "/login"])
def test_login_page_is_fetched_at_its_own_path(site, path):
    served = site({path: ("text/html", "<title>Sign in</title><form>...</form>")})
    look = look_at_login_page(served.url + path, ["maintenance"], 5)
    assert (look.status, look.problem, served.asked) == (200, "", [path])


@pytest.mark.parametrize("base", ["/status/", "/status"])
def test_status_page_under_a_base_with_or_without_its_slash(site, base):
    none = ("application/json", json.dumps(NO_MAINTENANCES))
    served = site({"/status/api/v2/status.json": ("application/json", json.dumps(STATUS)),
                   "/status/api/v2/scheduled-maintenances/active.json": none,
                   "/status/api/v2/scheduled-maintenances.json": none})
    seen = read_status_page(served.url + base, 5)
    assert (seen.problem, seen.indicator) == ("", "none")


@pytest.mark.parametrize("base", ["/api/v1/", "/api/v1"])
def test_reporting_api_under_a_base_with_or_without_its_slash(site, base):
    served = site({"/api/v1/agents": ("application/json", json.dumps([{"id": "a1"}]))})
    with ReportingApi(served.url + base, "ops@x.test", "token", 5) as api:
        seen = api.agents()
    assert (seen.status, seen.items, seen.url) == (200, 1, f"{served.url}/api/v1/agents")
