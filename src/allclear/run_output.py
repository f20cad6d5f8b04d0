"""What a Go run prints: its opening line, a line per item as it is judged, the closing table and
reasons, where the reports are, the verdict as the very last line, and the GitHub step summary.

pytest's dots per probe and tracebacks of unmet expectations would bury the items' lines, so a Go
run leaves them out; `-v`, `--tb` and `-r` bring them back.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Callable
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from allclear import terminal
from allclear.config import Secrets
from allclear.escalation.dispatch import Delivery
from allclear.verdict import RunVerdict
from allclear.window import WindowEnd

VERDICT_COLORS = {"GO": {"green": True}, "NO-GO": {"red": True}, "INCONCLUSIVE": {"yellow": True}}


def quiet_pytest(config: pytest.Config) -> None:
    given = " ".join(config.invocation_params.args)
    if config.option.tbstyle == "auto" and "--tb" not in given:
        config.option.tbstyle = "no"
    if config.option.reportchars == "fE" and not re.search(r"(^|\s)-r|--report-chars", given):
        config.option.reportchars = ""


def render(config: pytest.Config, renderable: object) -> str:
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    writer = getattr(reporter, "_tw", None)
    return terminal.render(renderable, terminal_width(config), bool(writer and writer.hasmarkup))


def terminal_width(config: pytest.Config) -> int:
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    writer = getattr(reporter, "_tw", None)
    return writer.fullwidth if writer else 80


def terminal_line(config: pytest.Config) -> Callable[[str], None]:
    """`say(line)`: a line to the terminal between pytest's own output, from any thread's probe."""
    def say(line: str) -> None:
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        capture = config.pluginmanager.get_plugin("capturemanager")
        if reporter is None:
            return
        with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
            reporter.ensure_newline()
            reporter.write_line(line)

    return say


def opening_line(target_name: str, time_zone: str, items: int, probes: int, deadline_s: float,
                 window_end: WindowEnd, faults: list[str]) -> str:
    faults_text = f"; sandbox faults: {', '.join(faults)}" if faults else ""
    in_progress = window_end.in_progress
    if window_end.moment:
        local = window_end.moment.astimezone(ZoneInfo(time_zone))
        window = f"window ended {local:%Y-%m-%d %H:%M:%S %Z} ({window_end.source})"
        if in_progress:
            window += f", but the vendor's status page shows {in_progress}: no GO while it is"
    elif in_progress:
        window = (f"the window has NOT ended: the vendor's status page shows {in_progress} (the email waits for "
                  "its end; no GO while it is)")
    else:
        window = "window end not known: the email goes out at once"
    return (f"Go checklist on {target_name}: {items} items, {probes} probes, "
            f"deadline {deadline_s:g} s; {window}{faults_text}")


def baseline_line(preflight: bool, kept, note: str, time_zone: str) -> str:
    """The run's second line: a preflight says so; a run after the window, which baseline it uses."""
    if preflight:
        return ("preflight: the checklist before the window, nothing escalated; what fails now is kept as the "
                "baseline: after the window it counts as already failing, not as the vendor's")
    if kept is not None:
        taken = kept.taken_at.astimezone(ZoneInfo(time_zone))
        return (f"baseline: {kept.path} (taken {taken:%Y-%m-%d %H:%M %Z}, {len(kept.failing)} probe(s) failing "
                "then): a probe failing the same way again is marked already failing, and not escalated to the vendor")
    return f"baseline: {note}" if note else ""


def add_to_github_step_summary(verdict: RunVerdict, secrets: Secrets, say: Callable[[str], None]) -> None:
    """In GitHub Actions, the run's summary.md shows on the workflow run's page."""
    path = os.environ.get("GITHUB_STEP_SUMMARY")
    if not path:
        return
    try:
        with open(path, "a", encoding="utf-8") as step_summary:
            step_summary.write(secrets.redact(verdict.summary_markdown()) + "\n")
    except OSError as exc:
        say(f"warning: could not add the summary to $GITHUB_STEP_SUMMARY ({path}): {exc}")


def write_summary(terminalreporter, config: pytest.Config, verdict: RunVerdict, secrets: Secrets,
                  reports_dir: Path, faults: list[str], html_note: str) -> None:
    """The table, why items did not pass, escalation, where the reports are; the verdict's own
    line comes last of all (`verdict_line`, at unconfigure), after pytest's count of probes."""
    terminalreporter.section(f"Go checklist: {verdict.headline}", bold=True, **VERDICT_COLORS[verdict.verdict])
    faults_text = f", sandbox faults: {', '.join(faults)}" if faults else ""
    terminalreporter.write_line(f"target {verdict.target}{faults_text}; {verdict.tally}")
    terminalreporter.write_line(render(config, terminal.verdict_table(verdict)))
    reasons = terminal.reasons(verdict, reports_dir=shown_path(config, reports_dir))
    if reasons:
        terminalreporter.write_line("")
        for line in reasons:
            terminalreporter.write_line(secrets.redact(line))
    _escalation_lines(terminalreporter, verdict, secrets)
    terminalreporter.write_line("")
    if verdict.html_report:
        terminalreporter.write_line(f"HTML report: {shown_path(config, verdict.html_report)}  (one file: attach it "
                                    "to a ticket)")
    else:
        terminalreporter.write_line(html_note or "no HTML report (--no-html-report)")
        terminalreporter.write_line(f"Allure results: {shown_path(config, config.option.allure_report_dir)}")
    ticket = (verdict.escalation or {}).get("ticket")
    if ticket:
        terminalreporter.write_line(f"ticket:      {shown_path(config, ticket)}  (the vendor ticket, ready to paste)")
    terminalreporter.write_line(f"summary:     {shown_path(config, reports_dir / 'summary.md')}")
    terminalreporter.write_line(f"verdict:     {shown_path(config, reports_dir / 'verdict.json')}")
    if verdict.preflight:
        failing = sum(item.probes_failed for item in verdict.items)
        terminalreporter.write_line(f"baseline:    {shown_path(config, verdict.baseline)}  ({failing} probe(s) failing "
                                    "now; after the window they count as already failing, not as the vendor's)")
        if failing:
            terminalreporter.write_line("             any that are ours (a locator, a credential, the probe mailbox): "
                                        "fix the target and run allclear preflight again", yellow=True)


def verdict_line(config: pytest.Config, verdict: RunVerdict) -> None:
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(verdict.one_line(), bold=True, **VERDICT_COLORS[verdict.verdict])


def shown_path(config: pytest.Config, path: str | Path) -> str:
    """Relative to where pytest was started when inside it: short enough to click or copy."""
    path = Path(path)
    try:
        return str(path.resolve().relative_to(config.invocation_params.dir.resolve()))
    except ValueError:
        return str(path)


def _escalation_lines(terminalreporter, verdict: RunVerdict, secrets: Secrets) -> None:
    escalation = verdict.escalation or {}
    deliveries = escalation.get("deliveries", [])
    for delivery in deliveries:
        line = Delivery(**delivery).line()
        terminalreporter.write_line(secrets.redact(f"escalation: {line}"), red=delivery["status"] == "failed")
    if escalation.get("failed"):
        terminalreporter.write_line(f"ESCALATION FAILED for {escalation['failed']} delivery(ies): see above; "
                                    "resend with `allclear escalate` once the sink is back", red=True, bold=True)
    if escalation.get("dry_run_dir") and deliveries:
        terminalreporter.write_line(f"escalation dry run (nothing sent; --escalate sends): {escalation['dry_run_dir']}")
