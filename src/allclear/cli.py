"""The `allclear` command. `allclear sandbox` keeps the sandbox up on its own, for rehearsals:
open its login page in a browser, switch faults on and off while it runs, point other tools at it.
`allclear escalate reports/verdict.json` offers a finished run's verdict to the escalation sinks
again (after a sink was down, or to send what a dry run wrote down).
`allclear watch --target T` waits for the maintenance window to end, then runs the Go checklist.
`allclear go --target /any/path.toml` is `pytest -m go` run from anywhere, the target typed either way.
`allclear preflight` runs it before the window and keeps the baseline the run after the window compares with.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from zoneinfo import ZoneInfo

from allclear.allure_report import build_html_report
from allclear.config import (
    UNSTARTED_SANDBOX,
    ConfigError,
    Secrets,
    fill_placeholders,
    read_sandbox_template,
    read_target_file,
    validate_target,
)
from allclear.escalation.dispatch import Delivery, EscalationReport, escalate
from allclear.merge import MergeError, merge, merge_allure_results, read_site_runs, told_by_sites
from allclear.sandbox import KNOWN_FAULTS, FaultError, Sandbox, parse_fault
from allclear.verdict import EXIT_ESCALATION_FAILED, RunVerdict

PROJECT = Path(__file__).resolve().parents[2]
DEFAULT_SANDBOX_TARGET = PROJECT / "config" / "sandbox.toml"
EXIT_BAD_INPUT = 4          # as pytest's usage errors: `allclear watch` exits as the Go run does
EXIT_STOPPED_WAITING = 130  # Ctrl-C before the window ended: nothing was checked


def fault_list() -> str:
    args = {int: ":N", float: ":SECONDS", str: ":NAME"}
    return "\n".join(f"  {name}{args.get(kind, '')}  {what}" for name, (kind, what) in sorted(KNOWN_FAULTS.items()))


def run_sandbox(args: argparse.Namespace) -> int:
    if args.list_faults:
        print(f"sandbox faults:\n{fault_list()}")
        return 0
    path = Path(args.target)
    try:
        target = read_sandbox_template(path)
        for spec in args.fault:
            parse_fault(spec)
    except (ConfigError, FaultError) as exc:
        print(f"allclear sandbox: {exc}", file=sys.stderr)
        return 2
    unset = [a.password_env for a in target.agents if not os.environ.get(a.password_env)]
    sandbox = Sandbox(target, args.fault, port=args.port).start()
    print(f"sandbox up at {sandbox.url}  (Ctrl-C stops it)")
    login = target.login.url.replace("{sandbox}", sandbox.url) if target.login else f"{sandbox.url}/login"
    print(f"  agent login   {login}   ({len(target.agents)} agents, e.g. {target.agents[0].email})"
          if target.agents else f"  agent login   {login}")
    print(f"  reporting API {sandbox.url}/api/v1/reports")
    print(f"  status page   {sandbox.url}/statuspage/api/v2/summary.json")
    print(f"  ticket desk   {sandbox.url}/_desk   (what escalations sent with --escalate)")
    print(f"  faults now    {', '.join(sandbox.state.faults.describe()) or 'none'}")
    print(f"  switch faults curl -X POST {sandbox.url}/_sandbox/faults -d '{{\"faults\": [\"maintenance\"]}}'")
    if unset:
        print(f"  passwords: {len(unset)} of the agents' variables ({unset[0]}, ...) were unset and got random "
              "values; export them before starting to choose your own")
    sys.stdout.flush()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    sandbox.stop()
    print("sandbox stopped")
    return 0


def target_for_sinks(target_path: Path, expected_name: str, reports_dir: Path):
    """(target, its sinks' secrets, the sandbox started for its ticket desk or None): for sending a
    finished run's escalation (allclear escalate, allclear merge)."""
    raw = read_target_file(target_path)
    target = validate_target(fill_placeholders(raw, UNSTARTED_SANDBOX), target_path)
    if target.name != expected_name:
        raise ConfigError(f"{target_path}: is target {target.name!r}, the verdict is of {expected_name!r}")
    sandbox = None
    if target.sandbox:   # the sinks are the sandbox's ticket desk: bring it up for the sending
        sandbox = Sandbox(target, desk_file=reports_dir / "sandbox-desk.json").start()
        target = validate_target(fill_placeholders(raw, sandbox.addresses()), target_path)
    names = target.escalation.secret_names()
    missing = [name for name in names if not os.environ.get(name)]
    if missing:
        if sandbox:
            sandbox.stop()
        raise ConfigError(f"{target_path}: missing secret environment variable(s): {', '.join(missing)}")
    return target, Secrets({name: os.environ[name] for name in names}), sandbox


def run_merge(args: argparse.Namespace) -> int:
    """One verdict from several sites' runs; exits as a Go run does (0 GO, 1 NO-GO, 2 INCONCLUSIVE, 4 bad
    input, 6 an escalation failed)."""
    out = Path(args.reports_dir)
    try:
        runs, absent = read_site_runs([Path(folder) for folder in args.folders])
        first = next(iter(runs.values()), None)
        target_path = Path(args.target or (first[1].target_file if first else "") or DEFAULT_SANDBOX_TARGET)
        raw = read_target_file(target_path)
        target = validate_target(fill_placeholders(raw, UNSTARTED_SANDBOX), target_path)
        expected = target.sites.names if target.sites else [*runs, *absent]
        verdict = merge(runs, target, expected, str(target_path.resolve()))
    except (ConfigError, MergeError) as exc:
        print(f"allclear merge: {exc}", file=sys.stderr)
        return 4
    out.mkdir(parents=True, exist_ok=True)
    results = merge_allure_results(runs, out, verdict)
    if not args.no_html_report:
        verdict.html_report, note = build_html_report(results, out, target.name)
        if note:
            print(note)
    verdict.write(out, Secrets({}))          # the merged verdict is kept whatever the escalation does
    mode = "send" if args.escalate else "dry-run" if args.dry_run else \
        (target.escalation.mode or ("dry-run" if target.sandbox else "send"))
    sandbox, secrets = None, Secrets({})
    try:
        target, secrets, sandbox = target_for_sinks(target_path, verdict.target, out)
        report = escalate(verdict, target, secrets, out, mode,
                          report_path=Path(verdict.html_report) if verdict.html_report else None,
                          progress=lambda line: print(secrets.redact(line)) if line.endswith("…") else None,
                          told_by_sites=told_by_sites(runs))
    except Exception as exc:  # noqa: BLE001 - a missing secret, the state locked: said, and exit 6
        report = EscalationReport(mode)
        report.deliveries.append(Delivery("escalation", "*", "failure", "all", "failed",
                                          secrets.redact(f"{type(exc).__name__}: {exc}")))
        print(f"allclear merge: could not escalate: {secrets.redact(str(exc))}", file=sys.stderr)
    finally:
        if sandbox:
            sandbox.stop()
    verdict.escalation = report.to_json()
    verdict.write(out, secrets)
    for site, said in verdict.sites.items():
        print(f"site {site}: {said}")
    for delivery in report.deliveries:
        print(secrets.redact(f"escalation: {delivery.line()}"))
    print(f"summary: {out / 'summary.md'}")
    print(verdict.one_line())
    return verdict.exit_code


def run_escalate(args: argparse.Namespace) -> int:
    """Exit 0 when every delivery went out (or was written down), 6 when one failed, 2 on bad input."""
    verdict_path = Path(args.verdict)
    try:
        verdict = RunVerdict.from_json(json.loads(verdict_path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        print(f"allclear escalate: {verdict_path}: no such verdict file (a Go run writes reports/verdict.json)",
              file=sys.stderr)
        return 2
    except (ValueError, TypeError, KeyError) as exc:
        print(f"allclear escalate: {verdict_path}: not a verdict.json this version can read: {exc}", file=sys.stderr)
        return 2
    if not verdict.items:
        print(f"allclear escalate: {verdict_path}: the run checked nothing (verdict {verdict.verdict}); "
              "nothing to escalate", file=sys.stderr)
        return 2
    target_path = Path(args.target or verdict.target_file or "")
    reports_dir = Path(args.reports_dir) if args.reports_dir else verdict_path.parent
    sandbox = None
    try:
        target, secrets, sandbox = target_for_sinks(target_path, verdict.target, reports_dir)
        if not target.escalation.sinks:
            print(f"allclear escalate: {target_path} has no [[escalation.sinks]]; only the ticket is written")
        report = escalate(verdict, target, secrets, reports_dir, "dry-run" if args.dry_run else "send",
                          report_path=Path(verdict.html_report) if verdict.html_report else None,
                          progress=lambda line: print(secrets.redact(line)) if line.endswith("…") else None)
    except ConfigError as exc:
        print(f"allclear escalate: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - e.g. the state database locked or unreadable
        print(f"allclear escalate: could not escalate: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_ESCALATION_FAILED
    finally:
        if sandbox:
            sandbox.stop()
    verdict.escalation = report.to_json()   # verdict.json and summary.md tell the latest attempt
    verdict.write(verdict_path.parent, secrets)
    for delivery in report.deliveries:
        print(secrets.redact(f"escalation: {delivery.line()}"))
    if not report.deliveries:
        print("escalation: nothing to send: no open escalation changed for this verdict")
    if report.dry_run_dir:
        print(f"dry run (nothing sent): {report.dry_run_dir}")
    print(f"vendor ticket: {report.ticket}")
    if report.failed:
        print(f"ESCALATION FAILED for {len(report.failed)} delivery(ies); run this again once the sink is back",
              file=sys.stderr)
        return EXIT_ESCALATION_FAILED
    return 0


def go_argv(target: str | None, pytest_args: list[str]) -> list[str]:
    """`pytest -m go`'s arguments for a run started from any folder: the project's checks and config,
    the target as an absolute path with '=' (pytest takes a bare path for a test path when it chooses
    its rootdir, before any plugin has seen the option), other paths as the user typed them."""
    argv = ["-m", "go", f"--rootdir={PROJECT}", "-c", str(PROJECT / "pyproject.toml"),
            "-W", "ignore::pytest.PytestAssertRewriteWarning"]
    if target:
        argv.append(f"--target={Path(target).resolve()}")
    checks = PROJECT / "checks"
    chosen = [arg for arg in pytest_args if not arg.startswith("-")
              and (checks == (path := Path(arg.split("::")[0]).resolve()) or checks in path.parents)]
    return argv + ([] if chosen else [str(checks)]) + pytest_args


def run_go(args: argparse.Namespace, pytest_args: list[str]) -> int:
    import pytest

    preflight = ["--preflight"] if args.command == "preflight" else []
    return int(pytest.main(go_argv(args.target, [*preflight, *pytest_args])))


def take_baseline_first(console, path: Path, target, reports_dir: Path, faults: list[str]) -> None:
    """Started before the window, with the platform still up and no baseline of today: the preflight
    first (its own run, its own sandbox for a sandbox target), then the watch."""
    from datetime import datetime, timezone

    from allclear import baseline

    kept, _ = baseline.load(reports_dir, target.name, datetime.now(timezone.utc))
    if kept is not None:
        console.print(f"baseline: {kept.path} (taken {kept.taken_at.astimezone(ZoneInfo(target.time_zone)):%H:%M %Z})")
        return
    why = baseline.refusal(target)
    if why:
        console.print(f"no baseline: {why.split(': a baseline')[0]}: the maintenance is already under way "
                      "(allclear preflight takes one before the next window)")
        return
    console.print("the platform is up: taking the baseline first (allclear preflight), then watching")
    subprocess.run([sys.executable, "-m", "allclear.cli", "preflight", f"--target={path.resolve()}",
                    f"--reports-dir={reports_dir.resolve()}", *[f"--sandbox-fault={f}" for f in faults]])


def run_watch(args: argparse.Namespace) -> int:
    """Wait for the window to end, then run the Go checklist; exit as `pytest -m go` does."""
    from datetime import datetime, timedelta, timezone

    import pytest
    from rich.console import Console
    from rich.live import Live
    from rich.text import Text

    from allclear.live import ChecklistPanel, WaitingPanel
    from allclear.target import load_target
    from allclear.watch import MaintenanceWatch

    console = Console(highlight=False, markup=False)     # vendor text (titles, names) printed as it is
    path = Path(args.target or os.environ.get("ALLCLEAR_TARGET") or DEFAULT_SANDBOX_TARGET)
    reports_dir = Path(args.reports_dir)
    try:
        target, _, sandbox = load_target(path, args.sandbox_fault, desk_file=reports_dir / "sandbox-desk.json")
    except (ConfigError, FaultError) as exc:
        print(f"allclear watch: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        interval = args.interval if args.interval is not None else target.watch.interval_s
        deadline = args.deadline if args.deadline is not None else target.watch.deadline_s
        watch = MaintenanceWatch(target, interval, deadline)
    except ConfigError as exc:
        print(f"allclear watch: {exc}", file=sys.stderr)
        if sandbox:
            sandbox.stop()
        return EXIT_BAD_INPUT
    zone = ZoneInfo(target.time_zone)
    if not args.no_preflight:
        take_baseline_first(console, path, target, reports_dir, args.sandbox_fault)
    gives_up = datetime.now(timezone.utc) + timedelta(seconds=deadline)
    if sandbox:
        console.print(f"sandbox up at {sandbox.url}, faults: {', '.join(sandbox.state.faults.describe()) or 'none'}")
        console.print(f"  end its maintenance: curl -X POST {sandbox.url}/_sandbox/faults -d '{{\"faults\": []}}'")
    watched = [f"the login page ({target.login.url})" if target.login and target.login.enabled else "",
               f"the status page ({target.status_page.url})" if target.status_page and target.status_page.enabled
               else ""]
    console.print(f"watching {' and '.join(w for w in watched if w)} every {interval:g} s, "
                  f"until {gives_up.astimezone(zone):%Y-%m-%d %H:%M:%S %Z}")
    waiting = WaitingPanel(target, interval, gives_up)
    said: list[str] = []

    def on_look(look) -> None:
        waiting.saw(look)
        if waiting.looks == 1 and look.over:
            done = look.status_page.latest_ended if look.status_page else None
            last = f" (the last maintenance: {done.described(zone)})" if done else ""
            console.print(f"no maintenance under way now{last}. If tonight's window has already ended, stop this "
                          "(Ctrl-C) and run `pytest -m go`: it reads the window end from the status page. "
                          "Otherwise this waits for the maintenance to start and end.")
        now_saying = [f"login page: {look.login_text()}", f"status page: {look.status_text(zone)}"]
        if now_saying != said:            # a line when what the platform shows changes, not every poll
            console.print(f"{look.at.astimezone(zone):%H:%M:%S}  " + "; ".join(now_saying))
            said[:] = now_saying

    live = console.is_terminal and not args.no_live
    try:
        with Live(waiting, console=console, refresh_per_second=2, transient=True) if live \
                else contextlib.nullcontext():
            end = watch.wait_for_the_end(on_look)
    except KeyboardInterrupt:
        end = None
    if end is None:
        if sandbox:
            sandbox.stop()
        console.print("stopped watching before the window ended: nothing was checked")
        return EXIT_STOPPED_WAITING
    if end.ended:
        console.print(Text.assemble(("window over", "bold green"), f" at {end.at.astimezone(zone):%H:%M:%S %Z} "
                                    f"({end.source}), after {end.looks} look(s): running the Go checklist"))
    else:
        by = f"{end.at.astimezone(zone):%H:%M:%S %Z}"
        console.print(Text.assemble(("the maintenance did not end", "bold red"), f" by {by}: running the Go "
                                    "checklist anyway (what still shows maintenance will fail)"))
    argv = go_argv(str(path), [f"--window-end={end.at.isoformat()}", f"--window-end-source={end.source}",
                               f"--reports-dir={reports_dir.resolve()}", *args.pytest_args])
    if args.email_delay is not None:
        argv.append(f"--email-delay={args.email_delay:g}")
    panel = ChecklistPanel(sandbox)
    run_began = datetime.now(timezone.utc)
    try:
        if live:
            argv.append("--capture=no")   # the panel is drawn on the real terminal, never into a capture
            with Live(panel, console=console, refresh_per_second=2, transient=True, redirect_stdout=True,
                      redirect_stderr=True):
                code = pytest.main(argv, plugins=[panel])
        else:
            code = pytest.main(argv, plugins=[panel])
    finally:
        if sandbox:
            sandbox.stop()
    verdict_path = reports_dir / "verdict.json"
    if code == pytest.ExitCode.INTERRUPTED:
        verdict = json.loads(verdict_path.read_text(encoding="utf-8")) if verdict_path.is_file() else {}
        if verdict.get("started_at") and datetime.fromisoformat(verdict["started_at"]) >= run_began:
            console.print(f"interrupted: partial verdict {verdict['headline']} in {verdict_path}")
            return int(verdict["exit_code"])
        console.print("interrupted before the checklist started: nothing was checked")   # an older verdict is not ours
    return int(code)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="allclear", description="Post-maintenance Go checklist for "
                                     "contact-center platforms. Run the checklist itself with `pytest -m go`.")
    commands = parser.add_subparsers(dest="command", required=True)
    sandbox = commands.add_parser("sandbox", help="run the sandbox platform alone and keep it up",
                                  formatter_class=argparse.RawDescriptionHelpFormatter,
                                  epilog=f"faults:\n{fault_list()}")
    sandbox.add_argument("--fault", action="append", default=[], metavar="NAME[:ARG]",
                         help="switch a fault on (repeatable); change them later with POST /_sandbox/faults")
    sandbox.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    sandbox.add_argument("--target", default=str(DEFAULT_SANDBOX_TARGET), help="sandbox target file")
    sandbox.add_argument("--list-faults", action="store_true", help="list the faults and exit")
    again = commands.add_parser("escalate", help="offer a finished run's verdict to the escalation sinks again")
    again.add_argument("verdict", help="the run's verdict.json (e.g. reports/verdict.json)")
    again.add_argument("--target", help="target file (default: the one the run used, as verdict.json records)")
    again.add_argument("--dry-run", action="store_true", help="write what would be sent instead of sending it")
    again.add_argument("--reports-dir", help="where the escalation state and ticket live (default: beside the verdict)")
    merging = commands.add_parser(
        "merge", help="one verdict from several sites' runs (pytest -m go --site NAME at each)",
        description="Reads each folder's verdict.json (reports/sites/NAME/ of a run with --site NAME), grades every "
                    "item over the probes of all sites (the 30%% rule counts every site's agents together), says "
                    "where the failures are, counts a site whose run never arrived as could-not-verify there, and "
                    "writes one verdict, summary, ticket and Allure report; then escalates once.",
        epilog="Exits as a Go run does: 0 GO, 1 NO-GO, 2 INCONCLUSIVE, 4 bad input, 6 an escalation failed.")
    merging.add_argument("folders", nargs="+", metavar="DIR", help="a site's reports folder (reports/sites/NAME)")
    merging.add_argument("--target", help="target file (default: the one the runs used, as verdict.json records)")
    merging.add_argument("--reports-dir", default="reports", help="where the merged reports go (default: reports)")
    merging.add_argument("--escalate", action="store_true", help="send the escalation (also for the sandbox)")
    merging.add_argument("--dry-run", action="store_true", help="write what would be sent instead of sending it")
    merging.add_argument("--no-html-report", action="store_true", help="skip the merged HTML report")
    go_like = [
        ("go", "run the Go checklist (pytest -m go) from any folder",
         "Runs `pytest -m go` on the project's checks, from whatever folder you are in, with the target written "
         "either way (--target PATH or --target=PATH, anywhere on disk). Every other argument goes to pytest as it "
         "is: --sandbox-fault, --escalate, a check file, -k ...",
         "Exits as the Go run does: 0 GO, 1 NO-GO, 2 INCONCLUSIVE, 4 bad input, 6 an escalation failed."),
        ("preflight", "take the baseline before the window: the checklist, nothing escalated",
         "Runs the Go checklist while the platform is still up (the evening before), proving the target's config, "
         "locators and credentials, and keeps what fails in reports/baseline/. The run after the window compares "
         "every probe with it: one failing the same way is 'already failing before the window', shown to ops and "
         "never escalated to the vendor. Refused while the status page shows a maintenance in progress or the "
         "login page is the maintenance page.",
         "Every other argument goes to pytest as it is (--sandbox-fault, --reports-dir, ...)."),
    ]
    for name, summary, description, epilog in go_like:
        command = commands.add_parser(name, help=summary, description=description, epilog=epilog)
        command.add_argument("--target", help="target TOML file (default: $ALLCLEAR_TARGET, else the sandbox)")
    watch = commands.add_parser(
        "watch", help="wait for the maintenance window to end, then run the Go checklist",
        description="Polls the login page and the status page until the maintenance is over, records that "
                    "moment as the window end, then runs the Go checklist (`pytest -m go`) with the email "
                    "scheduled at window end + delay. Exits as the Go run does: 0 GO, 1 NO-GO, 2 INCONCLUSIVE, "
                    "4 bad input, 6 an escalation failed; 130 when stopped before the window ended.",
        epilog="Arguments after -- go to pytest, e.g. -- --escalate. Rehearse with the sandbox: "
               "allclear watch --sandbox-fault maintenance-for:60 --interval 5")
    watch.add_argument("--target", help=f"target TOML file (default: $ALLCLEAR_TARGET, else the sandbox, "
                                        f"{DEFAULT_SANDBOX_TARGET.relative_to(PROJECT)})")
    watch.add_argument("--interval", type=float, metavar="SECONDS",
                       help="seconds between looks (default: the target's [watch] interval_s, 30)")
    watch.add_argument("--deadline", type=float, metavar="SECONDS",
                       help="stop waiting after SECONDS and run the checklist anyway (default: [watch] "
                            "deadline_s, 6 hours)")
    watch.add_argument("--email-delay", type=float, metavar="MINUTES",
                       help="minutes between the window end and the test email (default: the target's "
                            "[email] delay_after_window_min, 15)")
    watch.add_argument("--sandbox-fault", action="append", default=[], metavar="NAME[:ARG]",
                       help="sandbox target only: a fault on from the start, e.g. maintenance-for:60 (repeatable)")
    watch.add_argument("--reports-dir", default="reports", help="where results and reports go (default: reports)")
    watch.add_argument("--no-live", action="store_true", help="plain lines only, even on a terminal")
    watch.add_argument("--no-preflight", action="store_true",
                       help="do not take the baseline first when the platform is still up (see allclear preflight)")
    watch.add_argument("pytest_args", nargs="*", metavar="-- PYTEST ARGS",
                       help="passed to the Go run, e.g. --escalate, --no-html-report")
    args, rest = parser.parse_known_args(argv)
    if args.command in ("go", "preflight"):
        return run_go(args, rest)
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    if args.command == "escalate":
        return run_escalate(args)
    if args.command == "merge":
        return run_merge(args)
    if args.command == "watch":
        return run_watch(args)
    return run_sandbox(args)


if __name__ == "__main__":
    sys.exit(main())
