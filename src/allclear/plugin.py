"""The pytest plugin: options, the target and its probes as fixtures, and the session-end verdict.

A "Go run" is a pytest run over `checks/` (`pytest -m go`): only then is the target loaded (the
sandbox started when no target is given), Allure results written and the verdict produced.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import shutil
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import allure
import pytest

from allclear import allure_report, terminal
from allclear.checklist import Observation, observations_of
from allclear.config import ConfigError, Secrets, Target
from allclear.escalation import Delivery, EscalationReport, escalate, resolve_mode
from allclear.expect import Unmet
from allclear.grading import ProbeResult, summarize_item
from allclear.lanes import Job, Lanes, RunDeadline, RunDeadlinePassed
from allclear.probes.errors import ProbeError
from allclear.sandbox import FaultError, Sandbox
from allclear.target import load_target
from allclear.verdict import RunVerdict
from allclear.window import EmailWindow, NotYetDue, email_due_at, window_end_from_status_page

DEFAULT_TARGET = "config/sandbox.toml"


@dataclass
class GoRun:
    """Everything one Go run shares: the target, its secrets, the window, the results so far."""

    reports_dir: Path
    target: Target | None = None
    secrets: Secrets = field(default_factory=lambda: Secrets({}))
    sandbox: Sandbox | None = None
    owns_sandbox: bool = True                       # False: `allclear watch` started it, and stops it
    faults: list[str] = field(default_factory=list)
    window_end: datetime | None = None
    window_end_source: str = "none given"
    started_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    results: dict[str, ProbeResult] = field(default_factory=dict)
    titles: dict[str, str] = field(default_factory=dict)
    verdict: RunVerdict | None = None
    html_note: str = ""
    escalation_mode: str = "dry-run"
    target_file: str = ""
    lanes: Lanes | None = None
    jobs: dict[tuple[str, str], Job] = field(default_factory=dict)
    progress: deque = field(default_factory=deque)      # lines for the terminal from background probes
    stopped: threading.Event = field(default_factory=threading.Event)
    no_wait: bool = False
    say: Callable[[str], None] = print            # a line to the terminal, between pytest's own output
    evidence_dirs: dict[str, Path] = field(default_factory=dict)     # nodeid -> its latest try's
    unfinished: dict[str, set[str]] = field(default_factory=dict)    # item -> nodeids not yet judged
    planned: dict[str, list[str]] = field(default_factory=dict)       # item -> its nodeids, in order
    show: Callable[[object], None] = print        # a rich renderable to the terminal, as `say` does lines

    def set_window_end(self, moment: datetime, source: str) -> None:
        """Earlier sources win: the command line, then the target file, then the status page."""
        if self.window_end is None:
            self.window_end, self.window_end_source = moment, source

    # --- observations: started in the background, handed to their checks -----------------------

    def start(self, item: pytest.Item, spec: Observation, again: bool = False) -> Job:
        key = (item.nodeid, spec.name)
        if key in self.jobs and not again:
            return self.jobs[key]
        params = getattr(getattr(item, "callspec", None), "params", {})
        evidence_dir = evidence_dir_of(item, self.reports_dir)
        if tries := len(item.stash.get(TRIES_KEY, [])):
            evidence_dir = evidence_dir / f"try-{tries + 1}"          # an earlier try's evidence stays as it was
        self.evidence_dirs[item.nodeid] = evidence_dir
        provided = {"target": self.target, "secrets": self.secrets, "evidence_dir": evidence_dir,
                    "email_window": EmailWindow(self.window_end, self.window_end_source, self.target.time_zone,
                                                self.no_wait, self.progress.append, self.stopped, self.lanes.idle)}
        kwargs = {name: params[name] if name in params else provided[name]
                  for name in spec.arguments if name != "browser"}
        name = f"{item_key(item)}/{_probe_id(item)}"
        if spec.in_browser:
            pool = (spec.pool, self.pool_size(spec.pool)) if spec.pool else None
            # Pages are timed against a budget: they get the browser before the agents crowd it.
            after = [job for job in self.jobs.values() if job.lane == "browser" and job.pool != "agents"] \
                if spec.pool == "agents" else []
            job = self.lanes.start_browser(name, spec.function, kwargs, pool, after)
        else:
            job = self.lanes.start_blocking(name, spec.function, kwargs, spec.serial)
        self.jobs[key] = job
        return job

    def pool_size(self, pool: str) -> int:
        sizes = {"agents": self.target.run.agents_at_once}
        if pool not in sizes:
            raise pytest.UsageError(f"unknown observation pool {pool!r}; known: {', '.join(sizes)}")
        return sizes[pool]

    def observe(self, item: pytest.Item, spec: Observation, again: bool = False) -> object:
        """The check's observation: wait for its probe (started at the run's start, or now when
        run --sequential), printing background progress meanwhile, within the run's deadline.
        A probe that raised is tried again when the target's [retries] allow it."""
        while True:
            job = self.start(item, spec, again)
            item.stash.setdefault(JOBS_KEY, []).append(job)
            try:
                seen = self.lanes.wait(job, on_tick=self.flush_progress)
            except RunDeadlinePassed:
                folder = self.evidence_dirs.get(item.nodeid, evidence_dir_of(item, self.reports_dir))
                for path in sorted(p for p in folder.glob("*") if p.is_file()):
                    attach_evidence(item, self.reports_dir, path)      # what the cancelled probe kept
                raise
            except NotYetDue as exc:
                pytest.skip(str(exc))
            except Exception as exc:
                if not self.try_again(item, exc):
                    raise
                again = True
                continue
            finally:
                self.flush_progress()
            allure_report.replay_steps(_steps_of(seen))
            return seen

    def try_again(self, item: pytest.Item, error: BaseException) -> bool:
        """Whether the probe gets another try (after its backoff, slept here); the try that failed
        is kept in Allure and in verdict.json. Never past the item's retry deadline or the run's."""
        retry = self.target.retries.get(item_key(item))
        tries = item.stash.setdefault(TRIES_KEY, [])
        if retry is None or len(tries) >= retry.count or isinstance(error, RunDeadlinePassed):
            return False
        first = next((job.started_at for job in item.stash.get(JOBS_KEY, []) if job.started_at), None)
        elapsed = (datetime.now(timezone.utc) - first).total_seconds() if first else 0.0
        if elapsed + retry.backoff_s > retry.deadline_s or self.lanes.deadline.left() <= retry.backoff_s:
            return False
        outcome, message = describe_error(error)
        if outcome == "failed":
            item.stash[FAILED_TRY_KEY] = (len(tries) + 1, error)
        tries.append(f"try {len(tries) + 1} {outcome}: {self.secrets.redact(message)}")
        allure.attach(f"{tries[-1]}\ntried again after {retry.backoff_s:g} s", name=f"Try {len(tries)}: {outcome}",
                      attachment_type=allure.attachment_type.TEXT)
        self.say(f"{item_key(item)}/{_probe_id(item)}: {tries[-1].splitlines()[0][:160]}; "
                 f"trying again in {retry.backoff_s:g} s")
        for key in (EVIDENCE_KEY, DEGRADED_KEY, FACTS_KEY, MOMENTS_KEY):      # only the last try's count
            if key in item.stash:
                item.stash[key].clear()
        self.stopped.wait(retry.backoff_s)
        return True

    def flush_progress(self) -> None:
        while self.progress:
            self.say(self.secrets.redact(self.progress.popleft()))


