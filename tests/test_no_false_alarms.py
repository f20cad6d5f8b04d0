"""No false alarms: the whole checklist, ten times in a row against the healthy sandbox, is green
every time: every item passed, none degraded (P4), none inconclusive, none retried.

It runs the target as shipped (config/sandbox.toml: ten agents, the real budgets and timeouts),
as `make go` does, so what it shows is what a newcomer and a scheduled run would meet.
"""

import pytest

pytestmark = pytest.mark.slow

RUNS = 10


def test_the_healthy_sandbox_is_green_ten_times_in_a_row(run_go):
    alarms = []
    for run in range(1, RUNS + 1):
        result = run_go()
        verdict = result.verdict
        for item in verdict["items"]:
            for probe in item["probes"]:
                if probe["outcome"] != "passed" or probe["degraded"] or probe["retried"]:
                    alarms.append(f"run {run}: {item['item']}/{probe['probe']}: {probe['outcome']} "
                                  f"{probe['message'] or probe['degraded'] or probe['retried']}")
        if verdict["verdict"] != "GO" or verdict["grade"] is not None or result.exit_code != 0:
            alarms.append(f"run {run}: {verdict['headline']} (exit {result.exit_code})")
    assert not alarms, "\n".join(alarms)
