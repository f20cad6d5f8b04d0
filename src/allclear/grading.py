"""Outcomes -> item grade -> run grade -> verdict: the one place that reads ../shared/SEVERITY.md.

An item's grade comes from its failing probes over the probes it ran (agents, lines, pages):
30% or more is a P1, a single failure among ten or more is a P3 (1 of 10 agents), anything between
is a P2 (2 of 10 agents, 1 of 5 lines). Each item
may be capped (non-core items at P2 by default). Degraded-but-working probes make a P4.
Inconclusive probes never raise a grade: they cannot say anything about the target.

What a probe's exception means is decided here too (`describe_error`): an unmet expectation about
the target is a failure; anything else that went wrong is our probe's, so it could not verify.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from allclear.config import Grading
from allclear.expect import Unmet
from allclear.probes.errors import ProbeError

GRADES = ("P1", "P2", "P3", "P4")
ESCALATING = ("P1", "P2")
OUTCOMES = ("passed", "failed", "inconclusive", "skipped")


@dataclass
class ProbeResult:
    """One probe of one item (one agent, one report, ...), as its check ended."""

    item: str
    probe: str
    outcome: str
    message: str = ""
    expected: str = ""
    observed: str = ""
    degraded: str = ""
    seconds: float = 0.0
    started_at: str = ""
    finished_at: str = ""
    evidence: list[str] = field(default_factory=list)
    facts: dict[str, object] = field(default_factory=dict)
    retried: list[str] = field(default_factory=list)    # what each earlier try met, when it was retried
    moments: list[list[str]] = field(default_factory=list)  # [ISO time, what happened]: the run's timeline
    already_failing: bool = False      # failed the same way in the baseline, before the window (allclear.baseline)


@dataclass
class ItemResult:
    item: str
    title: str
    outcome: str
    grade: str | None
    probes_run: int
    probes_failed: int
    probes: list[ProbeResult]
    seconds: float
    probes_already_failing: int = 0    # of probes_failed: failing the same way before the window
    vendor_grade: str | None = None    # the grade of the new failures only: what the vendor is told


def lower_of(grade: str, cap: str) -> str:
    """The less severe of two grades: P3 is lower than P2."""
    return max(grade, cap, key=GRADES.index)


def grade_item(item: str, failed: int, run: int, degraded: bool, grading: Grading) -> str | None:
    if failed == 0:
        return "P4" if degraded else None
    if failed / run >= grading.p1_fraction:
        grade = "P1"
    elif failed == 1 and failed / run <= grading.p3_max_fraction:
        grade = "P3"
    else:
        grade = "P2"
    # A non-core item can impair the platform but not be its outage: at worst P2 unless caps say otherwise.
    cap = grading.caps.get(item) or (None if item in grading.core_items else "P2")
    return lower_of(grade, cap) if cap else grade


def item_outcome(probes: list[ProbeResult]) -> str:
    outcomes = {probe.outcome for probe in probes}
    for outcome in ("failed", "inconclusive", "passed"):
        if outcome in outcomes:
            return outcome
    return "skipped"


def summarize_item(item: str, title: str, probes: list[ProbeResult], grading: Grading) -> ItemResult:
    """The item for ops (every failure counts: its grade, outcome and the verdict) and, in
    `vendor_grade`, for the vendor (failures already there before the window do not)."""
    ran = [p for p in probes if p.outcome != "skipped"]
    failed = sum(p.outcome == "failed" for p in ran)
    already = sum(p.outcome == "failed" and p.already_failing for p in ran)
    degraded = any(p.degraded for p in ran if p.outcome == "passed")
    return ItemResult(
        item=item, title=title, outcome=item_outcome(probes),
        grade=grade_item(item, failed, len(ran), degraded, grading) if ran else None,
        probes_run=len(ran), probes_failed=failed, probes=probes, seconds=item_seconds(probes),
        probes_already_failing=already,
        vendor_grade=grade_item(item, failed - already, len(ran), degraded, grading) if ran else None,
    )


def vendor_view(item: ItemResult) -> ItemResult:
    """The item as the vendor is told of it: without the probes already failing before the window
    (the fraction is of all probes run, so 2 new of 10 agents stays 20%)."""
    if not item.probes_already_failing:
        return item
    probes = [p for p in item.probes if not p.already_failing]
    return replace(item, outcome=item_outcome(probes), grade=item.vendor_grade, probes=probes,
                   probes_failed=item.probes_failed - item.probes_already_failing, probes_already_failing=0)


def item_seconds(probes: list[ProbeResult]) -> float:
    """How long the item took on the clock: its probes run side by side, so from the first one's
    start to the last one's end (their sum when the probes did not say when they started)."""
    spans = [(datetime.fromisoformat(p.started_at), p.seconds) for p in probes if p.started_at]
    if len(spans) < len(probes) or not spans:
        return round(sum(p.seconds for p in probes), 2)
    first = min(start for start, _ in spans)
    last = max(start + timedelta(seconds=seconds) for start, seconds in spans)
    return round((last - first).total_seconds(), 2)


def run_grade(items: list[ItemResult]) -> str | None:
    grades = [item.grade for item in items if item.grade]
    return min(grades, key=GRADES.index) if grades else None


def verdict(items: list[ItemResult]) -> str:
    """GO, NO-GO (a failure graded P1..P3) or INCONCLUSIVE (something could not be verified)."""
    if any(item.outcome == "failed" and item.grade in GRADES[:3] for item in items):
        return "NO-GO"
    if any(item.outcome == "inconclusive" for item in items):
        return "INCONCLUSIVE"
    if not any(item.outcome in ("passed", "failed") for item in items):
        return "INCONCLUSIVE"  # everything skipped: nothing was verified
    return "GO"


def describe_error(error: BaseException | None) -> tuple[str, str]:
    """(outcome, message): an unmet expectation is a failure of the target; anything else that
    went wrong is our probe's, so the item could not be verified."""
    if isinstance(error, Unmet):
        return "failed", str(error)
    if isinstance(error, AssertionError):
        return "failed", str(error).split("\nassert ")[0]
    kind = "" if isinstance(error, ProbeError) else f"{type(error).__name__}: "
    return "inconclusive", f"could not verify: {kind}{error}"


def judge_tries(error: BaseException | None, failed_try: tuple[int, BaseException] | None,
                ) -> tuple[BaseException | None, str, str]:
    """(the error that decides, outcome, message) for a probe's last try. A last try that could not
    verify does not undo what an earlier try saw fail: the failure stands, with both said."""
    outcome, message = describe_error(error)
    if outcome == "inconclusive" and failed_try is not None:
        number, failure = failed_try
        outcome, failed_message = describe_error(failure)
        return failure, outcome, f"{failed_message} (try {number}; the last try {message})"
    return error, outcome, message


def failure_sites(item: ItemResult) -> str:
    """Where an item's failures are: "all at site austin", "3 at austin, 1 at home" ("" for one site)."""
    failing = Counter(p.facts.get("site", "") for p in item.probes if p.outcome in ("failed", "inconclusive"))
    failing.pop("", None)
    if not failing:
        return ""
    if len(failing) == 1:
        return f"all at site {next(iter(failing))}"
    return ", ".join(f"{count} at {site}" for site, count in failing.most_common())
