"""Reporting API probe (httpx): request a report as the vendor documents it and read its CSV header.

Reports are requested one at a time: the vendor limits concurrent report generation per org.
"""

from __future__ import annotations

import csv
import io
import re
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx

from allclear.config.fields import join_url
from allclear.probes.errors import CredentialsRejected, one_line
from allclear.probes.steps import StepLog

REQUEST_ID_HEADERS = ("x-request-id", "x-amzn-requestid", "x-correlation-id", "cf-ray")


@dataclass
class ApiObservation:
    """One API call: what came back, how fast, and the identifiers support will ask for."""

    url: str
    status: int | None = None
    seconds: float | None = None
    content_type: str = ""
    request_id: str = ""
    problem: str = ""
    columns: list[str] = field(default_factory=list)
    rows: int = 0
    items: int = 0
    steps: StepLog = field(default_factory=StepLog)


class ReportingApi:
    def __init__(self, api_base: str, user: str, token: str, timeout_s: float,
                 transport: httpx.BaseTransport | None = None):
        self.api_base = api_base
        self.client = httpx.Client(auth=(user, token), timeout=timeout_s,
                                   transport=transport, headers={"Accept": "text/csv, application/json"})

    def __enter__(self) -> ReportingApi:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.client.close()

    def report(self, metric_set: str, time_zone: str, days_back: int, today: date | None = None) -> ApiObservation:
        today = today or datetime.now(ZoneInfo(time_zone)).date()
        body = {"metricSet": metric_set, "timezone": time_zone,
                "startAt": (today - timedelta(days=days_back)).isoformat(), "endAt": today.isoformat()}
        seen, response = self._call("POST", "/reports", f"Ask for the report {metric_set}", json=body)
        if response is not None and response.status_code == 200:
            reader = csv.reader(io.StringIO(response.text))
            seen.columns = [column.strip() for column in next(reader, [])]
            seen.rows = sum(1 for _ in reader)
        return seen

    def agents(self) -> ApiObservation:
        seen, response = self._call("GET", "/agents", "List the agents")
        if response is not None and response.status_code == 200:
            try:
                listed = response.json()
                seen.items = len(listed) if isinstance(listed, list) else 0
                if not isinstance(listed, list):
                    seen.problem = f"expected a JSON list of agents, got {type(listed).__name__}"
            except ValueError:
                seen.problem = "the agents endpoint did not answer JSON"
        return seen

    def _call(self, method: str, path: str, step: str, **kwargs) -> tuple[ApiObservation, httpx.Response | None]:
        seen = ApiObservation(url=join_url(self.api_base, path))
        with seen.steps(f"{step} ({method} {path})") as noted:
            answered = self._answer(seen, method, path, **kwargs)
            if seen.problem:
                noted.fail(seen.problem)
        return seen, answered

    def _answer(self, seen: ApiObservation, method: str, path: str, **kwargs) -> httpx.Response | None:
        started = time.monotonic()
        try:
            response = self.client.request(method, seen.url, **kwargs)
        except httpx.TimeoutException:
            seen.seconds = round(time.monotonic() - started, 3)
            seen.problem = f"no answer within {self.client.timeout.read:g} s"
            return None
        except httpx.TransportError as exc:
            seen.seconds = round(time.monotonic() - started, 3)
            seen.problem = f"could not talk to {self.api_base}: {one_line(exc)}"
            return None
        seen.seconds = round(time.monotonic() - started, 3)
        seen.status = response.status_code
        seen.content_type = response.headers.get("content-type", "")
        seen.request_id = next((response.headers[h] for h in REQUEST_ID_HEADERS if h in response.headers), "")
        if response.status_code in (401, 403):
            raise CredentialsRejected(
                f"{method} {seen.url}: HTTP {response.status_code}: the API user's credentials were rejected "
                "(check the user and its token; reports need an administrator API user)")
        if response.status_code >= 400:
            seen.problem = f"HTTP {response.status_code}: {error_detail(response)}"
        return response


def error_detail(response: httpx.Response) -> str:
    if "html" in response.headers.get("content-type", ""):
        title = re.search(r"<title>(.*?)</title>", response.text, re.S | re.I)
        return f"an HTML page titled {title.group(1).strip()!r}" if title else "an HTML page"
    try:
        errors = response.json().get("errors", [])
        return "; ".join(f"{e.get('attr', '')} {e.get('code', '')} {e.get('detail', '')}".strip() for e in errors)
    except (ValueError, AttributeError):
        return response.text[:200].strip() or response.reason_phrase
