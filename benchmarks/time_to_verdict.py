"""Time-to-verdict, scale and memory of a Go run against the sandbox.

    make bench                    (or: .venv/bin/python benchmarks/time_to_verdict.py [--write])

Each measurement is one real `pytest -m go` run in a subprocess, timed from its start to its exit
(the verdict on screen, the HTML report written), against the sandbox with 1, 10 and 50 synthetic
agents. For 10 agents it also runs each item on its own, to find the slowest single item, and the
whole checklist with --sequential (one probe at a time), the baseline that concurrency is measured
against. Peak memory is the whole process tree's (pytest, the sandbox inside it, Playwright's driver,
every Chromium process, the Allure report generator), summed as PSS so that memory shared between
Chromium's processes is counted once. --write puts the table in benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import tomli_w

sys.path.insert(0, str(Path(__file__).resolve().parent))
from results import write_section  # noqa: E402 - beside this script, which is not a package

ROOT = Path(__file__).resolve().parents[1]
ITEMS = ("login", "reporting_api", "status_page", "voice", "email", "sms", "dns", "chat_widget", "help_center")


@dataclass
class Run:
    label: str
    seconds: float
    peak_mb: float
    verdict: str
    items: dict[str, float]          # item -> its own span in the run (first probe start to last finish)


def sandbox_target(directory: Path, agents: int) -> Path:
    raw = tomllib.loads((ROOT / "config" / "sandbox.toml").read_text())
    raw["agents"] = [{"email": f"agent{n:02d}@sandbox.allclear.test",
                      "password_env": f"ALLCLEAR_SANDBOX_AGENT{n:02d}_PASSWORD"} for n in range(1, agents + 1)]
    raw.pop("business_hours", None)          # the chat widget is open whatever time the benchmark runs
    path = directory / f"sandbox-{agents}-agents.toml"
    path.write_text(tomli_w.dumps(raw))
    return path


def process_tree(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo += children.get(pid, [])
    return tree


def memory_kb(pid: int) -> int:
    """PSS where the kernel gives it (shared pages split between their users), else RSS."""
    for name, key in (("smaps_rollup", "Pss:"), ("status", "VmRSS:")):
        try:
            for line in Path(f"/proc/{pid}/{name}").read_text().splitlines():
                if line.startswith(key):
                    return int(line.split()[1])
        except OSError:
            continue
    return 0


def run_go(label: str, target: Path, *extra: str) -> Run:
    reports = Path(tempfile.mkdtemp(prefix="allclear-bench-"))
    command = [sys.executable, "-m", "pytest", "-m", "go", "-p", "no:cacheprovider", "-q",
               f"--target={target}", f"--reports-dir={reports}", *extra]
    environment = {k: v for k, v in os.environ.items() if not k.startswith("ALLCLEAR_SANDBOX_")}
    started = time.monotonic()
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               env=environment, text=True)
    peak = [0]

    def sample() -> None:
        while process.poll() is None:
            peak[0] = max(peak[0], sum(memory_kb(pid) for pid in process_tree(process.pid)))
            time.sleep(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    output, _ = process.communicate()
    seconds = time.monotonic() - started
    sampler.join()
    verdict_file = reports / "verdict.json"
    if not verdict_file.is_file():
        raise SystemExit(f"{label}: no verdict (exit {process.returncode}):\n{output[-3000:]}")
    verdict = json.loads(verdict_file.read_text())
    return Run(label, round(seconds, 1), round(peak[0] / 1024), verdict["headline"], _item_spans(verdict))


def _item_spans(verdict: dict) -> dict[str, float]:
    spans = {}
    for item in verdict["items"]:
        starts = [datetime.fromisoformat(p["started_at"]).timestamp() for p in item["probes"] if p.get("started_at")]
        ends = [s + p["seconds"] for s, p in zip(starts, [p for p in item["probes"] if p.get("started_at")],
                                                  strict=True)]
        spans[item["item"]] = round(max(ends) - min(starts), 1) if starts else 0.0
    return spans


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="write the results to benchmarks/RESULTS.md")
    options = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="allclear-bench-targets-"))
    ten = sandbox_target(work, 10)

    runs = [run_go("1 agent + every other item", sandbox_target(work, 1))]
    print(runs[-1], flush=True)
    full = run_go("10 agents + every other item", ten)
    runs.append(full)
    print(full, flush=True)
    alone = {}
    for item in ITEMS:
        alone[item] = run_go(f"{item} alone (10 agents)", ten, f"checks/test_{item}.py")
        print(alone[item], flush=True)
    slowest = max(alone.values(), key=lambda run: run.seconds)
    sequential = run_go("10 agents, --sequential (baseline)", ten, "--sequential")
    print(sequential, flush=True)
    runs.append(sequential)
    runs.append(run_go("50 agents + every other item", sandbox_target(work, 50)))
    print(runs[-1], flush=True)

    ratio = full.seconds / slowest.seconds
    table = render(runs, full, slowest, sequential, ratio, alone)
    print(table)
    if options.write:
        write_section("time-to-verdict", table)


def render(runs: list[Run], full: Run, slowest: Run, sequential: Run, ratio: float, alone: dict[str, Run]) -> str:
    fifty = next(run for run in runs if run.label.startswith("50"))
    peak = max(run.peak_mb for run in [*runs, *alone.values()])
    checks = [
        ("10 agents + every other item", f"{full.seconds:g} s", "< 20 s", full.seconds < 20),
        ("time-to-verdict / slowest item alone", f"{ratio:.2f} ({full.seconds:g} s / {slowest.label}: "
         f"{slowest.seconds:g} s)", "<= 1.5", ratio <= 1.5),
        ("peak memory, any run", f"{peak:g} MB", "< 1536 MB", peak < 1536),
        ("50 agents + every other item", f"{fifty.seconds:g} s", "< 60 s", fifty.seconds < 60),
        ("concurrent vs --sequential (10 agents)", f"{sequential.seconds / full.seconds:.1f}x faster", "", True),
    ]
    lines = [
        "## Time to verdict, scale and memory",
        "",
        f"`make bench` on {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC: {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, {platform.system()} {platform.release()}; the sandbox on loopback.",
        "Times are wall-clock from starting `pytest -m go` to its exit (verdict on screen, HTML report written).",
        "",
        "| measure | result | target | met |",
        "|---|---|---|---|",
        *[f"| {name} | {value} | {target} | {'yes' if met else 'NO'} |" for name, value, target, met in checks],
        "",
        "| run | time-to-verdict | peak memory | verdict |",
        "|---|---|---|---|",
        *[f"| {run.label} | {run.seconds:g} s | {run.peak_mb:g} MB | {run.verdict} |"
          for run in [*runs, *alone.values()]],
        "",
        "How long each item took inside the 10-agent run (first probe's start to last probe's end):",
        "",
        "| item | span in the full run | the item alone (whole run) |",
        "|---|---|---|",
        *[f"| {item} | {full.items.get(item, 0):g} s | {alone[item].seconds:g} s |" for item in ITEMS],
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
