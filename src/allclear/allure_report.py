"""Allure: finish the results (severity from the grade, environment, redaction) and build the
single-file HTML report support attaches to a ticket, with the Allure 3 command line (npm `allure`).

A test's grade is only known when the whole item is graded, after allure-pytest wrote the result
files, so the severity label is set here, at session end. Categories live in the Allure 3 config:
its report ignores a categories.json in the results.
"""

from __future__ import annotations

import base64
import html
import io
import json
import os
import shutil
import subprocess
import sys
import uuid
import wave
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

import allure
from allure_commons.model2 import StatusDetails, TestStepResult

from allclear import __version__
from allclear.config import Secrets
from allclear.grading import ProbeResult
from allclear.probes.audio import Audio
from allclear.probes.steps import Step
from allclear.verdict import RunVerdict

SEVERITY_OF_GRADE = {"P1": "blocker", "P2": "critical", "P3": "normal", "P4": "minor", None: "trivial"}
# Regexes are run by Allure's JavaScript (and Allure 2's Java): no inline flags such as (?s).
ALREADY_FAILING = "[already failing before the window]"
CATEGORIES = [
    {"name": "Already failing before the window (not the vendor's)", "matchedStatuses": ["failed"],
     "messageRegex": "\\[already failing before the window\\][\\s\\S]*"},
    {"name": "Maintenance page still up", "matchedStatuses": ["failed"],
     "messageRegex": "[\\s\\S]*maintenance[\\s\\S]*"},
    {"name": "Credentials rejected", "matchedStatuses": ["broken", "failed"],
     "messageRegex": "[\\s\\S]*(credentials were rejected|sign-in refused)[\\s\\S]*"},
    {"name": "Timeout", "matchedStatuses": ["failed", "broken"],
     "messageRegex": "[\\s\\S]*(within \\d|no answer within|[Tt]imeout)[\\s\\S]*"},
    {"name": "Probe error (could not verify)", "matchedStatuses": ["broken"]},
]
ALLURE_VERSION = "3.18.0"


def attachment_type(path: Path):
    """Allure's type for a file, or a MIME type where allure-python has none (a call recording)."""
    return {".png": allure.attachment_type.PNG, ".txt": allure.attachment_type.TEXT,
            ".json": allure.attachment_type.JSON, ".csv": allure.attachment_type.CSV,
            ".html": allure.attachment_type.HTML, ".wav": "audio/wav"}.get(path.suffix.lower())


def listening_page(audio: Audio, title: str) -> str:
    """A page that plays a recording: Allure's report has no audio viewer, but shows HTML.

    The audio is embedded as 16-bit PCM WAV (what every browser plays; a μ-law one is converted).
    """
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(audio.rate)
        out.writeframes(audio.samples.tobytes() if sys.byteorder == "little" else _swapped(audio.samples))
    encoded = base64.b64encode(buffer.getvalue()).decode("ascii")
    return (f'<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title></head>'
            f'<body style="font-family:sans-serif"><p>{html.escape(title)} ({audio.seconds:.1f} s)</p>'
            f'<audio controls preload="metadata" src="data:audio/wav;base64,{encoded}"></audio></body></html>')


def _swapped(samples) -> bytes:
    copy = samples[:]
    copy.byteswap()
    return copy.tobytes()


def finish_results(results_dir: Path, verdict: RunVerdict, secrets: Secrets) -> None:
    if not results_dir.is_dir():
        return
    grade_of_title = {item.title: item.grade for item in verdict.items}
    probes = {(item.title, probe.probe): probe for item in verdict.items for probe in item.probes}
    for result_file in results_dir.glob("*-result.json"):
        result = json.loads(result_file.read_text(encoding="utf-8"))
        labels = [label for label in result.get("labels", []) if label["name"] != "severity"]
        feature = next((label["value"] for label in labels if label["name"] == "feature"), None)
        story = next((label["value"] for label in labels if label["name"] == "story"), None)
        if feature in grade_of_title:
            labels.append({"name": "severity", "value": SEVERITY_OF_GRADE[grade_of_title[feature]]})
        probe = probes.get((feature, story))
        if probe is not None:
            _as_it_ran(result, labels, probe)
            result["name"] = probe_title(probe.probe)
        result["labels"] = labels
        result_file.write_text(json.dumps(result), encoding="utf-8")
    environment = {
        "target": verdict.target,
        "verdict": verdict.headline,
        "window.end": verdict.window_end.isoformat() if verdict.window_end else "unknown",
        "window.end.source": verdict.window_end_source,
        "sandbox.faults": ", ".join(verdict.faults) or "none",
        "allclear": __version__,
        "python": sys.version.split()[0],
        "playwright": _version("playwright"),
        "pytest": _version("pytest"),
    }
    write_run_timeline(results_dir, verdict, secrets)
    lines = [f"{key}={value}" for key, value in environment.items()]
    (results_dir / "environment.properties").write_text("\n".join(lines) + "\n", encoding="utf-8")
    # Allure 3 reads categories from its config (below); Allure 2 reads this file.
    (results_dir / "categories.json").write_text(json.dumps(CATEGORIES, indent=2), encoding="utf-8")
    for path in results_dir.iterdir():
        if path.suffix in (".json", ".txt", ".properties"):
            text = path.read_text(encoding="utf-8", errors="replace")
            if any(secret in text for secret in secrets.values()):
                path.write_text(secrets.redact(text), encoding="utf-8")


