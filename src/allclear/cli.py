"""The `allclear` command. `allclear sandbox` keeps the sandbox up on its own, for rehearsals:
open its login page in a browser, switch faults on and off while it runs, point other tools at it.
`allclear escalate reports/verdict.json` offers a finished run's verdict to the escalation sinks
again (after a sink was down, or to send what a dry run wrote down).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from pathlib import Path

from allclear.config import (
    UNSTARTED_SANDBOX,
    ConfigError,
    Secrets,
    fill_placeholders,
    read_sandbox_template,
    read_target_file,
    validate_target,
)
from allclear.escalation import escalate
from allclear.sandbox import KNOWN_FAULTS, FaultError, Sandbox, parse_fault
from allclear.verdict import EXIT_ESCALATION_FAILED, RunVerdict

DEFAULT_SANDBOX_TARGET = Path(__file__).resolve().parents[2] / "config" / "sandbox.toml"


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
    print(f"  agent login   {sandbox.url}/login   ({len(target.agents)} agents, e.g. {target.agents[0].email})"
          if target.agents else f"  agent login   {sandbox.url}/login")
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
        raw = read_target_file(target_path)
        target = validate_target(fill_placeholders(raw, UNSTARTED_SANDBOX), target_path)
        if target.name != verdict.target:
            raise ConfigError(f"{target_path}: is target {target.name!r}, the verdict is of {verdict.target!r}")
        if target.sandbox:   # the sinks are the sandbox's ticket desk: bring it up for the sending
            sandbox = Sandbox(target, desk_file=reports_dir / "sandbox-desk.json").start()
            target = validate_target(fill_placeholders(raw, sandbox.addresses()), target_path)
        names = target.escalation.secret_names()
        missing = [name for name in names if not os.environ.get(name)]
        if missing:
            raise ConfigError(f"{target_path}: missing secret environment variable(s): {', '.join(missing)}")
        secrets = Secrets({name: os.environ[name] for name in names})
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
    args = parser.parse_args(argv)
    if args.command == "escalate":
        return run_escalate(args)
    return run_sandbox(args)


if __name__ == "__main__":
    sys.exit(main())
