"""The pytest plugin: allclear's options and, for a Go run only, the run itself.

A "Go run" is a pytest run over `checks/` (`pytest -m go`): only then is a GoRun (allclear.go_run)
registered, which loads the target (the sandbox when none is given), runs the probes, and writes
the verdict and reports. The fixtures checks may use (allclear.fixtures) are always registered,
so `pytest --fixtures` lists them.

    plugin.py      options; a Go run or not
    go_run.py      the run: target, collection, probes judged, verdict, reports, escalation
    observing.py   probes started in the run's lanes, waited for, tried again
    probe_notes.py what a test notes about its probe, and its ProbeResult
    fixtures.py    what a check may ask for
    run_output.py  what a run prints
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from allclear.go_run import PLUGIN_NAME, GoRun
from allclear.run_output import quiet_pytest

pytest_plugins = ["allclear.fixtures"]

DEFAULT_TARGET = "config/sandbox.toml"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("allclear", "allclear Go checklist")
    group.addoption("--target", default=os.environ.get("ALLCLEAR_TARGET"),
                    help=f"target TOML file (default: $ALLCLEAR_TARGET, else the sandbox, {DEFAULT_TARGET})")
    group.addoption("--sandbox-fault", action="append", default=[], metavar="NAME[:ARG]",
                    help="switch a sandbox fault on for this run (repeatable)")
    group.addoption("--window-end", default=None, metavar="ISO8601",
                    help="when the maintenance window ended, with its UTC offset")
    group.addoption("--window-end-source", default="--window-end", metavar="TEXT",
                    help="what told the window end, for the report (allclear watch says what it saw)")
    group.addoption("--email-delay", type=float, default=None, metavar="MINUTES",
                    help="send the email this long after the window end, not the target's delay_after_window_min "
                         "(0: at once, as scheduled smoke runs do)")
    group.addoption("--deadline", type=float, default=None, metavar="SECONDS",
                    help="stop the run after SECONDS: unfinished items are inconclusive (default: the target's "
                         "[run] deadline_s, 1800)")
    group.addoption("--sequential", action="store_true",
                    help="run one probe at a time, in checklist order (slower; for comparison and debugging)")
    group.addoption("--no-wait", action="store_true",
                    help="do not wait for the email delay after the window end: report the email item skipped, "
                         "with the time it becomes due")
    group.addoption("--reports-dir", default=None,
                    help="where results and reports go (default: reports, or reports/sites/NAME with --site)")
    group.addoption("--site", default=None, metavar="NAME",
                    help="the site this run probes from (an office, home, a VPN): its results are labelled with "
                         "it, and `allclear merge` grades all sites' runs together (the target's [sites])")
    group.addoption("--no-html-report", action="store_true", help="keep the Allure results, skip the HTML report")
    group.addoption("--escalate", action="store_true",
                    help="send P1/P2 escalations (and resolutions) to the target's sinks")
    group.addoption("--preflight", action="store_true",
                    help="take the baseline before the window (allclear preflight): the email at once, nothing "
                         "escalated, the failing probes kept in reports/baseline/ for the run after the window")
    group.addoption("--dry-run", action="store_true",
                    help="write what would be sent to reports/escalations/ instead (the default for the sandbox)")


def _is_go_run(config: pytest.Config) -> bool:
    checks = (config.rootpath / "checks").resolve()
    for arg in config.args:
        path = Path(arg.split("::")[0])
        path = (config.invocation_params.dir / path).resolve()
        if path == checks or checks in path.parents:
            return True
    return False


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    if not _is_go_run(config):
        if "go" in (config.option.markexpr or "").split():
            raise pytest.UsageError(
                f"-m go runs the checks in {config.rootpath / 'checks'}, but pytest was pointed at "
                f"{', '.join(config.args)}. Run it from the allclear folder, and give a target file outside "
                "it with '=': pytest -m go --target=/path/to/target.toml (or, from any folder, either spelling: "
                "allclear go --target /path/to/target.toml)")
        return
    site = config.getoption("--site")
    if site is not None and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", site):
        raise pytest.UsageError(f"--site {site!r}: a site name is a folder name (letters, digits, . _ -)")
    reports_dir = Path(config.getoption("--reports-dir") or (Path("reports") / "sites" / site if site else "reports"))
    if not reports_dir.is_absolute():
        reports_dir = config.invocation_params.dir / reports_dir
    target_path = Path(config.getoption("--target") or config.rootpath / DEFAULT_TARGET)
    config.pluginmanager.register(GoRun(config, reports_dir, target_path), PLUGIN_NAME)
    quiet_pytest(config)
    shutil.rmtree(reports_dir / "evidence", ignore_errors=True)
    if not config.option.allure_report_dir:
        config.option.allure_report_dir = str(reports_dir / "allure-results")
        config.option.clean_alluredir = True
