"""A cheap look at the login page (one HTTP GET, no browser): is the vendor's maintenance page up?

`allclear watch` asks this every poll interval during the window, for as long as it lasts; the Go
checklist's login item then signs in for real with a browser.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

import httpx

from allclear.probes.errors import one_line
from allclear.probes.maintenance import shows_maintenance

TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
TAGS = re.compile(r"<script.*?</script>|<style.*?</style>|<[^>]+>", re.IGNORECASE | re.DOTALL)


@dataclass
class LoginPageLook:
    url: str
    status: int | None = None
    title: str = ""
    maintenance: bool = False      # the maintenance page (its words, or HTTP 503)
    problem: str = ""              # unreachable, or a server error: not up either

    @property
    def up(self) -> bool:
        return self.status is not None and self.status < 500 and not self.maintenance and not self.problem

    def describe(self) -> str:
        if self.problem:
            return self.problem
        title = f" {self.title!r}" if self.title else ""
        return f"{'the maintenance page' if self.maintenance else 'up'} (HTTP {self.status}{title})"


def look_at_login_page(url: str, maintenance_phrases: list[str], timeout_s: float,
                       transport: httpx.BaseTransport | None = None) -> LoginPageLook:
    look = LoginPageLook(url)
    try:
        with httpx.Client(timeout=timeout_s, follow_redirects=True, transport=transport) as client:
            response = client.get(url)
    except httpx.HTTPError as exc:
        look.problem = f"unreachable: {one_line(exc)}"
        return look
    look.status = response.status_code
    body = response.text
    found = TITLE.search(body)
    look.title = " ".join(html.unescape(found.group(1)).split())[:120] if found else ""
    text = html.unescape(TAGS.sub(" ", body))
    look.maintenance = response.status_code == 503 or bool(shows_maintenance(text, maintenance_phrases))
    if response.status_code >= 500 and not look.maintenance:
        look.problem = f"HTTP {response.status_code} (a server error)"
    return look