def _steps_of(seen: object) -> list:
    """The steps a probe noted: on its observation, or on the one part of a tuple that has them."""
    parts = seen if isinstance(seen, tuple) else (seen,)
    return next((part.steps for part in parts if getattr(part, "steps", None)), [])


RUN_KEY = pytest.StashKey[GoRun]()
JOBS_KEY = pytest.StashKey[list]()
TRIES_KEY = pytest.StashKey[list]()
FAILED_TRY_KEY = pytest.StashKey[tuple]()
EVIDENCE_KEY = pytest.StashKey[list]()
DEGRADED_KEY = pytest.StashKey[list]()
FACTS_KEY = pytest.StashKey[dict]()
MOMENTS_KEY = pytest.StashKey[list]()


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
    group.addoption("--reports-dir", default="reports", help="where results and reports go (default: reports)")
    group.addoption("--no-html-report", action="store_true", help="keep the Allure results, skip the HTML report")
    group.addoption("--escalate", action="store_true",
                    help="send P1/P2 escalations (and resolutions) to the target's sinks")
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


def _run(config: pytest.Config) -> GoRun | None:
    return config.stash.get(RUN_KEY, None)


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    if not _is_go_run(config):
        if "go" in (config.option.markexpr or "").split():
            raise pytest.UsageError(
                f"-m go runs the checks in {config.rootpath / 'checks'}, but pytest was pointed at "
                f"{', '.join(config.args)}. Run it from the allclear folder, and give a target file outside "
                "it with '=': pytest -m go --target=/path/to/target.toml")
        return
    reports_dir = Path(config.getoption("--reports-dir"))
    if not reports_dir.is_absolute():
        reports_dir = config.invocation_params.dir / reports_dir
    say = _terminal_line(config)
    config.stash[RUN_KEY] = GoRun(reports_dir=reports_dir, say=say, show=lambda thing: say(_render(config, thing)))
    _quiet_pytest(config)
    shutil.rmtree(reports_dir / "evidence", ignore_errors=True)
    if not config.option.allure_report_dir:
        config.option.allure_report_dir = str(reports_dir / "allure-results")
        config.option.clean_alluredir = True


