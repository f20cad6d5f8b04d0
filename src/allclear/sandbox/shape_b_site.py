"""Sandbox B's customer side: a website whose chat widget lives in an iframe, and a knowledge base with
its own search URL, both only at their trailing-slash URLs, with other class names and texts than
sandbox A's. The widget reads the same configuration and answers as A's (chat_widget.py,
help_center.py), so every chat and help-center fault acts here too.
"""

from __future__ import annotations

import html as html_text

from aiohttp import web

from allclear.sandbox.chat_widget import APP_ID, script
from allclear.sandbox.help_center import ARTICLES, _in_maintenance, _never_finishes, _search
from allclear.sandbox.parts import FaultKinds
from allclear.sandbox.platform import STATE, html, page

FAULTS: FaultKinds = {}          # sandbox A's chat and help-center faults, from the shared switchboard
ORDER = 75
STAYS_UP_IN_MAINTENANCE = ("/site/", "/assets/chat/")      # the customer's website and the widget's loader
KB_TITLE = "Outfitters Knowledge Base"


async def website(request: web.Request) -> web.Response:
    return html(page("b-site.html").replace("__APP_ID__", APP_ID))


async def loader(request: web.Request) -> web.Response:
    return script(request, "b-loader.js")


async def chat_frame(request: web.Request) -> web.Response:
    return html(page("b-chat-frame.html"))


def _kb(title: str, body: str, status: int = 200) -> web.Response:
    return html(f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{html_text.escape(title)}</title>
<link rel="icon" href="data:,"><style>body{{font:15px Georgia,serif;margin:2em auto;max-width:44em}}</style></head>
<body><nav><a href="/kb/">{KB_TITLE}</a> · <form action="/kb/find/" style="display:inline">
<input name="term" aria-label="Find an answer"><button>Find</button></form></nav>{body}</body></html>""", status)


async def _unavailable(request: web.Request) -> web.StreamResponse | None:
    if request.app[STATE].faults.active("helpcenter-hangs"):
        return await _never_finishes(request)
    return _in_maintenance(request)


async def kb_home(request: web.Request) -> web.StreamResponse:
    if down := await _unavailable(request):
        return down
    links = "".join(f'<li><a class="kb-link" href="/kb/a/{a.id}/">{html_text.escape(a.name)}</a></li>'
                    for a in ARTICLES.values())
    return _kb(KB_TITLE, f'<h1>Answers</h1><ul class="kb-list">{links}</ul>')


async def kb_article(request: web.Request) -> web.StreamResponse:
    if down := await _unavailable(request):
        return down
    article = ARTICLES.get(request.match_info["article_id"])
    if article is None:
        return _kb(f"Missing · {KB_TITLE}", "<h1>No such answer</h1>", status=404)
    return _kb(f"{article.name} | {KB_TITLE}",
               f'<h1>{html_text.escape(article.name)}</h1><div class="kb-article-body">{article.body_html}</div>')


async def kb_find(request: web.Request) -> web.StreamResponse:
    if down := await _unavailable(request):
        return down
    if request.app[STATE].faults.active("helpcenter-search-broken"):
        return _kb(f"Oops · {KB_TITLE}", "<h1>Search is down</h1>", status=500)
    term = request.query.get("term", "")
    hits = "".join(f'<div class="kb-hit"><a href="/kb/a/{a.id}/">{html_text.escape(a.name)}</a></div>'
                   for a in _search(term)) or "<p>Nothing found.</p>"
    return _kb(f"“{term}” · {KB_TITLE}", f"<h1>Found</h1>{hits}")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/site/", website)
    app.router.add_get("/assets/chat/loader.js", loader)
    app.router.add_get("/assets/chat/frame/", chat_frame)
    app.router.add_get("/kb/", kb_home)
    app.router.add_get("/kb/a/{article_id}/", kb_article)
    app.router.add_get("/kb/find/", kb_find)
