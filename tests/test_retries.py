"""Retries: only when the target asks for them, shown as retried, never hiding a failure that persists.

`reports-flaky:1` makes the sandbox's reporting API answer its first request with a 503 and then
recover: a transient failure.
"""

import json

import pytest

from tests.conftest import write_target

pytestmark = pytest.mark.slow

ONE_RETRY = {"retries": {"reporting_api": {"count": 1, "backoff_s": 0.2, "deadline_s": 30.0}}}


def test_without_retries_a_transient_failure_is_reported(run_go, tmp_path):
    result = run_go("--sandbox-fault", "reports-flaky:1", checks=("test_reporting_api.py",))

    item = result.item("reporting_api")
    assert (item["outcome"], item["grade"], item["probes_failed"]) == ("failed", "P2", 1)
    assert not any(probe["retried"] for probe in item["probes"])


def test_a_retry_that_passes_is_shown_as_retried(run_go, tmp_path):
    target = write_target(tmp_path, ONE_RETRY)
    result = run_go("--sandbox-fault", "reports-flaky:1", target=target, checks=("test_reporting_api.py",))

    item = result.item("reporting_api")
    assert (item["outcome"], item["grade"]) == ("passed", None)
    retried = [probe for probe in item["probes"] if probe["retried"]]
    assert len(retried) == 1
    assert retried[0]["retried"][0].startswith("try 1 failed:") and "HTTP 503" in retried[0]["retried"][0]
    assert retried[0]["message"].startswith("passed on try 2")
    assert "trying again in 0.2 s" in result.output and "passed on try 2" in result.output
    flagged = [json.loads(path.read_text()) for path in (result.reports / "allure-results").glob("*-result.json")]
    flagged = [r for r in flagged if {"name": "tag", "value": "retried"} in r["labels"]]
    assert len(flagged) == 1 and flagged[0]["statusDetails"]["flaky"] is True and flagged[0]["status"] == "passed"


def test_a_failure_that_persists_stays_a_failure_after_every_retry(run_go, tmp_path):
    target = write_target(tmp_path, {"retries": {"reporting_api": {"count": 2, "backoff_s": 0.1}}})
    result = run_go("--sandbox-fault", "reports-503", target=target, checks=("test_reporting_api.py",))

    item = result.item("reporting_api")
    assert (item["outcome"], item["grade"], item["probes_failed"]) == ("failed", "P2", 3)
    assert all(len(probe["retried"]) == 2 for probe in item["probes"])
    assert "(after 3 tries)" in result.output


def test_a_probe_that_cannot_run_is_retried_and_stays_inconclusive(run_go, tmp_path):
    target = write_target(tmp_path, ONE_RETRY)
    result = run_go("--sandbox-fault", "reports-401", target=target, checks=("test_reporting_api.py",))

    item = result.item("reporting_api")
    assert item["outcome"] == "inconclusive"
    assert all(probe["retried"][0].startswith("try 1 inconclusive: could not verify") for probe in item["probes"])
