"""What a check notes about its probe while pytest runs it, and the probe's result made from it.

Fixtures (allclear.fixtures) and the run (allclear.observing) note evidence, facts, moments, P4
notes, tries and the jobs that observed, in the test item's stash; when pytest reports the test,
`probe_result` turns those notes and the report into the ProbeResult that grading and
verdict.json read.
"""

from __future__ import annotations

import os
import re
from datetime import datetime, timezone
from pathlib import Path

import allure
import pytest

from allclear import allure_report
from allclear.checklist import item_key, probe_id
from allclear.expect import Unmet
from allclear.grading import ProbeResult, judge_tries
from allclear.lanes import Job
from allclear.probes.errors import ProbeError

JOBS_KEY = pytest.StashKey[list]()           # the lane jobs that observed for this probe, every try
TRIES_KEY = pytest.StashKey[list]()          # "try N outcome: message" of each earlier try
FAILED_TRY_KEY = pytest.StashKey[tuple]()    # (number, error) of the last earlier try that failed
EVIDENCE_KEY = pytest.StashKey[list]()       # files under reports/, for verdict.json
DEGRADED_KEY = pytest.StashKey[list]()       # P4 notes
FACTS_KEY = pytest.StashKey[dict]()          # measured facts (call SID, round trip)
MOMENTS_KEY = pytest.StashKey[list]()        # [ISO time, what happened], for the timeline
LAST_TRY_ONLY = (EVIDENCE_KEY, DEGRADED_KEY, FACTS_KEY, MOMENTS_KEY)


def evidence_dir_of(node: pytest.Item, reports_dir: Path) -> Path:
    slug = re.sub(r"[^A-Za-z0-9@._-]+", "_", probe_id(node))
    return reports_dir / "evidence" / item_key(node) / slug


def attach_evidence(node: pytest.Item, reports_dir: Path, path: Path, name: str | None = None) -> None:
    """Put a file in Allure and list it as the probe's evidence in verdict.json."""
    kind = allure_report.attachment_type(path)
    allure.attach.file(str(path), name=name or path.name, attachment_type=kind,
                       extension=None if kind and not isinstance(kind, str) else path.suffix.lstrip("."))
    node.stash.setdefault(EVIDENCE_KEY, []).append(os.path.relpath(path, reports_dir))


def probe_result(node: pytest.Item, report: pytest.TestReport, call: pytest.CallInfo) -> ProbeResult:
    jobs: list[Job] = node.stash.get(JOBS_KEY, [])
    started = min((job.started_at for job in jobs if job.started_at), default=None)
    seconds = sum(job.seconds for job in jobs) + (report.duration if report.when == "call" else 0)
    result = ProbeResult(item=item_key(node), probe=probe_id(node), outcome="passed",
                         seconds=round(seconds if jobs else report.duration, 3),
                         evidence=list(node.stash.get(EVIDENCE_KEY, [])), facts=dict(node.stash.get(FACTS_KEY, {})),
                         started_at=started.isoformat(timespec="milliseconds") if started else "",
                         finished_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                         degraded="; ".join(node.stash.get(DEGRADED_KEY, [])))
    result.retried = list(node.stash.get(TRIES_KEY, []))
    result.moments = list(node.stash.get(MOMENTS_KEY, []))
    if report.skipped:
        result.outcome = "skipped"
        result.message = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        result.message = result.message.removeprefix("Skipped: ")
    elif report.failed:
        error = call.excinfo.value if call.excinfo else None
        if report.when == "setup" and isinstance(error, AssertionError) and not isinstance(error, Unmet):
            error = ProbeError(f"the probe itself failed an assertion: {error}")
        error, result.outcome, result.message = judge_tries(error, node.stash.get(FAILED_TRY_KEY, None))
        if isinstance(error, Unmet):
            result.expected, result.observed = error.expected, error.observed
    elif result.retried:
        result.message = f"passed on try {len(result.retried) + 1} ({result.retried[-1]})"
    return result
