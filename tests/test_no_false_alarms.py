"""No false alarms: the whole checklist, ten times in a row against each healthy sandbox shape, is
green every time: every item passed, none degraded (P4), none inconclusive, none retried. The two
shapes' runs go side by side, each loading the machine for the other, since a busy 2-core CI
machine is where a time budget would turn a healthy page into a P4.

It runs the targets as shipped (config/sandbox.toml and config/sandbox-b.toml: ten agents, the real
budgets and timeouts), as `make go` does, so what it shows is what a newcomer and a scheduled run
would meet.
"""

from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.conftest import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.long]

RUNS = 10
SHAPES = {"sandbox": ROOT / "config" / "sandbox.toml", "sandbox-b": ROOT / "config" / "sandbox-b.toml"}


def alarms_of(result, run: int, shape: str) -> list[str]:
    verdict = result.verdict
    alarms = [f"{shape} run {run}: {item['item']}/{probe['probe']}: {probe['outcome']} "
              f"{probe['message'] or probe['degraded'] or probe['retried']}"
              for item in verdict["items"] for probe in item["probes"]
              if probe["outcome"] != "passed" or probe["degraded"] or probe["retried"]]
    if verdict["verdict"] != "GO" or verdict["grade"] is not None or result.exit_code != 0:
        alarms.append(f"{shape} run {run}: {verdict['headline']} (exit {result.exit_code})")
    return alarms


def test_both_healthy_sandboxes_are_green_ten_times_in_a_row_side_by_side(run_go_in, tmp_path):
    def ten_runs(shape: str) -> list[str]:
        go = run_go_in(tmp_path / shape)
        return [alarm for run in range(1, RUNS + 1) for alarm in alarms_of(go(target=SHAPES[shape]), run, shape)]

    with ThreadPoolExecutor(max_workers=len(SHAPES)) as pool:
        alarms = [alarm for found in pool.map(ten_runs, SHAPES) for alarm in found]
    assert not alarms, "\n".join(alarms)