def pytest_sessionstart(session: pytest.Session) -> None:
    run = _run(session.config)
    if run is None:
        return
    config = session.config
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None and config.option.verbose <= 0:
        reporter.showfspath = False          # no "checks/test_login.py" line: the item's own line follows
    path = Path(config.getoption("--target") or config.rootpath / DEFAULT_TARGET)
    run.target_file = str(path.resolve())
    try:
        running = next((plugin.allclear_sandbox for plugin in config.pluginmanager.get_plugins()
                        if getattr(plugin, "allclear_sandbox", None)), None)
        run.target, run.secrets, run.sandbox = load_target(path, config.getoption("--sandbox-fault"),
                                                           desk_file=run.reports_dir / "sandbox-desk.json",
                                                           running=running)
        if running is not None:
            run.sandbox, run.owns_sandbox = running, False
        window_end = config.getoption("--window-end")
        if window_end:
            run.set_window_end(_parse_moment(window_end), config.getoption("--window-end-source"))
        delay = config.getoption("--email-delay")
        if delay is not None and run.target.email is not None:
            if delay < 0:
                raise ConfigError(f"--email-delay must be 0 or more minutes, got {delay:g}")
            email = run.target.email.model_copy(update={"delay_after_window_min": delay})
            run.target = run.target.model_copy(update={"email": email})
    except (ConfigError, FaultError) as exc:
        if run.sandbox and run.owns_sandbox:
            run.sandbox.stop()
        run.verdict = RunVerdict.target_not_loaded(str(exc), path, run.started_at)
        run.verdict.write(run.reports_dir, run.secrets)
        _add_to_github_step_summary(run)
        run.verdict = None              # nothing ran: pytest's usage error is the whole story
        raise pytest.UsageError(str(exc)) from None
    if run.target.window_end:
        run.set_window_end(run.target.window_end, "target file")
    try:
        run.escalation_mode = resolve_mode(run.target, config.getoption("--escalate"), config.getoption("--dry-run"))
    except ValueError as exc:
        if run.sandbox and run.owns_sandbox:
            run.sandbox.stop()
        raise pytest.UsageError(str(exc)) from None
    run.faults = run.sandbox.state.faults.describe() if run.sandbox else []
    if not config.option.collectonly:           # listing the checks must not read or send anything
        _prepare_lanes(config, run)


def _prepare_lanes(config: pytest.Config, run: GoRun) -> None:
    deadline_s = config.getoption("--deadline")
    if deadline_s is None:
        deadline_s = run.target.run.deadline_s
    elif deadline_s <= 0:
        raise pytest.UsageError(f"--deadline must be a number of seconds above 0, got {deadline_s:g}")
    run.lanes = Lanes(RunDeadline(deadline_s), run.target.run.probes_at_once, stopped=run.stopped)
    run.no_wait = config.getoption("--no-wait")
    email = run.target.email
    if email is None or not email.enabled:
        return
    if run.window_end is None:
        try:
            found = window_end_from_status_page(run.target.status_page)
        except Exception:  # noqa: BLE001 - the status page's own check reports what is wrong with it
            found = None
        if found:
            run.set_window_end(*found)
    due = email_due_at(run.window_end, email.delay_after_window_min)
    ends = datetime.now(timezone.utc) + timedelta(seconds=deadline_s)
    if due and not run.no_wait and due + timedelta(seconds=email.reply_deadline_s) > ends:
        zone = ZoneInfo(run.target.time_zone)
        run.say(f"warning: the email is due at {due.astimezone(zone):%H:%M:%S %Z}, too late for its reply before "
                f"the run's deadline ({ends.astimezone(zone):%H:%M:%S %Z}): it will be inconclusive. Give "
                "--deadline (or [run] deadline_s) more time, or run with --no-wait")


