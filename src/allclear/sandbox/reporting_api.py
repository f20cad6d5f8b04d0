"""The sandbox's reporting API, shaped like the vendor's: `POST /api/v1/reports` answers CSV.

Body `{metricSet, timezone, startAt, endAt}` (dates `YYYY-MM-DD`), HTTP Basic auth of the API
user's email and token; a bad request answers `400 {"errors": [{attr, code, detail}]}`.
"""

from __future__ import annotations

import asyncio
import csv
import io
import uuid
from datetime import date

from aiohttp import web

from allclear.sandbox.parts import FaultKinds
from allclear.sandbox.platform import STATE

FAULTS: FaultKinds = {
    "reports-503": (None, "the reporting API answers 503"),
    "reports-flaky": (int, "the reporting API answers 503 to its first N requests, then recovers"),
    "reports-401": (None, "the reporting API rejects the API token"),
    "reports-slow": (float, "the reporting API answers after SECONDS"),
    "reports-silent": (None, "the reporting API accepts connections and never answers"),
}
ORDER = 20
METRIC_SETS: dict[str, list[str]] = {
    "AgentSummaryV2": ["Agent Name", "Agent Email", "Conversations Handled", "Average Handle Time"],
    "ContactSummaryReport": ["Channel", "Contacts Received", "Contacts Handled", "Average Wait Time"],
    "WorkSessionsReportV3": ["Agent Name", "Channel", "Work Session Started", "Work Session Ended"],
    "ChannelWaitTimeReportV2": ["Channel", "Average Wait Time", "Longest Wait Time"],
}


def _error(status: int, attr: str, code: str, detail: str) -> web.Response:
    return web.json_response({"errors": [{"attr": attr, "code": code, "detail": detail}]}, status=status)


async def _guard(request: web.Request) -> web.Response | None:
    state = request.app[STATE]
    while state.faults.active("reports-silent"):       # the request is read; no answer ever comes
        await asyncio.sleep(0.25)
    if state.faults.active("reports-slow"):
        await asyncio.sleep(state.faults.arg("reports-slow"))
    state.api_requests += 1
    if state.faults.active("reports-503") or state.api_requests <= int(state.faults.arg("reports-flaky")):
        return web.json_response({"errors": [{"code": "unavailable", "detail": "Service Unavailable"}]},
                                 status=503)
    if not state.api_authorized(request):
        return web.json_response({"errors": [{"code": "unauthorized", "detail": "Unauthorized"}]},
                                 status=401, headers={"WWW-Authenticate": 'Basic realm="api"'})
    return None


async def create_report(request: web.Request) -> web.Response:
    if refused := await _guard(request):
        return refused
    try:
        body = await request.json()
    except ValueError:
        return _error(400, "body", "invalid", "body must be JSON")
    metric_set = body.get("metricSet")
    if metric_set not in METRIC_SETS:
        return _error(400, "metricSet", "invalid", f"unknown metric set {metric_set!r}")
    for attr in ("startAt", "endAt"):
        try:
            date.fromisoformat(str(body.get(attr)))
        except ValueError:
            return _error(400, attr, "invalid", "must be a date YYYY-MM-DD")
    if not body.get("timezone"):
        return _error(400, "timezone", "blank", "timezone is required")
    state = request.app[STATE]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(METRIC_SETS[metric_set])
    for account in state.agents.values():
        writer.writerow([account.name, account.email, account.logins, "00:04:10"][: len(METRIC_SETS[metric_set])])
    filename = f"{metric_set}-{body['startAt']}-{body['endAt']}.csv"
    return web.Response(text=buffer.getvalue(), content_type="text/csv",
                        headers={"Content-Disposition": f'attachment; filename="{filename}"'})


async def list_agents(request: web.Request) -> web.Response:
    if refused := await _guard(request):
        return refused
    state = request.app[STATE]
    return web.json_response([
        {"id": f"agent{index:04d}", "name": account.name, "emailAddress": account.email}
        for index, account in enumerate(state.agents.values(), start=1)
    ])


async def organization(request: web.Request) -> web.Response:
    if refused := await _guard(request):
        return refused
    return web.json_response({"id": "sandbox-org", "name": "Sandbox Support", "timezone": "UTC"})


async def _request_id(request: web.Request, response: web.StreamResponse) -> None:
    """Every API answer carries a request id, as real APIs do: the vendor ticket quotes it."""
    if request.path.startswith("/api/v1/"):
        response.headers.setdefault("X-Request-Id", uuid.uuid4().hex)


def add_routes(app: web.Application) -> None:
    app.on_response_prepare.append(_request_id)
    app.router.add_post("/api/v1/reports", create_report)
    app.router.add_get("/api/v1/agents", list_agents)
    app.router.add_get("/api/v1/organization", organization)
