"""`allclear merge DIR…`: one verdict from several sites' runs.

Agents work from offices, from home, behind a VPN; after a maintenance the platform can be
reachable from one and not another. Each site runs the checklist itself (`pytest -m go --site NAME`,
results in reports/sites/NAME/); the merge then grades every item over the probes of all sites (the
30% rule counts every site's agents together), says where the failures are ("4 of 10 failed, all
at site austin"), counts a site whose run never arrived as "could not verify" there (never as a
pass), writes one verdict, summary, ticket and Allure report, and escalates with the grade across
sites: it updates what the sites' own runs opened (a P1 at one site pages from there at once, by the
same key), and it alone resolves.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
from datetime import datetime, timezone
from pathlib import Path

from allclear.allure_report import write_run_timeline
from allclear.config import Secrets, Target
from allclear.grading import ProbeResult, summarize_item
from allclear.items import registered
from allclear.items.status_page import graded_while_in_progress
from allclear.verdict import RunVerdict

NEVER_ARRIVED = "its run never arrived"


class MergeError(ValueError):
    """A folder that holds no site's run, or runs that cannot be merged (another target)."""


def read_site_runs(folders: list[Path]) -> tuple[dict[str, tuple[Path, RunVerdict]], list[str]]:
    """Each folder's verdict.json, by its site (a run without --site is named after its folder); and
    the folders with none (that site's run never arrived: its job failed before writing anything)."""
    runs: dict[str, tuple[Path, RunVerdict]] = {}
    absent: list[str] = []
    for folder in folders:
        path = folder / "verdict.json"
        if not path.is_file():
            absent.append(folder.name)
            continue
        try:
            verdict = RunVerdict.from_json(json.loads(path.read_text(encoding="utf-8")))
        except (ValueError, TypeError, KeyError) as exc:
            raise MergeError(f"{path}: not a verdict.json this version can read: {exc}") from None
        site = verdict.site or folder.name
        if site in runs:
            raise MergeError(f"{path}: a second run of site {site!r} (the first: {runs[site][0]})")
        runs[site] = (folder, verdict)
    return runs, absent


def told_by_sites(runs: dict[str, tuple[Path, RunVerdict]]) -> dict[str, set[str]]:
    """Item -> the sinks the sites' own runs opened or updated a failure escalation at: the merge
    tells each of them the grade across all sites, even where `updates = "on-change"`."""
    told: dict[str, set[str]] = {}
    for _, verdict in runs.values():
        for sent in (verdict.escalation or {}).get("deliveries", []):
            if sent.get("kind") == "failure" and sent.get("action") in ("open", "update") and sent["status"] == "sent":
                told.setdefault(sent["item"], set()).add(sent["sink"])
    return told


def merge(runs: dict[str, tuple[Path, RunVerdict]], target: Target, expected: list[str],
          target_file: str = "") -> RunVerdict:
    """One verdict over every site's probes; sites in `expected` with no run are could-not-verify there."""
    for site, (folder, verdict) in runs.items():
        if verdict.target != target.name:
            raise MergeError(f"{folder}: site {site!r} ran target {verdict.target!r}, not {target.name!r}")
    probes: dict[str, list[ProbeResult]] = {}
    titles: dict[str, str] = {}
    for site, (_, verdict) in runs.items():
        for item in verdict.items:
            titles[item.item] = item.title
            probes.setdefault(item.item, []).extend(
                dataclasses.replace(p, probe=f"{site} / {p.probe}", facts={**p.facts, "site": site})
                for p in item.probes)
    missing = [site for site in expected if site not in runs]
    enabled = [key for key in registered() if _enabled(target, key)]
    for site in expected:
        verdict = runs[site][1] if site in runs else None
        checked = {item.item for item in verdict.items} if verdict else set()
        for key in enabled:
            if key in checked or (target.sites is not None and not target.sites.runs_at(key, site)):
                continue
            titles.setdefault(key, registered()[key].title)
            probes.setdefault(key, []).append(ProbeResult(
                key, f"{site} / every {key.replace('_', ' ')} probe", "inconclusive",
                message=f"could not verify at site {site}: {_why_absent(verdict)}", facts={"site": site}))
    items = [graded_while_in_progress(summarize_item(key, titles[key], found, target.grading), target.status_page)
             for key, found in probes.items()]
    verdicts = [verdict for _, verdict in runs.values()]
    ends = [(v.window_end, v.window_end_source) for v in verdicts if v.window_end]
    window_end, source = min(ends, key=lambda end: end[0]) if ends else (None, "not known")
    now = datetime.now(timezone.utc)
    return RunVerdict.of(
        items, target=target.name, started_at=min((v.started_at for v in verdicts), default=now),
        finished_at=max((v.finished_at for v in verdicts), default=now), window_end=window_end,
        window_end_source=source, faults=sorted({f"{site}: {f}" for site, (_, v) in runs.items() for f in v.faults}),
        target_file=target_file, time_zone=target.time_zone,
        maintenance_in_progress="; ".join(sorted({v.maintenance_in_progress for v in verdicts
                                                  if v.maintenance_in_progress})),
        sites={site: runs[site][1].headline if site in runs else NEVER_ARRIVED for site in [*expected, *runs]
               if site in runs or site in missing})


def merge_allure_results(runs: dict[str, tuple[Path, RunVerdict]], out: Path, verdict: RunVerdict) -> Path:
    """Every site's Allure results in one folder for one report: each test gets the site as a
    parameter and its own history id, so two sites' runs of a probe are not shown as retries."""
    merged = out / "allure-results"
    shutil.rmtree(merged, ignore_errors=True)
    merged.mkdir(parents=True)
    for site, (folder, _) in runs.items():
        source = folder / "allure-results"
        if not source.is_dir():
            continue
        for path in source.iterdir():
            if path.name.endswith("-result.json"):
                result = json.loads(path.read_text(encoding="utf-8"))
                result["name"] = f"{site} / {result.get('name', '')}"
                result["parameters"] = [*result.get("parameters", []), {"name": "site", "value": site}]
                for key in ("historyId", "testCaseId"):
                    if result.get(key):
                        result[key] = hashlib.md5(f"{result[key]}|{site}".encode()).hexdigest()  # noqa: S324
                (merged / path.name).write_text(json.dumps(result), encoding="utf-8")
            elif path.is_file() and not path.name.endswith((".properties", "categories.json", "-globals.json")):
                shutil.copyfile(path, merged / path.name)
    write_run_timeline(merged, verdict, Secrets({}))   # each site's run redacted its own results
    return merged


def _why_absent(verdict: RunVerdict | None) -> str:
    """Why a site's run has no result for an item it should have checked."""
    if verdict is None:
        return NEVER_ARRIVED
    if verdict.not_started:
        return f"its run did not start: {verdict.not_started.splitlines()[0]}"
    if not verdict.final:
        return "its run did not finish (only its provisional verdict arrived)"
    return "its run did not check this item"


def _enabled(target: Target, key: str) -> bool:
    settings = getattr(target, key, None)
    return settings is not None and getattr(settings, "enabled", True)