def _quiet_pytest(config: pytest.Config) -> None:
    """A Go run speaks per item (a line each, then the table): pytest's dots per probe and its
    tracebacks of unmet expectations would bury that. `-v`, `--tb` and `-r` bring them back."""
    given = " ".join(config.invocation_params.args)
    if config.option.tbstyle == "auto" and "--tb" not in given:
        config.option.tbstyle = "no"
    if config.option.reportchars == "fE" and not re.search(r"(^|\s)-r|--report-chars", given):
        config.option.reportchars = ""


@pytest.hookimpl(wrapper=True)
def pytest_report_teststatus(report: pytest.TestReport, config: pytest.Config):
    """No dot or letter per probe in a Go run (its item's line says it); -v brings pytest's back."""
    status = yield
    run = _run(config)
    if run is not None and config.option.verbose <= 0 and status \
            and any(report.nodeid in nodeids for nodeids in run.planned.values()):
        return status[0], "", ""
    return status


def _render(config: pytest.Config, renderable: object) -> str:
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    writer = getattr(reporter, "_tw", None)
    return terminal.render(renderable, _terminal_width(config), bool(writer and writer.hasmarkup))


def _terminal_width(config: pytest.Config) -> int:
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    writer = getattr(reporter, "_tw", None)
    return writer.fullwidth if writer else 80


def _terminal_line(config: pytest.Config) -> Callable[[str], None]:
    def say(line: str) -> None:
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        capture = config.pluginmanager.get_plugin("capturemanager")
        if reporter is None:
            return
        with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
            reporter.ensure_newline()
            reporter.write_line(line)

    return say


def _parse_moment(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"--window-end: {text!r} is not an ISO 8601 time such as 2026-11-23T23:00:00-08:00") from None
    if moment.tzinfo is None:
        raise ConfigError(f"--window-end: {text!r} needs a UTC offset, such as 2026-11-23T23:00:00-08:00")
    return moment


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    run = _run(metafunc.config)
    if run is None or run.target is None:
        return
    target = run.target
    if "agent" in metafunc.fixturenames:
        metafunc.parametrize("agent", target.agents, ids=[a.email for a in target.agents])
    if "support_line" in metafunc.fixturenames:
        lines = target.voice.lines if target.voice and target.voice.enabled else []
        metafunc.parametrize("support_line", lines, ids=[line.name or line.number for line in lines])
    if "widget_page" in metafunc.fixturenames:
        pages = target.chat_widget.pages if target.chat_widget and target.chat_widget.enabled else []
        metafunc.parametrize("widget_page", pages, ids=pages)
    if "help_center_site" in metafunc.fixturenames:
        sites = target.help_center.sites if target.help_center and target.help_center.enabled else []
        metafunc.parametrize("help_center_site", sites, ids=[site.name or site.url for site in sites])
    if "dns_record" in metafunc.fixturenames:
        records = target.dns.records if target.dns and target.dns.enabled else []
        metafunc.parametrize("dns_record", records, ids=[f"{r.type} {r.name}" for r in records])
    if "report_spec" in metafunc.fixturenames:
        reports = target.reporting_api.reports if target.reporting_api else []
        metafunc.parametrize("report_spec", reports, ids=[r.metric_set for r in reports])


