"""Grading per ../shared/SEVERITY.md, at its boundaries."""

import pytest

from allclear.config import Grading
from allclear.grading import ProbeResult, grade_item, run_grade, summarize_item, verdict

GRADING = Grading()


def probes(item: str, failed: int, total: int, inconclusive: int = 0) -> list[ProbeResult]:
    outcomes = ["failed"] * failed + ["inconclusive"] * inconclusive
    outcomes += ["passed"] * (total - len(outcomes))
    return [ProbeResult(item=item, probe=f"p{i}", outcome=o) for i, o in enumerate(outcomes)]


@pytest.mark.parametrize("failed, total, grade", [
    (3, 10, "P1"),   # 30% of agents: a system outage
    (2, 10, "P2"),   # under 30%: a major impairment
    (1, 10, "P3"),   # a single agent
    (0, 10, None),
    (1, 1, "P1"),    # the only support line
    (1, 3, "P1"),    # 33%
    (1, 5, "P2"),    # 1 of 5 lines busy: a major impairment, not a single-agent loss
    (1, 12, "P3"),
    (10, 10, "P1"),
])
def test_core_item_grades_by_fraction(failed, total, grade):
    assert grade_item("login", failed, total, degraded=False, grading=GRADING) == grade


def test_latency_over_budget_is_p4():
    assert grade_item("login", 0, 10, degraded=True, grading=GRADING) == "P4"


@pytest.mark.parametrize("item", ["help_center", "reporting_api"])
def test_non_core_item_is_capped_at_p2(item):
    assert grade_item(item, 3, 3, degraded=False, grading=GRADING) == "P2"
    assert grade_item(item, 1, 10, degraded=False, grading=GRADING) == "P3"


def test_an_item_outside_core_items_without_a_cap_is_capped_at_p2():
    assert grade_item("fax", 3, 3, degraded=False, grading=GRADING) == "P2"
    assert grade_item("fax", 3, 3, degraded=False, grading=Grading(core_items=["fax"])) == "P1"


def test_status_page_not_updated_is_p4():
    assert grade_item("status_page", 1, 1, degraded=False, grading=GRADING) == "P4"


def test_thresholds_and_caps_come_from_config():
    strict = Grading(p1_fraction=0.2, caps={"login": "P3"})
    assert grade_item("voice", 2, 10, degraded=False, grading=strict) == "P1"
    assert grade_item("login", 10, 10, degraded=False, grading=strict) == "P3"


def test_inconclusive_item_never_raises_the_run_grade():
    items = [summarize_item("login", "Login", probes("login", 1, 10), GRADING),
             summarize_item("reporting_api", "API", probes("reporting_api", 0, 3, inconclusive=3), GRADING)]
    assert items[1].outcome == "inconclusive" and items[1].grade is None
    assert run_grade(items) == "P3"
    assert verdict(items) == "NO-GO"


def test_verdicts():
    go = summarize_item("login", "Login", probes("login", 0, 10), GRADING)
    stale = summarize_item("status_page", "Status", probes("status_page", 1, 1), GRADING)
    unsure = summarize_item("reporting_api", "API", probes("reporting_api", 0, 3, inconclusive=1), GRADING)
    skipped = summarize_item("chat", "Chat", [ProbeResult("chat", "p", "skipped")], GRADING)
    assert verdict([go]) == "GO"
    assert verdict([go, stale]) == "GO"          # P4 only: GO, with a note
    assert verdict([go, unsure]) == "INCONCLUSIVE"
    assert verdict([skipped]) == "INCONCLUSIVE"  # nothing verified
    assert run_grade([go, stale]) == "P4"


def test_a_last_try_that_could_not_verify_does_not_undo_an_earlier_failure():
    from allclear.expect import Unmet
    from allclear.grading import judge_tries
    from allclear.lanes import RunDeadlinePassed

    busy = Unmet("+14155550100 answered", "the call ended busy")
    error, outcome, message = judge_tries(RunDeadlinePassed("the run's deadline (60 s) passed"), (1, busy))
    assert (error, outcome) == (busy, "failed")
    assert message.startswith("expected +14155550100 answered; observed the call ended busy (try 1; the last try")
    assert "deadline (60 s) passed" in message
    assert judge_tries(RunDeadlinePassed("late"), None)[1] == "inconclusive"
