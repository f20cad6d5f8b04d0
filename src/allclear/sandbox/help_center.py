"""The sandbox's help center under `/help`, and the vendor's public answers API beside it.

A handful of articles kept in memory, served as pages a customer browses (home, article, search)
and through the token-free answers API the chat widget's FAQ search calls:
`GET /api/v1/orgs/{orgId}/answers-search?q=&lng=` and `GET /api/v1/orgs/{orgId}/answers/{answerId}`.
Unlike the reporting API beside them under `/api/v1`, these need no credentials.
"""

from __future__ import annotations

import asyncio
import html as html_text
from dataclasses import dataclass

from aiohttp import web

from allclear.sandbox.parts import FaultKinds
from allclear.sandbox.platform import STATE, html, page

FAULTS: FaultKinds = {
    "helpcenter-maintenance": (None, "every help-center page and the answers API show the maintenance page"),
    "helpcenter-hangs": (None, "help-center pages start loading and never finish"),
    "helpcenter-search-broken": (None, "help-center search and the answers-search API answer 500"),
}
ORDER = 80
TITLE = "Sandbox Support Help Center"
LANGUAGE = "en-us"


@dataclass(frozen=True)
class Article:
    id: str
    name: str
    paragraphs: tuple[str, ...]
    updated_at: str

    @property
    def body_html(self) -> str:
        return "".join(f"<p>{html_text.escape(text)}</p>" for text in self.paragraphs)

    @property
    def text(self) -> str:
        return " ".join(self.paragraphs)

    def snippet(self, length: int = 140) -> str:
        text = self.text
        return text if len(text) <= length else text[: length - 1].rsplit(" ", 1)[0] + "…"

    def matches(self, query: str) -> bool:
        query = query.casefold()
        return query in self.name.casefold() or query in self.text.casefold()


# Their text never says "maintenance": checks look for that word to tell the maintenance page.
ARTICLES: dict[str, Article] = {article.id: article for article in [
    Article("returns", "Returns and exchanges", (
        "You can return most items within 30 days of delivery, unworn and with their tags attached.",
        "To start a return, open the chat on our website and choose Start a return, or reply to your order "
        "confirmation email. We will send you a prepaid shipping label.",
        "Refunds go back to your original payment method within 5 business days of the return reaching us.",
    ), "2026-10-02T17:20:00.000Z"),
    Article("shipping", "Shipping times and costs", (
        "Standard shipping is free on orders over $75 and takes 3 to 5 business days.",
        "Express shipping arrives in 1 to 2 business days and costs $15. Orders placed before noon "
        "Pacific time ship the same day.",
        "We ship to the United States and Canada. Duties for Canadian orders are included at checkout.",
    ), "2026-09-14T09:05:00.000Z"),
    Article("password-reset", "Reset your account password", (
        "On the sign-in page, choose Forgot your password and enter the email address of your account.",
        "We email you a link to set a new password. The link works once and expires after one hour.",
        "No email after ten minutes? Check your spam folder, then contact us and we will help you sign in.",
    ), "2026-08-30T12:00:00.000Z"),
    Article("order-tracking", "Track your order", (
        "As soon as your order ships we email you a tracking number and a link to the carrier's page.",
        "You can also track an order from your account under Orders, or ask in the chat with Track my order.",
        "Tracking can take up to 24 hours to show the first scan after the label is created.",
    ), "2026-10-11T15:45:00.000Z"),
    Article("warranty", "Our lifetime warranty", (
        "Every Sandbox Outfitters product carries a lifetime warranty against defects in materials and "
        "workmanship.",
        "If something fails, send us a photo of the problem and your order number. We repair or replace "
        "the item, or refund it if we can do neither.",
        "The warranty does not cover normal wear, accidents, or changes made to the product.",
    ), "2026-07-21T08:30:00.000Z"),
]}


def _layout(title: str, body: str, query: str = "", status: int = 200) -> web.Response:
    text = (page("help-layout.html").replace("__TITLE__", html_text.escape(title))
            .replace("__QUERY__", html_text.escape(query, quote=True)).replace("__BODY__", body))
    return html(text, status=status)


def _in_maintenance(request: web.Request) -> web.Response | None:
    if request.app[STATE].faults.active("helpcenter-maintenance"):
        return html(page("maintenance.html"), status=503)
    return None


