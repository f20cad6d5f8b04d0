"""The reporting API answers with valid data.

Each configured report is requested (one at a time, as the vendor asks) and must come back as a
CSV with the expected columns; the agents endpoint must answer too. Credentials the API rejects
are our problem to fix, so they make the item inconclusive, not a vendor failure.
"""

import pytest

from allclear.checklist import observation
from allclear.expect import expect
from allclear.probes.reporting_api import ReportingApi

pytestmark = pytest.mark.go


def reporting_api(target, secrets):
    api = target.reporting_api
    if api is None or not api.enabled:
        pytest.skip("the reporting API is switched off in the target")
    return ReportingApi(api.api_base, api.user, secrets[api.token_env], api.timeout_s)


@observation(serial="reporting_api")
def report(report_spec, target, secrets):
    with reporting_api(target, secrets) as api:
        return api.report(report_spec.metric_set, target.reporting_api.time_zone, report_spec.days_back)


@observation(serial="reporting_api")
def agents_list(target, secrets):
    with reporting_api(target, secrets) as api:
        return api.agents()


def test_report_has_expected_columns(report, report_spec, target, attach_observation, degraded, record_fact):
    api = target.reporting_api
    seen = attach_observation(report)
    record_fact("request_id", seen.request_id)

    expect(seen.status == 200, f"HTTP 200 with a {report_spec.metric_set} CSV", seen.problem or f"HTTP {seen.status}")
    missing = [column for column in report_spec.expected_columns if column not in seen.columns]
    expect(not missing, f"CSV columns {report_spec.expected_columns}", f"columns {seen.columns}, missing {missing}")
    if seen.seconds > api.budget_s:
        degraded(f"{report_spec.metric_set} took {seen.seconds:.1f} s (budget {api.budget_s:g} s)")


def test_agents_endpoint_answers(agents_list, target, attach_observation, degraded):
    seen = attach_observation(agents_list)

    expect(seen.status == 200 and not seen.problem, "HTTP 200 with the list of agents",
           seen.problem or f"HTTP {seen.status}")
    expect(seen.items > 0, "at least one agent listed", "an empty list")
    if seen.seconds > target.reporting_api.budget_s:
        degraded(f"the agents endpoint took {seen.seconds:.1f} s (budget {target.reporting_api.budget_s:g} s)")
