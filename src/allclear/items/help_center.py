"""Help center: the home page (not the maintenance page), an article, search, and the certificate."""

from __future__ import annotations

from pydantic import Field

from allclear.config.fields import Seconds, Section, Url
from allclear.config.locators import Locator
from allclear.items import GoItem, Parameter


class HelpCenterSite(Section):
    name: str = ""
    url: Url                                         # the help center's home page
    expected_title: str                              # part of the home page's <title>
    article_link: Locator = "a[href*='/articles/']"  # a link to an article on the home page (its first)
    article_body: Locator = "article"                # the article's content
    article_min_chars: int = Field(default=100, ge=1)
    search_url: str = "{url}/search?q={query}"       # {url}: the home page without its trailing slash;
    #                                                  an absolute URL of its own works too
    search_result: Locator = ".search-result"
    search_queries: list[str] = ["password"]         # each must return at least one result
    cert_min_days: int = Field(default=14, ge=0)     # https only: the certificate must be valid this much longer
    ca_file: str = ""                                # extra CA bundle to trust (the sandbox's self-signed one)


class HelpCenterCheck(Section):
    enabled: bool = True
    sites: list[HelpCenterSite] = Field(min_length=1)
    maintenance_phrases: list[str] = ["maintenance"]
    page_timeout_s: Seconds = 20.0
    budget_s: Seconds = 5.0                           # a page slower than this: a P4 note


def _reproduce(help_center: HelpCenterCheck, probes: str) -> list[str]:
    return [f"Open the affected help center(s): {probes}.", "Open an article: it should have content.",
            "Search for: " + ", ".join(repr(q) for site in help_center.sites for q in site.search_queries)]


ITEM = GoItem(
    key="help_center", title="The help center loads and its search works", order=8, name="Help center",
    probe=("help center", "help centers"), settings=HelpCenterCheck,
    parameter=Parameter("help_center_site", lambda target: target.help_center.sites
                        if target.help_center and target.help_center.enabled else [],
                        id=lambda site: site.name or site.url),
    cap="P2", interactions="self-service: {failed} of {run} help centers unusable", reproduce=_reproduce,
)
