"""The baseline: the checklist run before the window (`allclear preflight`), kept so that the run
after it can tell "already broken" from "broken by the maintenance".

A probe that fails after the window *the same way* it failed in the baseline (the same probe: agent,
line, page; the same unmet expectation, which for a browser walk names the failed step) is
"already failing before the window". Ops still see it, and it still counts for the verdict (NO-GO
stays NO-GO, with the same exit code); but it is not the vendor's maintenance regression, so the
vendor's grade, its fraction and its escalation count only the new failures (grading.vendor_view).

A baseline is kept in `reports/baseline/` (its evidence copied beside it, since each run clears
`reports/evidence/`), is used for `[run] baseline_valid_h` hours (24), only for the target it was
taken of, and is refused while the platform is in maintenance: it would record the maintenance.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from allclear.config import Target
from allclear.grading import ProbeResult
from allclear.probes.login_page import look_at_login_page
from allclear.probes.statuspage import read_status_page
from allclear.verdict import RunVerdict

FOLDER = "baseline"
FILE = "baseline.json"


@dataclass
class Baseline:
    target: str
    taken_at: datetime
    valid_until: datetime
    headline: str
    failing: dict[tuple[str, str], dict]       # (item, probe) -> what failed: expected, observed, evidence
    path: Path

    def matches(self, result: ProbeResult) -> bool:
        """The same probe failing with the same unmet expectation as in the baseline."""
        before = self.failing.get((result.item, result.probe))
        return result.outcome == "failed" and before is not None and before["expected"] == result.expected


def keep(verdict: RunVerdict, reports_dir: Path, valid_h: float) -> Path:
    """The run's failing probes (and their evidence) as the baseline; any earlier one is replaced."""
    folder = reports_dir / FOLDER
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "evidence").mkdir(parents=True)
    failing = []
    for item in verdict.items:
        for probe in item.probes:
            if probe.outcome != "failed":
                continue
            evidence = []
            for path in probe.evidence:
                source = reports_dir / path
                if source.is_file():
                    copy = folder / path              # baseline/evidence/<item>/<probe>/<file>
                    copy.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(source, copy)
                    evidence.append(str(copy.relative_to(reports_dir)))
            failing.append({"item": probe.item, "probe": probe.probe, "expected": probe.expected,
                            "observed": probe.observed, "evidence": evidence})
    document = {"target": verdict.target, "taken_at": verdict.finished_at.isoformat(),
                "valid_until": (verdict.finished_at + timedelta(hours=valid_h)).isoformat(),
                "headline": verdict.headline, "failing": failing}
    path = folder / FILE
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return path


def load(reports_dir: Path, target: str, now: datetime) -> tuple[Baseline | None, str]:
    """The baseline to compare with, or None and why none is used ("" when there is none at all)."""
    path = reports_dir / FOLDER / FILE
    if not path.is_file():
        return None, ""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        baseline = Baseline(
            target=document["target"], taken_at=datetime.fromisoformat(document["taken_at"]),
            valid_until=datetime.fromisoformat(document["valid_until"]), headline=document["headline"],
            failing={(p["item"], p["probe"]): p for p in document["failing"]}, path=path)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return None, f"the baseline {path} could not be read ({exc}): not used"
    if baseline.target != target:
        return None, f"the baseline {path} is of {baseline.target!r}, not {target!r}: not used"
    if now > baseline.valid_until:
        return None, (f"the baseline {path} (taken {baseline.taken_at:%Y-%m-%d %H:%M %Z}) is out of date: not used; "
                      "`allclear preflight` takes a new one")
    return baseline, ""


def refusal(target: Target) -> str:
    """Why no baseline may be taken now ("" when it may): a maintenance under way would be recorded
    as the platform's normal state, and every failure after the window would look old."""
    page = target.status_page
    if page is not None and page.enabled:
        seen = read_status_page(page.url, page.timeout_s)
        if seen.active:
            return (f"the status page shows {seen.active[0].name!r} {seen.active[0].status.replace('_', ' ')}: "
                    "a baseline taken now would record the maintenance; take it before the window")
    login = target.login
    if login is not None and login.enabled:
        look = look_at_login_page(login.url, login.maintenance_phrases, login.page_timeout_s)
        if look.maintenance:
            return (f"the login page ({login.url}) shows the maintenance page: a baseline taken now would record "
                    "the maintenance; take it before the window")
    return ""
