"""The sandbox's status page, in the Statuspage v2 public JSON shapes, under `/statuspage`.

One scheduled maintenance: completed some hours before the sandbox started (so a healthy run has
no email delay to wait out), or in progress while the `maintenance` fault is on (the vendor posts
the completion only once the work is done). Once the `maintenance` fault has been on, the
maintenance is that one: in progress from when it was switched on, completed when it was switched
off (or its `maintenance-for` time ran out), as `allclear watch` expects.

`statuspage-in-progress` adds a second maintenance, in progress since a few minutes before the
sandbox started, beside the completed one (the page a run must not take for "the window ended");
`statuspage-verifying` puts that second one in `verifying`: the work was done 20 minutes before the
sandbox started and the vendor is checking it, which is when the checklist should run.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from aiohttp import web

from allclear.sandbox.parts import FaultKinds
from allclear.sandbox.platform import STATE

FAULTS: FaultKinds = {
    "statuspage-in-progress": (None, "the status page shows a second maintenance in progress (an earlier one "
                                     "completed)"),
    "statuspage-verifying": (None, "the status page shows a second maintenance verifying: done 20 min ago, "
                                   "the vendor checking it"),
}
SECOND = "Emergency network maintenance"
SECOND_STARTED_MIN_AGO = 40        # before the sandbox started; verifying from 20 minutes before it
SECOND_VERIFYING_MIN_AGO = 20
ORDER = 30
STAYS_UP_IN_MAINTENANCE = ("/statuspage",)     # the vendor's status page is not on its platform
COMPONENTS = ["Agent Desktop", "Voice", "Email", "Chat", "Help Center", "Reporting API"]
WINDOW_ENDED_HOURS_AGO = 3
STARTED_AT: web.AppKey[datetime] = web.AppKey("started_at", datetime)


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _page(request: web.Request) -> dict:
    return {"id": "sandbox", "name": "Sandbox Support Platform", "url": str(request.url.origin()) + "/statuspage",
            "time_zone": "Etc/UTC", "updated_at": _iso(request.app[STARTED_AT])}


def _in_progress(request: web.Request) -> bool:
    return request.app[STATE].faults.active("maintenance")


def _second(request: web.Request) -> dict | None:
    """The second maintenance of `statuspage-in-progress` / `statuspage-verifying`, or None."""
    faults = request.app[STATE].faults
    status = "in_progress" if faults.active("statuspage-in-progress") else \
        "verifying" if faults.active("statuspage-verifying") else None
    if status is None:
        return None
    started = request.app[STARTED_AT].replace(microsecond=0) - timedelta(minutes=SECOND_STARTED_MIN_AGO)
    verifying = request.app[STARTED_AT].replace(microsecond=0) - timedelta(minutes=SECOND_VERIFYING_MIN_AGO)
    return _shaped("sandbox-maint-2", SECOND, status, started, started + timedelta(hours=1),
                   [("in_progress", started, "We are performing network maintenance."),
                    *([("verifying", verifying, "The work is done; we are verifying it.")]
                      if status == "verifying" else [])])


def _shaped(ident: str, name: str, status: str, start: datetime, end: datetime,
            said: list[tuple[str, datetime, str]]) -> dict:
    """A scheduled maintenance as Statuspage lists it, its updates (status, when, text) newest first."""
    updates = [{"id": f"{ident}-upd-{n}", "status": state, "body": body, "created_at": _iso(when),
                "updated_at": _iso(when), "display_at": _iso(when)} for n, (state, when, body) in enumerate(said, 1)]
    return {
        "id": ident, "name": name, "status": status, "impact": "maintenance",
        "shortlink": f"https://stspg.io/{ident}", "created_at": _iso(start - timedelta(days=7)),
        "updated_at": _iso(said[-1][1]), "monitoring_at": None, "page_id": "sandbox",
        "resolved_at": _iso(end) if status == "completed" else None,
        "scheduled_for": _iso(start), "scheduled_until": _iso(end),
        "started_at": _iso(start), "incident_updates": updates[::-1], "components": [],
    }


def _maintenances(request: web.Request) -> list[dict]:
    """Every maintenance the page lists, newest first."""
    second = _second(request)
    return [second, _maintenance(request)] if second else [_maintenance(request)]


def _under_way(request: web.Request) -> bool:
    return any(m["status"] == "in_progress" for m in _maintenances(request))


def _maintenance(request: web.Request) -> dict:
    window_end = request.app[STARTED_AT].replace(microsecond=0) - timedelta(hours=WINDOW_ENDED_HOURS_AGO)
    window_start = window_end - timedelta(minutes=30)
    switched = request.app[STATE].faults.window
    if switched is not None:
        window_start, end = switched
        window_end = end or window_start + timedelta(minutes=30)      # while on: the scheduled end
    status = "in_progress" if _in_progress(request) else "completed"
    return _shaped("sandbox-maint-1", "Platform database upgrade", status, window_start, window_end,
                   [("in_progress", window_start, "Maintenance is in progress."),
                    *([("completed", window_end, "Maintenance has completed.")] if status == "completed" else [])])


def _status(request: web.Request) -> dict:
    if _under_way(request):
        return {"indicator": "maintenance", "description": "Service Under Maintenance"}
    return {"indicator": "none", "description": "All Systems Operational"}


async def status(request: web.Request) -> web.Response:
    return web.json_response({"page": _page(request), "status": _status(request)})


async def summary(request: web.Request) -> web.Response:
    component_status = "under_maintenance" if _under_way(request) else "operational"
    components = [{"id": f"comp-{i}", "name": name, "status": component_status, "position": i,
                   "description": None, "showcase": True, "group": False, "only_show_if_degraded": False}
                  for i, name in enumerate(COMPONENTS, start=1)]
    active = [m for m in _maintenances(request) if m["status"] != "completed"]
    return web.json_response({"page": _page(request), "components": components, "incidents": [],
                              "scheduled_maintenances": active, "status": _status(request)})


async def active(request: web.Request) -> web.Response:
    listed = [m for m in _maintenances(request) if m["status"] in ("in_progress", "verifying")]
    return web.json_response({"page": _page(request), "scheduled_maintenances": listed})


async def upcoming(request: web.Request) -> web.Response:
    return web.json_response({"page": _page(request), "scheduled_maintenances": []})


async def all_maintenances(request: web.Request) -> web.Response:
    return web.json_response({"page": _page(request), "scheduled_maintenances": _maintenances(request)})


async def _started(app: web.Application) -> None:
    app[STARTED_AT] = datetime.now(timezone.utc)


def add_routes(app: web.Application) -> None:
    app.on_startup.append(_started)
    app.router.add_get("/statuspage/api/v2/status.json", status)
    app.router.add_get("/statuspage/api/v2/summary.json", summary)
    app.router.add_get("/statuspage/api/v2/scheduled-maintenances/active.json", active)
    app.router.add_get("/statuspage/api/v2/scheduled-maintenances/upcoming.json", upcoming)
    app.router.add_get("/statuspage/api/v2/scheduled-maintenances.json", all_maintenances)