RUN_LAST = ("email",)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The email last: its wait for the window end + delay overlaps the rest of the checklist (and,
    run --sequential, comes after it instead of holding it up)."""
    if _run(config) is None:
        return
    items.sort(key=lambda node: item_key(node) in RUN_LAST)


@pytest.hookimpl(wrapper=True)
def pytest_runtestloop(session: pytest.Session):
    """Start every observation of the run at once; each check then waits only for its own."""
    run = _run(session.config)
    if run is not None and run.lanes is not None and not session.config.option.collectonly:
        for node in session.items:
            if _is_go_item(node):
                run.unfinished.setdefault(item_key(node), set()).add(node.nodeid)
                run.planned.setdefault(item_key(node), []).append(node.nodeid)
                run.titles.setdefault(item_key(node), _title(node))
        run.say(_opening_line(run))
    if (run is not None and run.lanes is not None and not session.config.option.collectonly
            and not session.config.getoption("--sequential")):
        starts = [(node, spec) for node in session.items if _is_go_item(node) and not _maybe_skipped(node)
                  for spec in observations_of(node)]
        for node, spec in sorted(starts, key=lambda start: start[1].pool == "agents"):
            run.start(node, spec)
    return (yield)


def _opening_line(run: GoRun) -> str:
    probes = sum(len(nodeids) for nodeids in run.unfinished.values())
    faults = f"; sandbox faults: {', '.join(run.faults)}" if run.faults else ""
    if run.window_end:
        zone = ZoneInfo(run.target.time_zone)
        window = f"window ended {run.window_end.astimezone(zone):%Y-%m-%d %H:%M:%S %Z} ({run.window_end_source})"
    else:
        window = "window end not known: the email goes out at once"
    return (f"Go checklist on {run.target.name}: {len(run.unfinished)} items, {probes} probes, "
            f"deadline {run.lanes.deadline.seconds:g} s; {window}{faults}")


def _maybe_skipped(node: pytest.Item) -> bool:
    """Checks that may be skipped are not started ahead: their probes start (if at all) when pytest
    runs them, so a skipped check never sends an email or places a call."""
    return any(next(node.iter_markers(name), None) is not None for name in ("skip", "skipif", "xfail"))


def item_key(node: pytest.Item) -> str:
    return node.path.stem.removeprefix("test_")


def _is_go_item(node: pytest.Item) -> bool:
    return node.get_closest_marker("go") is not None


# --- fixtures: the checks' API ------------------------------------------------------------------

@pytest.fixture(scope="session")
def go_run(request: pytest.FixtureRequest) -> GoRun:
    run = _run(request.config)
    if run is None or run.target is None:
        pytest.skip("not a Go run: run the checks with `pytest -m go`")
    return run


@pytest.fixture(scope="session")
def target(go_run: GoRun) -> Target:
    return go_run.target


@pytest.fixture(scope="session")
def secrets(go_run: GoRun) -> Secrets:
    return go_run.secrets


def _probe_id(node: pytest.Item) -> str:
    return node.callspec.id if hasattr(node, "callspec") else node.name


def evidence_dir_of(node: pytest.Item, reports_dir: Path) -> Path:
    slug = re.sub(r"[^A-Za-z0-9@._-]+", "_", _probe_id(node))
    return reports_dir / "evidence" / item_key(node) / slug


def attach_evidence(node: pytest.Item, reports_dir: Path, path: Path, name: str | None = None) -> None:
    """Put a file in Allure and list it as the probe's evidence in verdict.json."""
    kind = allure_report.attachment_type(path)
    allure.attach.file(str(path), name=name or path.name, attachment_type=kind,
                       extension=None if kind else path.suffix.lstrip("."))
    node.stash.setdefault(EVIDENCE_KEY, []).append(os.path.relpath(path, reports_dir))


@pytest.fixture
def attach(request: pytest.FixtureRequest, go_run: GoRun):
    """`attach(path)` puts a file in Allure and lists it as evidence in verdict.json."""
    return lambda path, name=None: attach_evidence(request.node, go_run.reports_dir, path, name)


@pytest.fixture
def attach_observation(go_run: GoRun):
    """Attach a probe's observation to Allure as JSON (secrets redacted) and hand it back."""

    def attach_json(observation, name: str | None = None):
        text = json.dumps(dataclasses.asdict(observation), indent=2, default=str)
        allure.attach(go_run.secrets.redact(text), name=name or type(observation).__name__,
                      attachment_type=allure.attachment_type.JSON)
        return observation

    return attach_json


@pytest.fixture
def record_fact(request: pytest.FixtureRequest):
    """`record_fact(name, value)`: a measured fact (round-trip time, call SID) kept in verdict.json."""
    facts = request.node.stash.setdefault(FACTS_KEY, {})

    def record(name: str, value: object) -> None:
        facts[name] = value

    return record


