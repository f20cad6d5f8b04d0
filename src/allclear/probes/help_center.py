"""Help center probe: the home page (not the maintenance page), an article, search, and the custom
domain's TLS certificate. Pages go through the browser, since help centers are often rendered
client-side; the certificate is read with the standard library's ssl module (in a worker thread, so
the shared browser's other pages are not held up).
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from urllib.parse import quote_plus, urlsplit

from playwright.async_api import Browser, Page
from playwright.async_api import Error as PlaywrightError

from allclear.items.help_center import HelpCenterCheck, HelpCenterSite
from allclear.probes.locators import locate
from allclear.probes.walk import BrowserWalk, WalkRecord, page_error, title_and_maintenance


@dataclass
class PageVisit:
    url: str
    status: int | None = None
    title: str = ""
    seconds: float | None = None
    maintenance: bool = False
    problem: str = ""


@dataclass
class HelpCenterObservation(WalkRecord):
    home: PageVisit
    article: PageVisit | None = None
    article_chars: int = 0
    searches: dict[str, int] = field(default_factory=dict)     # query -> results
    search_visits: list[PageVisit] = field(default_factory=list)
    cert_days_left: float | None = None
    cert_problem: str = ""


def certificate_days_left(url: str, ca_file: str = "", timeout_s: float = 10.0) -> tuple[float | None, str]:
    """Days until the certificate of an https URL expires, verified against the system's CAs (plus
    `ca_file`); (None, why) when it cannot be verified."""
    parts = urlsplit(url)
    host, port = parts.hostname or "", parts.port or 443
    context = ssl.create_default_context()
    if ca_file:
        context.load_verify_locations(ca_file)
    try:
        with socket.create_connection((host, port), timeout=timeout_s) as raw, \
                context.wrap_socket(raw, server_hostname=host) as tls:
            not_after = tls.getpeercert()["notAfter"]
    except ssl.SSLCertVerificationError as exc:
        return None, f"the certificate of {host} is not valid: {exc.verify_message}"
    except (OSError, ssl.SSLError) as exc:
        return None, f"could not make a TLS connection to {host}:{port}: {exc}"
    expires = datetime.fromtimestamp(ssl.cert_time_to_seconds(not_after), timezone.utc)
    return round((expires - datetime.now(timezone.utc)).total_seconds() / 86400, 1), ""


class HelpCenterVisit:
    def __init__(self, browser: Browser, settings: HelpCenterCheck, evidence_dir: Path):
        self.browser, self.settings, self.evidence_dir = browser, settings, evidence_dir

    async def run(self, site: HelpCenterSite) -> HelpCenterObservation:
        seen = HelpCenterObservation(home=PageVisit(site.url))
        async with BrowserWalk(self.browser, seen, self.evidence_dir, self.settings.page_timeout_s,
                               ignore_https_errors=True) as walk:     # the certificate is checked on its own
            await walk.run([("Home page loads", partial(self._home, site=site)),
                            ("An article opens", partial(self._article, site=site)),
                            *[(f"Search {query!r} returns results", partial(self._search, site=site, query=query))
                              for query in site.search_queries]])
        if site.url.startswith("https://"):
            with walk.log("The certificate is valid long enough") as step:
                seen.cert_days_left, seen.cert_problem = await asyncio.to_thread(
                    certificate_days_left, site.url, site.ca_file, self.settings.page_timeout_s)
                if seen.cert_problem:
                    step.fail(seen.cert_problem)
        return seen

    async def _visit(self, page: Page, url: str) -> PageVisit:
        visit = PageVisit(url)
        started = time.monotonic()
        try:
            response = await page.goto(url, wait_until="load")
        except PlaywrightError as exc:
            visit.problem = f"{url} did not load: {page_error(exc)}"
            return visit
        visit.seconds = round(time.monotonic() - started, 3)
        visit.status = response.status if response else None
        visit.title, visit.maintenance = await title_and_maintenance(page, self.settings.maintenance_phrases)
        if visit.maintenance:
            visit.problem = f"{url} shows the maintenance page (title {visit.title!r})"
        elif visit.status and visit.status >= 400:
            visit.problem = f"{url} answered HTTP {visit.status} (title {visit.title!r})"
        return visit

    async def _home(self, page: Page, seen: HelpCenterObservation, site: HelpCenterSite) -> bool:
        seen.home = await self._visit(page, site.url)
        if not seen.home.problem and site.expected_title.lower() not in seen.home.title.lower():
            seen.home.problem = f"the home page's title is {seen.home.title!r}, not {site.expected_title!r}"
        seen.problem = seen.home.problem
        return not seen.problem

    async def _article(self, page: Page, seen: HelpCenterObservation, site: HelpCenterSite) -> bool:
        link = locate(page, site.article_link).first
        if await link.count() == 0:
            seen.problem = f"no article link ({site.article_link}) on the home page"
            return False
        seen.article = await self._visit(page, await link.evaluate("a => a.href"))
        if seen.article.problem:
            seen.problem = seen.article.problem
            return False
        body = locate(page, site.article_body)
        seen.article_chars = len((await body.first.inner_text()).strip()) if await body.count() else 0
        if seen.article_chars < site.article_min_chars:
            seen.problem = (f"the article {seen.article.url} has {seen.article_chars} characters of content "
                            f"in {site.article_body} (at least {site.article_min_chars} expected)")
            return False
        return True

    async def _search(self, page: Page, seen: HelpCenterObservation, site: HelpCenterSite, query: str) -> bool:
        url = site.search_url.format(url=site.url.rstrip("/"), query=quote_plus(query))
        visit = await self._visit(page, url)
        seen.search_visits.append(visit)
        seen.searches[query] = await locate(page, site.search_result).count() if not visit.problem else 0
        if visit.problem:
            seen.problem = f"search {query!r}: {visit.problem}"
        elif seen.searches[query] == 0:
            seen.problem = f"search {query!r} returned no results ({site.search_result} on {url})"
        return not seen.problem
