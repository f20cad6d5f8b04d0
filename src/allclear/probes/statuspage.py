"""Status page probe: read a Statuspage-hosted page's public v2 JSON.

The vendor posts the end of a maintenance there; a just-ended maintenance tells when the window
ended, which decides when the email check may send (the vendor asks for 15 minutes after). A
maintenance ends when it is `verifying` (the work is done and the vendor is checking it: the very
moment to run the checklist) or `completed`, whichever comes first. While one is `in_progress` the
window has not ended, whatever an earlier maintenance says.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone, tzinfo

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
    verifying_at: datetime | None = None

    @property
    def ended_at(self) -> datetime | None:
        """The first of `verifying` and `completed`: the work was done then."""
        return min((t for t in (self.verifying_at, self.completed_at) if t), default=None)

    def described(self, zone: tzinfo = timezone.utc) -> str:
        if self.status == "in_progress":
            until = self.scheduled_until
            scheduled = f", scheduled until {until.astimezone(zone):%H:%M %Z}" if until else ""
            return f"{self.name!r} is in progress{scheduled}"
        if self.status == "verifying" and self.verifying_at:
            return f"{self.name!r} is verifying (work done {self.verifying_at.astimezone(zone):%H:%M:%S %Z})"
        if self.ended_at:
            return f"{self.name!r} completed {self.ended_at.astimezone(zone):%H:%M:%S %Z}"
        return f"{self.name!r} is {self.status.replace('_', ' ')}"


@dataclass
class StatusPageObservation:
    url: str
    indicator: str = ""
    description: str = ""
    active: list[Maintenance] = field(default_factory=list)
    latest_ended: Maintenance | None = None     # verifying or completed, the most recent end
    problem: str = ""
    steps: StepLog = field(default_factory=StepLog)

    @property
    def in_progress(self) -> list[Maintenance]:
        """Maintenances still under way: the window has not ended (`verifying` is not among them)."""
        return [m for m in self.active if m.status == "in_progress"]

    @property
    def verifying(self) -> list[Maintenance]:
        return [m for m in self.active if m.status == "verifying"]

    @property
    def window_end(self) -> Maintenance | None:
        """The maintenance whose end is the window's: the latest ended, and only while none is in progress."""
        return None if self.in_progress else self.latest_ended


def _when(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def _update_at(raw: dict, status: str) -> datetime | None:
    """When the maintenance's first update of that status was posted."""
    times = [_when(u.get("created_at")) for u in raw.get("incident_updates", []) if u.get("status") == status]
    return min((t for t in times if t), default=None)


def _maintenance(raw: dict) -> Maintenance:
    completed_at = _when(raw.get("resolved_at")) or _update_at(raw, "completed")
    return Maintenance(name=raw.get("name", "?"), status=raw.get("status", "?"),
                       scheduled_for=_when(raw.get("scheduled_for")),
                       scheduled_until=_when(raw.get("scheduled_until")),
                       completed_at=completed_at, shortlink=raw.get("shortlink", ""),
                       verifying_at=_update_at(raw, "verifying"))


def read_status_page(url: str, timeout_s: float, transport: httpx.BaseTransport | None = None) -> StatusPageObservation:
    seen = StatusPageObservation(url=url)
    with seen.steps(f"Read the status page: its status and its maintenances ({url})") as step:
        _read(seen, url, timeout_s, transport)
        if seen.problem:
            step.fail(seen.problem)
        elif seen.in_progress:
            step.fail(f"{seen.in_progress[0].name!r} is still in progress")
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
            ended = [m for m in map(_maintenance, everything.json()["scheduled_maintenances"])
                     if m.status in ("verifying", "completed") and m.ended_at]
            seen.latest_ended = max(ended, key=lambda m: m.ended_at, default=None)
    except httpx.HTTPStatusError as exc:
        seen.problem = f"HTTP {exc.response.status_code} from {exc.request.url}"
    except httpx.HTTPError as exc:
        seen.problem = f"could not read {url}: {one_line(exc)}"
    except (ValueError, KeyError, TypeError) as exc:
        seen.problem = f"not a Statuspage v2 answer from {url}: {exc!r}"