@pytest.fixture
def record_moment(request: pytest.FixtureRequest):
    """`record_moment(what, when)`: something that happened at a time worth knowing ("email sent to
    support@acme.example"); it goes on the run's timeline in summary.md and the HTML report."""
    moments = request.node.stash.setdefault(MOMENTS_KEY, [])

    def record(what: str, when: datetime) -> None:
        if when.tzinfo is None:
            raise ValueError(f"record_moment({what!r}): give the time with its time zone")
        moments.append([when.isoformat(timespec="milliseconds"), what])

    return record


@pytest.fixture
def degraded(request: pytest.FixtureRequest):
    """`degraded(why)`: the probe works but not as well as it should (a P4 note, not a failure)."""
    notes = request.node.stash.setdefault(DEGRADED_KEY, [])

    def note(why: str) -> None:
        notes.append(why)
        allure.attach(why, name="Degraded", attachment_type=allure.attachment_type.TEXT)

    return note


@pytest.fixture(autouse=True)
def _allure_labels(request: pytest.FixtureRequest) -> None:
    if _run(request.config) is None or not _is_go_item(request.node):
        return
    allure.dynamic.epic("Go checklist")
    allure.dynamic.feature(_title(request.node))
    probe = _probe_id(request.node)
    allure.dynamic.story(probe)
    allure.dynamic.title(probe if hasattr(request.node, "callspec") else probe.removeprefix("test_").replace("_", " "))


def _title(node: pytest.Item) -> str:
    doc = (node.module.__doc__ or item_key(node)).strip()
    return doc.splitlines()[0].rstrip(".")


# --- results, verdict, reports -----------------------------------------------------------------

@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    run = _run(item.config)
    if run is None or not _is_go_item(item):
        return
    run.titles.setdefault(item_key(item), _title(item))
    if report.when == "call" or (report.when == "setup" and not report.passed):
        run.results[item.nodeid] = _probe_result(item, report, call)
    elif report.when == "teardown" and item.nodeid in run.results:
        run.results[item.nodeid].seconds = round(run.results[item.nodeid].seconds + report.duration, 3)
    if report.when == "teardown":
        _maybe_item_finished(run, item)


def _maybe_item_finished(run: GoRun, item: pytest.Item) -> None:
    """The item's line, once its last probe is judged."""
    left = run.unfinished.get(item_key(item))
    if left is None or item.nodeid not in left:
        return
    left.discard(item.nodeid)
    if not left:
        probes = [result for result in run.results.values() if result.item == item_key(item)]
        if probes:
            summary = summarize_item(item_key(item), run.titles[item_key(item)], probes, run.target.grading)
            run.show(terminal.item_line(summary, _terminal_width(item.config)))


def _probe_result(item: pytest.Item, report: pytest.TestReport, call: pytest.CallInfo) -> ProbeResult:
    jobs: list[Job] = item.stash.get(JOBS_KEY, [])
    started = min((job.started_at for job in jobs if job.started_at), default=None)
    seconds = sum(job.seconds for job in jobs) + (report.duration if report.when == "call" else 0)
    result = ProbeResult(item=item_key(item), probe=_probe_id(item), outcome="passed",
                         seconds=round(seconds if jobs else report.duration, 3),
                         evidence=list(item.stash.get(EVIDENCE_KEY, [])), facts=dict(item.stash.get(FACTS_KEY, {})),
                         started_at=started.isoformat(timespec="milliseconds") if started else "",
                         finished_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                         degraded="; ".join(item.stash.get(DEGRADED_KEY, [])))
    result.retried = list(item.stash.get(TRIES_KEY, []))
    result.moments = list(item.stash.get(MOMENTS_KEY, []))
    if report.skipped:
        result.outcome = "skipped"
        result.message = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        result.message = result.message.removeprefix("Skipped: ")
    elif report.failed:
        error = call.excinfo.value if call.excinfo else None
        if report.when == "setup" and isinstance(error, AssertionError) and not isinstance(error, Unmet):
            error = ProbeError(f"the probe itself failed an assertion: {error}")
        error, result.outcome, result.message = judge_tries(error, item.stash.get(FAILED_TRY_KEY, None))
        if isinstance(error, Unmet):
            result.expected, result.observed = error.expected, error.observed
    elif result.retried:
        result.message = f"passed on try {len(result.retried) + 1} ({result.retried[-1]})"
    return result