async def _never_finishes(request: web.Request) -> web.StreamResponse:
    """`helpcenter-hangs`: the page starts (headers, the top of its HTML) and never finishes loading."""
    response = web.StreamResponse(headers={"Content-Type": "text/html; charset=utf-8"})
    await response.prepare(request)
    await response.write(f"<!doctype html><html><head><title>{html_text.escape(TITLE)}</title></head>"
                         "<body><p>Loading".encode())
    while request.app[STATE].faults.active("helpcenter-hangs"):
        await asyncio.sleep(0.25)
    await response.write(b"</p></body></html>")
    return response


def _search(query: str) -> list[Article]:
    query = query.strip()
    return [article for article in ARTICLES.values() if query and article.matches(query)]


async def home_redirect(request: web.Request) -> web.Response:
    raise web.HTTPFound("/help/")


async def home(request: web.Request) -> web.StreamResponse:
    if request.app[STATE].faults.active("helpcenter-hangs"):
        return await _never_finishes(request)
    if down := _in_maintenance(request):
        return down
    links = "".join(f'<li><a class="article-link" href="/help/articles/{a.id}">{html_text.escape(a.name)}</a></li>'
                    for a in ARTICLES.values())
    body = f"<h1>How can we help?</h1><h2>Popular articles</h2><ul class=\"articles\">{links}</ul>"
    return _layout(TITLE, body)


async def article_page(request: web.Request) -> web.StreamResponse:
    if request.app[STATE].faults.active("helpcenter-hangs"):
        return await _never_finishes(request)
    if down := _in_maintenance(request):
        return down
    article = ARTICLES.get(request.match_info["article_id"])
    if article is None:
        return _layout(f"Not found · {TITLE}", "<h1>Article not found</h1>"
                       '<p>It may have moved. Try searching, or go back to the <a href="/help/">help center</a>.</p>',
                       status=404)
    body = (f"<h1>{html_text.escape(article.name)}</h1>"
            f'<article data-testid="article-body">{article.body_html}</article>'
            f'<p class="updated">Updated {article.updated_at[:10]}</p>')
    return _layout(f"{article.name} · {TITLE}", body)


async def search_page(request: web.Request) -> web.StreamResponse:
    if request.app[STATE].faults.active("helpcenter-hangs"):
        return await _never_finishes(request)
    if down := _in_maintenance(request):
        return down
    query = request.query.get("q", "")
    if request.app[STATE].faults.active("helpcenter-search-broken"):
        return _layout(f"Error · {TITLE}", "<h1>Something went wrong</h1><p>Search is not working. Please try "
                       "again later.</p>", query=query, status=500)
    found = _search(query)
    if found:
        items = "".join(f'<li class="search-result"><a href="/help/articles/{a.id}">{html_text.escape(a.name)}</a>'
                        f"<p>{html_text.escape(a.snippet())}</p></li>" for a in found)
        results = f'<ul class="search-results">{items}</ul>'
    else:
        results = f'<p class="no-results">No articles match “{html_text.escape(query)}”.</p>'
    body = f"<h1>Search results</h1>{results}"
    return _layout(f"Search: {query} · {TITLE}", body, query=query)


async def answers_search(request: web.Request) -> web.Response:
    if down := _in_maintenance(request):
        return down
    faults = request.app[STATE].faults
    if faults.active("maintenance"):   # reached only if a middleware spares this path; see chat_widget
        return html(page("maintenance.html"), status=503)
    if faults.active("helpcenter-search-broken"):
        return web.json_response({"errors": [{"code": "internal", "detail": "Internal Server Error"}]}, status=500)
    return web.json_response([{"id": a.id, "name": a.name, "snippet": a.snippet()}
                              for a in _search(request.query.get("q", ""))])


async def answer(request: web.Request) -> web.Response:
    if down := _in_maintenance(request):
        return down
    article = ARTICLES.get(request.match_info["answer_id"])
    if article is None:
        return web.json_response({"errors": [{"code": "not_found", "detail": "no such answer"}]}, status=404)
    return web.json_response({"id": article.id, "name": article.name, "bodyHtml": article.body_html,
                              "language": request.query.get("lng", LANGUAGE), "updatedAt": article.updated_at})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/help", home_redirect)
    app.router.add_get("/help/", home)
    app.router.add_get("/help/articles/{article_id}", article_page)
    app.router.add_get("/help/search", search_page)
    app.router.add_get("/api/v1/orgs/{org_id}/answers-search", answers_search)
    app.router.add_get("/api/v1/orgs/{org_id}/answers/{answer_id}", answer)