def write_run_timeline(results_dir: Path, verdict: RunVerdict, secrets: Secrets) -> None:
    """The run's timeline (window end, email sent and answered, each item's end) as a global
    attachment, which Allure 3 shows on the report's home page, above the tests."""
    def text(value: str) -> str:             # redacted before escaping: an escaped secret would not match
        return html.escape(secrets.redact(value))

    rows = "".join(f"<tr><td>{verdict.local(moment):%Y-%m-%d %H:%M:%S}</td><td>{text(what)}</td></tr>"
                   for moment, what in verdict.timeline())
    page = (f"<html><head><meta charset='utf-8'><title>Run timeline</title></head><body>"
            f"<h3>Go checklist on {text(verdict.target)}: {html.escape(verdict.headline)}</h3>"
            f"<p>{html.escape(verdict.tally)}. Times in {html.escape(verdict.time_zone)}.</p>"
            f"<table border='1' cellpadding='4' style='border-collapse:collapse'>"
            f"<tr><th>time</th><th>what</th></tr>{rows}</table></body></html>")
    source = f"{uuid.uuid4()}-attachment.html"
    (results_dir / source).write_text(secrets.redact(page), encoding="utf-8")
    stamp = int(datetime.now(timezone.utc).timestamp() * 1000)
    attachment = {"name": "Run timeline: window end, email sent and answered, each item's end",
                  "source": source, "type": "text/html", "timestamp": stamp}
    (results_dir / f"{uuid.uuid4()}-globals.json").write_text(json.dumps({"attachments": [attachment], "errors": []}),
                                                                encoding="utf-8")


def probe_title(probe: str) -> str:
    """What the report calls a probe: its parameter (an agent, a line, a page), else its check's
    name in words ("test_agents_endpoint_answers" -> "Agents endpoint answers")."""
    if probe.startswith("test_") and "[" not in probe:
        words = probe.removeprefix("test_").replace("_", " ")
        return words[:1].upper() + words[1:]
    return probe


def _as_it_ran(result: dict, labels: list[dict], probe: ProbeResult) -> None:
    """The probe's own start and end (it ran in the background, before its test judged it), on the
    lane it ran in, so the report's timeline shows the run as it happened; a retried probe is
    flagged as such (Allure's flaky mark and a `retried` tag), and one failing as it did before the
    window is too (a tag, and a category of its own)."""
    if probe.started_at:
        start = int(datetime.fromisoformat(probe.started_at).timestamp() * 1000)
        result["start"], result["stop"] = start, start + int(probe.seconds * 1000)
        labels[:] = [label for label in labels if label["name"] != "thread"]
        labels.append({"name": "thread", "value": f"{probe.item} probes"})
    if probe.already_failing:
        details = result.setdefault("statusDetails", {})
        details["message"] = f"{ALREADY_FAILING} {details.get('message') or probe.message}"
        labels.append({"name": "tag", "value": "already failing before the window"})
    if probe.retried:
        details = result.setdefault("statusDetails", {})
        details["flaky"] = True
        details["message"] = "\n".join([details.get("message") or probe.message, *probe.retried]).strip()
        labels.append({"name": "tag", "value": "retried"})


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def allure_command() -> str | None:
    """The Allure 3 CLI: $ALLCLEAR_ALLURE, the one `make setup` installs in .tools/, or `allure` on PATH."""
    candidates = [os.environ.get("ALLCLEAR_ALLURE"),
                  str(Path.cwd() / ".tools/allure/node_modules/.bin/allure"),
                  str(Path(__file__).resolve().parents[2] / ".tools/allure/node_modules/.bin/allure")]
    for candidate in candidates:
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return shutil.which("allure")


def build_html_report(results_dir: Path, reports_dir: Path, target_name: str) -> tuple[str, str]:
    """Returns (path of index.html or "", a note for the terminal when there is no report)."""
    command = allure_command()
    if not command or not shutil.which("node"):
        return "", ("no HTML report: the Allure 3 command line was not found (run `make setup`, which "
                    f"installs npm `allure@{ALLURE_VERSION}` into .tools/allure; it needs Node.js 18+)")
    output = reports_dir / "allure-report"
    shutil.rmtree(output, ignore_errors=True)
    settings = {
        "name": f"Go checklist: {target_name}",
        "output": str(output),
        "historyPath": str(reports_dir / "allure-history.jsonl"),
        "historyLimit": 50,
        "categories": CATEGORIES,
        "plugins": {"awesome": {"options": {"singleFile": True, "reportName": f"Go checklist: {target_name}",
                                            "groupBy": ["epic", "feature"]}}},
    }
    settings_path = reports_dir / "allurerc.json"
    settings_path.write_text(json.dumps(settings, indent=2), encoding="utf-8")
    try:
        done = subprocess.run([command, "generate", str(results_dir), "--config", str(settings_path)],
                              cwd=reports_dir, capture_output=True, text=True, timeout=180)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return "", f"no HTML report: the Allure command line failed ({exc}); the results are kept"
    index = output / "index.html"
    if done.returncode != 0 or not index.is_file():
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        return "", f"no HTML report: allure generate exited {done.returncode}: {' '.join(tail)}"
    return str(index), ""


def _running_reporter():
    """allure-pytest's reporter for this run, or None when Allure is not recording."""
    from allure_commons import plugin_manager

    return next((plugin.allure_logger for plugin in plugin_manager.get_plugins()
                 if hasattr(plugin, "allure_logger")), None)


def replay_steps(steps: list[Step]) -> None:
    """Put the steps a background probe noted into the running test's Allure result, at the times
    they happened: the probe ran before its test did, so it could not open them live."""
    reporter = _running_reporter()
    test = reporter.get_test(None) if reporter else None
    if test is None:
        return
    for step in steps:
        details = StatusDetails(message=step.problem) if step.problem else None
        test.steps.append(TestStepResult(name=step.name, start=step.start_ms, stop=step.stop_ms,
                                         status=step.status, statusDetails=details))