def judge_tries(error: BaseException | None, failed_try: tuple[int, BaseException] | None,
                ) -> tuple[BaseException | None, str, str]:
    """(the error that decides, outcome, message) for a probe's last try. A last try that could not
    verify does not undo what an earlier try saw fail: the failure stands, with both said."""
    outcome, message = describe_error(error)
    if outcome == "inconclusive" and failed_try is not None:
        number, failure = failed_try
        outcome, failed_message = describe_error(failure)
        return failure, outcome, f"{failed_message} (try {number}; the last try {message})"
    return error, outcome, message


def describe_error(error: BaseException | None) -> tuple[str, str]:
    """(outcome, message): an unmet expectation is a failure of the target; anything else that
    went wrong is our probe's, so the item could not be verified."""
    if isinstance(error, Unmet):
        return "failed", str(error)
    if isinstance(error, AssertionError):
        return "failed", str(error).split("\nassert ")[0]
    kind = "" if isinstance(error, ProbeError) else f"{type(error).__name__}: "
    return "inconclusive", f"could not verify: {kind}{error}"


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """A check whose expectation failed is tried again, its observations made afresh, when the
    target's [retries] allow it for the item; otherwise pytest calls the check as usual."""
    run = _run(pyfuncitem.config)
    if run is None or run.target is None or not _is_go_item(pyfuncitem) \
            or not run.target.retries.get(item_key(pyfuncitem)):
        return None
    names = pyfuncitem._fixtureinfo.argnames
    while True:
        try:
            pyfuncitem.obj(**{name: pyfuncitem.funcargs[name] for name in names})
            return True
        except Exception as exc:
            if not run.try_again(pyfuncitem, exc):
                raise
        for spec in observations_of(pyfuncitem):
            if spec.name in pyfuncitem.funcargs:
                pyfuncitem.funcargs[spec.name] = run.observe(pyfuncitem, spec, again=True)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    run = _run(session.config)
    if run is None or run.target is None:
        return
    if session.config.option.collectonly:
        if run.sandbox and run.owns_sandbox:
            run.sandbox.stop()
        return
    run.stopped.set()
    try:
        if run.lanes:
            run.lanes.cancel_unfinished()   # an interrupted run: browser probes keep their evidence
            run.lanes.close()
        for node in session.items:
            if _is_go_item(node) and node.nodeid not in run.results:
                run.titles.setdefault(item_key(node), _title(node))
                run.results[node.nodeid] = ProbeResult(item_key(node), _probe_id(node), "inconclusive",
                                                       message="could not verify: the run ended before this probe")
        by_item: dict[str, list[ProbeResult]] = {}
        for result in run.results.values():
            by_item.setdefault(result.item, []).append(result)
        items = [summarize_item(key, run.titles[key], probes, run.target.grading) for key, probes in by_item.items()]
        run.verdict = RunVerdict.of(
            items, target=run.target.name, started_at=run.started_at, finished_at=datetime.now(timezone.utc),
            window_end=run.window_end, window_end_source=run.window_end_source, faults=run.faults,
            target_file=run.target_file, time_zone=run.target.time_zone)
        results_dir = Path(session.config.option.allure_report_dir)
        allure_report.finish_results(results_dir, run.verdict, run.secrets)
        if not session.config.getoption("--no-html-report"):
            run.verdict.html_report, run.html_note = allure_report.build_html_report(
                results_dir, run.reports_dir, run.target.name)
        run.verdict.escalation = _escalate(run).to_json()
        run.verdict.write(run.reports_dir, run.secrets)
        _add_to_github_step_summary(run)
        if exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
            session.exitstatus = run.verdict.exit_code
    finally:
        if run.sandbox and run.owns_sandbox:
            run.sandbox.stop()


def _add_to_github_step_summary(run: GoRun) -> None:
    """In GitHub Actions, the run's summary.md shows on the workflow run's page."""
    path = os.environ.get("GITHUB_STEP_SUMMARY")
    if not path:
        return
    try:
        with open(path, "a", encoding="utf-8") as step_summary:
            step_summary.write(run.secrets.redact(run.verdict.summary_markdown()) + "\n")
    except OSError as exc:
        run.say(f"warning: could not add the summary to $GITHUB_STEP_SUMMARY ({path}): {exc}")


