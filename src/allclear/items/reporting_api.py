"""Reporting API: each configured report comes back as a CSV with its columns; the agents endpoint answers."""

from __future__ import annotations

from pydantic import Field

from allclear.config.fields import EnvName, Seconds, Section, TimeZone, Url, join_url
from allclear.items import GoItem, Parameter


class ReportSpec(Section):
    metric_set: str
    expected_columns: list[str] = Field(min_length=1)
    days_back: int = Field(default=1, ge=0)


class ReportingApiCheck(Section):
    enabled: bool = True
    api_base: Url
    user: str
    token_env: EnvName
    time_zone: TimeZone = "UTC"
    budget_s: Seconds = 10.0
    timeout_s: Seconds = 60.0
    reports: list[ReportSpec] = Field(min_length=1)


def _reproduce(api: ReportingApiCheck, probes: str) -> list[str]:
    return [f"POST {join_url(api.api_base, 'reports')} as {api.user} (HTTP Basic, API token) for: {probes}.",
            "Expected: 200 with a CSV of the report's columns."]


ITEM = GoItem(
    key="reporting_api", title="The reporting API answers with valid data", order=2, name="Reporting API",
    probe=("API request", "API requests"), settings=ReportingApiCheck,
    parameter=Parameter("report_spec", lambda target: target.reporting_api.reports if target.reporting_api else [],
                        id=lambda report: report.metric_set),
    cap="P2", reproduce=_reproduce,
)
