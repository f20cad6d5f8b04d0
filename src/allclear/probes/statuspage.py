"""Status page probe: read a Statuspage-hosted page's public v2 JSON.

The vendor posts the end of a maintenance there; a just-completed maintenance tells when the
window ended, which decides when the email check may send (the vendor asks for 15 minutes after).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import httpx

from allclear.config.fields import join_url
from allclear.probes.errors import one_line
from allclear.probes.steps import StepLog


@dataclass
class Maintenance:
    name: str
    status: str
    scheduled_for: datetime | None
    scheduled_until: datetime | None
    completed_at: datetime | None
    shortlink: str = ""


@dataclass
class StatusPageObservation:
    url: str
    indicator: str = ""
    description: str = ""
    active: list[Maintenance] = field(default_factory=list)
    latest_completed: Maintenance | None = None
    problem: str = ""
    steps: StepLog = field(default_factory=StepLog)


def _when(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def _maintenance(raw: dict) -> Maintenance:
    completed_update = next((u for u in raw.get("incident_updates", []) if u.get("status") == "completed"), None)
    completed_at = _when(raw.get("resolved_at")) or _when(completed_update and completed_update.get("created_at"))
    return Maintenance(name=raw.get("name", "?"), status=raw.get("status", "?"),
                       scheduled_for=_when(raw.get("scheduled_for")),
                       scheduled_until=_when(raw.get("scheduled_until")),
                       completed_at=completed_at, shortlink=raw.get("shortlink", ""))


def read_status_page(url: str, timeout_s: float, transport: httpx.BaseTransport | None = None) -> StatusPageObservation:
    seen = StatusPageObservation(url=url)
    with seen.steps(f"Read the status page: its status and its maintenances ({url})") as step:
        _read(seen, url, timeout_s, transport)
        if seen.problem:
            step.fail(seen.problem)
        elif seen.active:
            step.fail(f"{seen.active[0].name!r} is still {seen.active[0].status.replace('_', ' ')}")
    return seen


def _read(seen: StatusPageObservation, url: str, timeout_s: float, transport: httpx.BaseTransport | None) -> None:
    try:
        with httpx.Client(timeout=timeout_s, transport=transport) as client:
            status = client.get(join_url(url, "api/v2/status.json"))
            status.raise_for_status()
            seen.indicator = status.json()["status"]["indicator"]
            seen.description = status.json()["status"]["description"]
            active = client.get(join_url(url, "api/v2/scheduled-maintenances/active.json"))
            active.raise_for_status()
            seen.active = [_maintenance(m) for m in active.json()["scheduled_maintenances"]]
            everything = client.get(join_url(url, "api/v2/scheduled-maintenances.json"))
            everything.raise_for_status()
            completed = [_maintenance(m) for m in everything.json()["scheduled_maintenances"]
                         if m.get("status") == "completed"]
            completed = [m for m in completed if m.completed_at]
            seen.latest_completed = max(completed, key=lambda m: m.completed_at, default=None)
    except httpx.HTTPStatusError as exc:
        seen.problem = f"HTTP {exc.response.status_code} from {exc.request.url}"
    except httpx.HTTPError as exc:
        seen.problem = f"could not read {url}: {one_line(exc)}"
    except (ValueError, KeyError, TypeError) as exc:
        seen.problem = f"not a Statuspage v2 answer from {url}: {exc!r}"
