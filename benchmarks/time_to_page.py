"""Time-to-page: how long after the window's end a P1 found then reaches the pager.

    make bench-page               (or: .venv/bin/python benchmarks/time_to_page.py [--write])

Each measurement is one real `pytest -m go --escalate` run against the sandbox, started at the
window's end (`--window-end` now) with 4 of 10 agents locked out (a P1), sending to the sandbox's
ticket desk. The vendor's 15-minute email delay is scaled down (`--email-delay`, 1 minute by
default; the ratio is stated), since the email is what used to hold the page back: escalation
waited for the run's end, which waits for the email's reply. Read off each run's verdict.json
timeline: when the page went out (the login item escalated as soon as it was decided), when the
email was sent, and when the run's end updated the same page with the final report, which is when
the page would have gone out before. --write puts the table in benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import tomllib
from datetime import datetime, timezone
from pathlib import Path

import tomli_w

sys.path.insert(0, str(Path(__file__).resolve().parent))
from results import write_section  # noqa: E402 - beside this script, which is not a package

ROOT = Path(__file__).resolve().parents[1]
VENDOR_DELAY_MIN = 15.0
GOAL_S = 60.0


def target_file(directory: Path) -> Path:
    raw = tomllib.loads((ROOT / "config" / "sandbox.toml").read_text())
    raw.pop("business_hours", None)          # the chat widget is open whatever time the benchmark runs
    path = directory / "sandbox.toml"
    path.write_text(tomli_w.dumps(raw))
    return path


def one_run(delay_min: float) -> dict[str, float]:
    """Seconds from the window's end to: the page, the email sent, the run's end and its update."""
    with tempfile.TemporaryDirectory(prefix="allclear-bench-page-") as folder:
        reports = Path(folder) / "reports"
        window_end = datetime.now(timezone.utc)
        environment = {k: v for k, v in os.environ.items()
                       if not k.startswith(("ALLCLEAR_TARGET", "ALLCLEAR_SANDBOX_", "GITHUB_STEP_SUMMARY"))}
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-m", "go", "-p", "no:cacheprovider", f"--reports-dir={reports}",
             f"--target={target_file(Path(folder))}", "--sandbox-fault", "agents-locked:4", "--escalate",
             "--window-end", window_end.isoformat(), "--email-delay", f"{delay_min:g}"],
            cwd=ROOT, env=environment, capture_output=True, text=True, timeout=3600)
        verdict = json.loads((reports / "verdict.json").read_text())
        if verdict["verdict"] != "NO-GO":
            raise SystemExit(f"expected NO-GO, got {verdict['headline']} (exit {done.returncode}):\n"
                             f"{done.stdout[-3000:]}")

        def first(starts: str) -> float:
            moment = next(event["at"] for event in verdict["timeline"] if event["what"].startswith(starts))
            return (datetime.fromisoformat(moment) - window_end).total_seconds()

        return {"page": first("escalation (at once): pagerduty: open login"),
                "email sent": first("email sent to"),
                "run end": first("run finished"),
                "update": first("escalation (end of run): pagerduty: update login")}


def render(runs: list[dict[str, float]], delay_min: float) -> str:
    def cell(key: str) -> str:
        values = [run[key] for run in runs]
        return f"{statistics.median(values):.1f} s (max {max(values):.1f})"

    scaled_out = (VENDOR_DELAY_MIN - delay_min) * 60
    page = max(run["page"] for run in runs)
    before = statistics.median(run["update"] for run in runs) + scaled_out
    return "\n".join([
        "## Time to page: a P1 found at the window's end",
        "",
        f"`make bench-page` on {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC: {os.cpu_count()} cores, Python "
        f"{platform.python_version()}. {len(runs)} runs of the whole checklist on the sandbox with 4 of 10 agents "
        f"locked out (P1), `--escalate` to the sandbox's desk, started at the window's end. The vendor's "
        f"{VENDOR_DELAY_MIN:g}-minute email delay is scaled to {delay_min:g} minute(s) (ratio 1:"
        f"{VENDOR_DELAY_MIN / delay_min:g}); the last column adds the {scaled_out / 60:g} minutes taken out back.",
        "",
        "| seconds after the window's end (median, max) | measured | with the real 15-minute delay |",
        "|---|---|---|",
        f"| the P1 page sent (at once, as the login item is decided) | {cell('page')} | the same |",
        f"| the email sent | {cell('email sent')} | + {scaled_out:g} s |",
        f"| the run's end (final verdict) | {cell('run end')} | + {scaled_out:g} s |",
        f"| the page updated with the final report (before: the first page) | {cell('update')} | "
        f"{before:.0f} s ({before / 60:.1f} min) |",
        "",
        f"Goal: the page under {GOAL_S:g} s from the window's end: **{'met' if page < GOAL_S else 'NOT met'}** "
        f"(slowest run {page:.1f} s), against {before / 60:.1f} minutes when escalation waited for the run's end.",
    ]) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--email-delay", type=float, default=1.0, metavar="MINUTES",
                        help=f"the scaled email delay (the vendor's is {VENDOR_DELAY_MIN:g})")
    parser.add_argument("--write", action="store_true", help="write the results to benchmarks/RESULTS.md")
    options = parser.parse_args()
    runs = []
    for n in range(1, options.runs + 1):
        runs.append(one_run(options.email_delay))
        print(f"run {n}/{options.runs}: " + ", ".join(f"{k} {v:.1f} s" for k, v in runs[-1].items()), flush=True)
    text = render(runs, options.email_delay)
    print(text)
    if options.write:
        write_section("time-to-page", text)


if __name__ == "__main__":
    main()
