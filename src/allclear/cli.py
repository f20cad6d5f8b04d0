"""The `allclear` command. `allclear sandbox` keeps the sandbox up on its own, for rehearsals:
open its login page in a browser, switch faults on and off while it runs, point other tools at it.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from pathlib import Path

from allclear.config import ConfigError, read_sandbox_template
from allclear.sandbox import KNOWN_FAULTS, FaultError, Sandbox, parse_fault

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
    args = parser.parse_args(argv)
    return run_sandbox(args)


if __name__ == "__main__":
    sys.exit(main())