def _escalate(run: GoRun) -> EscalationReport:
    """Escalate while the sandbox (and its ticket desk) is still up; a crash here is reported, not lost."""
    def progress(line: str) -> None:
        if line.endswith("…"):
            run.say(run.secrets.redact(line))

    html = Path(run.verdict.html_report) if run.verdict.html_report else None
    try:
        return escalate(run.verdict, run.target, run.secrets, run.reports_dir, run.escalation_mode,
                        report_path=html, progress=progress)
    except Exception as exc:  # noqa: BLE001 - the verdict must still be written, the failure shown
        failed = EscalationReport(run.escalation_mode)
        failed.deliveries.append(Delivery("escalation", "*", "failure", "all", "failed",
                                          run.secrets.redact(f"{type(exc).__name__}: {exc}")))
        return failed


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    """The table, why items did not pass, escalation, where the reports are; the verdict's own
    line comes last of all (pytest_unconfigure), after pytest's count of probes."""
    run = _run(config)
    if run is None or run.verdict is None:
        return
    verdict = run.verdict
    color = {"GO": {"green": True}, "NO-GO": {"red": True}, "INCONCLUSIVE": {"yellow": True}}[verdict.verdict]
    terminalreporter.section(f"Go checklist: {verdict.headline}", bold=True, **color)
    faults = f", sandbox faults: {', '.join(run.faults)}" if run.faults else ""
    terminalreporter.write_line(f"target {verdict.target}{faults}; {verdict.tally}")
    terminalreporter.write_line(_render(config, terminal.verdict_table(verdict)))
    reasons = terminal.reasons(verdict, reports_dir=_shown_path(config, run.reports_dir))
    if reasons:
        terminalreporter.write_line("")
        for line in reasons:
            terminalreporter.write_line(run.secrets.redact(line))
    _escalation_lines(terminalreporter, run)
    terminalreporter.write_line("")
    if verdict.html_report:
        terminalreporter.write_line(f"HTML report: {_shown_path(config, verdict.html_report)}  (one file: attach it "
                                    "to a ticket)")
    else:
        terminalreporter.write_line(run.html_note or "no HTML report (--no-html-report)")
        terminalreporter.write_line(f"Allure results: {_shown_path(config, config.option.allure_report_dir)}")
    ticket = (verdict.escalation or {}).get("ticket")
    if ticket:
        terminalreporter.write_line(f"ticket:      {_shown_path(config, ticket)}  (the vendor ticket, ready to paste)")
    terminalreporter.write_line(f"summary:     {_shown_path(config, run.reports_dir / 'summary.md')}")
    terminalreporter.write_line(f"verdict:     {_shown_path(config, run.reports_dir / 'verdict.json')}")


def pytest_unconfigure(config: pytest.Config) -> None:
    run = _run(config)
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if run is None or run.verdict is None or reporter is None:
        return
    markup = {"GO": {"green": True}, "NO-GO": {"red": True}, "INCONCLUSIVE": {"yellow": True}}[run.verdict.verdict]
    reporter.write_line(run.verdict.one_line(), bold=True, **markup)


def _shown_path(config: pytest.Config, path: str | Path) -> str:
    """Relative to where pytest was started when inside it: short enough to click or copy."""
    path = Path(path)
    try:
        return str(path.resolve().relative_to(config.invocation_params.dir.resolve()))
    except ValueError:
        return str(path)


def _escalation_lines(terminalreporter, run: GoRun) -> None:
    escalation = run.verdict.escalation or {}
    deliveries = escalation.get("deliveries", [])
    for delivery in deliveries:
        line = Delivery(**delivery).line()
        terminalreporter.write_line(run.secrets.redact(f"escalation: {line}"), red=delivery["status"] == "failed")
    if escalation.get("failed"):
        terminalreporter.write_line(f"ESCALATION FAILED for {escalation['failed']} delivery(ies): see above; "
                                    "resend with `allclear escalate` once the sink is back", red=True, bold=True)
    if escalation.get("dry_run_dir") and deliveries:
        terminalreporter.write_line(f"escalation dry run (nothing sent; --escalate sends): {escalation['dry_run_dir']}")

