"""What a Go run shows people: the item lines, the final table, the verdict line (terminal.py) and
summary.md with its timeline (verdict.py), from a made-up verdict."""

from datetime import datetime, timedelta, timezone

from allclear.config import Grading
from allclear.grading import ProbeResult, item_seconds, summarize_item
from allclear.terminal import item_line, reasons, render, verdict_table
from allclear.verdict import RunVerdict

START = datetime(2026, 11, 24, 7, 30, tzinfo=timezone.utc)


def probe(item: str, name: str, outcome: str = "passed", at: float = 0.0, seconds: float = 1.0, **more) -> ProbeResult:
    started = (START + timedelta(seconds=at)).isoformat(timespec="milliseconds")
    return ProbeResult(item, name, outcome, seconds=seconds, started_at=started, **more)


def made_up_verdict() -> RunVerdict:
    agents = [probe("login", f"agent{n:02d}@acme.example", "failed" if n <= 2 else "passed", at=n, seconds=3,
                    message="expected signed in; observed sign-in refused", expected="signed in",
                    observed="sign-in refused") for n in range(1, 11)]
    agents[0].evidence = ["evidence/login/agent01@acme.example/screenshot.png",
                          "evidence/login/agent01@acme.example/trace-before-sign-in.zip"]
    email = probe("email", "support@acme.example", at=0.5, seconds=900, moments=[
        [(START + timedelta(seconds=890)).isoformat(), "email sent to support@acme.example"],
        [(START + timedelta(seconds=900)).isoformat(), "reply received from support@acme.example (10 s)"]])
    voice = probe("voice", "Main line", "inconclusive", message="could not verify: Twilio rejected our credentials")
    items = [summarize_item("login", "Every agent can log in and set a status", agents, Grading()),
             summarize_item("voice", "Each support line answers with its greeting", [voice], Grading()),
             summarize_item("email", "An email to the support address gets a reply", [email], Grading())]
    return RunVerdict.of(items, target="acme", started_at=START, finished_at=START + timedelta(seconds=901),
                         window_end=START - timedelta(minutes=15), window_end_source="watch: maintenance over",
                         faults=[], time_zone="America/Los_Angeles")


def test_an_item_line_fits_a_ci_log_and_says_outcome_grade_counts_and_time():
    verdict = made_up_verdict()
    login = render(item_line(verdict.items[0], 80), 80, color=False)
    assert "\n" not in login and len(login) <= 80
    assert login.startswith("✘ Every agent can log in and set a status")
    assert " failed " in login and " P2 " in login and "2/10 failed" in login and login.endswith("12.0 s")
    long = summarize_item("chat_widget", "A title far longer than any line of a CI log could hold " * 2,
                          [probe("chat_widget", f"p{n}", "failed") for n in range(50)], Grading())
    line = render(item_line(long, 80), 80, color=False)
    assert "\n" not in line and len(line) <= 80 and "…" in line and "50/50 failed" in line


def test_the_item_time_is_the_clock_from_first_start_to_last_end():
    probes = [probe("login", "a", at=0, seconds=3), probe("login", "b", at=1, seconds=3)]
    assert item_seconds(probes) == 4.0            # side by side: not 3 + 3
    assert item_seconds([ProbeResult("x", "y", "passed", seconds=2), ProbeResult("x", "z", "passed", seconds=2)]) == 4


def test_the_final_table_has_a_row_per_item_with_its_numbers():
    table = render(verdict_table(made_up_verdict()), 100, color=False)
    head, body = table.split("─" * 10, 1)
    assert all(word in head for word in ("item", "outcome", "probes", "failed/run", "grade", "time"))
    rows = [line for line in body.splitlines() if line.strip("─ ")]
    assert any("Every agent can log in" in row and "failed" in row and "2/10" in row and "P2" in row for row in rows)
    assert any("Each support line" in row and "inconclusive" in row and "0/1" in row for row in rows)
    assert any("An email" in row and "900.0 s" in row for row in rows)


def test_colour_only_when_asked():
    verdict = made_up_verdict()
    assert "\x1b[" not in render(verdict_table(verdict), 100, color=False)
    assert "\x1b[" in render(verdict_table(verdict), 100, color=True)


def test_reasons_say_why_a_few_probes_per_item_and_how_many_more():
    verdict = made_up_verdict()
    verdict.items[0].probes[2].outcome = "failed"
    verdict.items[0].probes[3].outcome = "failed"
    lines = reasons(verdict, reports_dir="out/reports")
    assert lines[0] == "✘ login / agent01@acme.example: expected signed in; observed sign-in refused"
    assert lines[1] == ("    evidence: out/reports/evidence/login/agent01@acme.example/ "
                        "(screenshot.png, trace-before-sign-in.zip)")
    assert "… and 1 more login probe(s)" in lines[4]
    assert lines[5] == "? voice / Main line: could not verify: Twilio rejected our credentials"
    assert len(lines) == 6                        # the passing email says nothing


def test_the_verdict_line_says_verdict_target_tally_and_exit_code():
    verdict = made_up_verdict()
    assert verdict.one_line() == "NO-GO (P2) on acme: 1 failed, 1 could not be verified, 1 passed (3 items), exit 1"


def test_summary_md_starts_with_the_table_and_has_the_timeline_in_the_targets_time_zone():
    summary = made_up_verdict().summary_markdown()
    assert summary.startswith("# Go checklist: NO-GO (P2)\n")
    table = summary.index("| item | outcome | probes failed/run | grade | time |")
    assert table < summary.index("## What went wrong") < summary.index("## Timeline (America/Los_Angeles)")
    assert "| ✘ Every agent can log in and set a status | failed | 2/10 | P2 | 12.0 s |" in summary
    timeline = summary.split("## Timeline")[1].splitlines()
    rows = [line for line in timeline if line.startswith("| ") and ":" in line.split("|")[1]]
    assert [row.split(" | ")[1].removesuffix(" |") for row in rows] == [
        "maintenance window ended (watch: maintenance over)", "run started",
        "? Each support line answers with its greeting: inconclusive",
        "✘ Every agent can log in and set a status: failed P2",
        "email sent to support@acme.example", "reply received from support@acme.example (10 s)",
        "✔ An email to the support address gets a reply: passed", "run finished: NO-GO (P2)"]
    assert rows[0].startswith("| 23:15:00 |")   # 07:15 UTC is 23:15 the day before in Los Angeles
