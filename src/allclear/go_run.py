"""One Go run: a pytest plugin object, registered by allclear.plugin only when pytest runs checks/.

It loads the target (starting the sandbox when the target is one), parametrizes each check by its
item's parameter, starts every probe when the run starts (allclear.observing), turns each test's
report into a probe result, and at the end writes the verdict, the reports and the escalation.
Being registered only for Go runs, none of its hooks has to ask whether this is one.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from allclear import allure_report, baseline, run_output, terminal
from allclear.checklist import is_go_item, item_key, item_of, maybe_skipped, observations_of, probe_id
from allclear.config import ConfigError, Secrets, Target
from allclear.escalation.dispatch import Delivery, EscalationReport, escalate, resolve_mode
from allclear.grading import ESCALATING, ItemResult, ProbeResult, summarize_item, vendor_view
from allclear.items import item as declared
from allclear.items import registered
from allclear.items.status_page import IN_PROGRESS_FACT, graded_while_in_progress
from allclear.lanes import Lanes, RunDeadline, keep_environment_steady
from allclear.observing import Observer
from allclear.probe_notes import probe_result
from allclear.sandbox import FaultError, Sandbox
from allclear.target import load_target
from allclear.verdict import RunVerdict
from allclear.window import WindowEnd, WindowEndError, email_due_at, parse_window_end, resolve_window_end

PLUGIN_NAME = "allclear-go-run"


@dataclass
class ItemProgress:
    """Where one item stands while the run goes on (for `allclear watch`'s live panel)."""

    key: str
    title: str
    probes: int
    finished: int
    running: int
    results: list[ProbeResult]


class GoRun:
    """Everything one Go run shares: the target, its secrets, the window, the results so far."""

    def __init__(self, config: pytest.Config, reports_dir: Path, target_path: Path):
        self.config, self.reports_dir, self.target_path = config, reports_dir, target_path
        self.say = run_output.terminal_line(config)
        self.target: Target | None = None
        self.secrets = Secrets({})
        self.sandbox: Sandbox | None = None
        self.owns_sandbox = True                     # False: `allclear watch` started it, and stops it
        self.faults: list[str] = []
        self.window_end = WindowEnd()
        self.started_at = datetime.now(timezone.utc)
        self.results: dict[str, ProbeResult] = {}    # nodeid -> its result
        self.titles: dict[str, str] = {}             # item -> title
        self.planned: dict[str, list[str]] = {}      # item -> its nodeids, in order
        self.unfinished: dict[str, set[str]] = {}    # item -> nodeids not yet judged
        self.verdict: RunVerdict | None = None
        self.html_note = ""
        self.escalation_mode = "dry-run"
        self.stopped = threading.Event()
        self.lanes: Lanes | None = None
        self.observer: Observer | None = None
        self.preflight = bool(config.getoption("--preflight"))
        self.baseline: baseline.Baseline | None = None
        self.baseline_note = ""                      # why a baseline on disk is not used
        self.escalated_at_once: dict[str, set[str]] = {}   # items escalated as they were decided: sinks told
        self.deliveries_at_once: list[Delivery] = []
        self.provisional: RunVerdict | None = None   # the verdict so far, written while items are still running
        self.said_so_far = False                     # the terminal told the verdict so far (only waiting items left)
        self._dry_run_state: Path | None = None      # the escalation state a dry run's calls share
        self.site: str = config.getoption("--site") or ""   # where this run probes from (allclear merge)

    @property
    def listing(self) -> bool:
        """`--collect-only` or `--fixtures`: the checks are listed, and nothing is read or sent."""
        return bool(self.config.option.collectonly or getattr(self.config.option, "showfixtures", False))

    def show(self, renderable: object) -> None:
        self.say(run_output.render(self.config, renderable))

    def observe(self, node: pytest.Item, spec) -> object:
        return self.observer.observe(node, spec)

    # --- the run starts: target, window, lanes --------------------------------------------------

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        config = self.config
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None and config.option.verbose <= 0:
            reporter.showfspath = False          # no "checks/test_login.py" line: the item's own line follows
        given_end = config.getoption("--window-end")
        try:
            if given_end:
                parse_window_end(given_end)
        except WindowEndError as exc:
            raise pytest.UsageError(str(exc)) from None
        self._load_target()
        try:
            self.escalation_mode = resolve_mode(self.target, config.getoption("--escalate"),
                                                config.getoption("--dry-run"))
        except ValueError as exc:
            self._stop_sandbox()
            raise pytest.UsageError(str(exc)) from None
        sites = self.target.sites
        if self.site and sites is not None and self.site not in sites.names:
            self._stop_sandbox()
            raise pytest.UsageError(f"--site {self.site}: not one of the target's [sites] names "
                                    f"({', '.join(sites.names)})")
        self.faults = self.sandbox.state.faults.describe() if self.sandbox else []
        ask = None if self.listing else self.target.status_page
        if self.listing:                    # listing the checks must not read or send anything
            return
        if self.preflight:
            self._before_the_window()
        else:
            self.window_end = resolve_window_end(given_end, config.getoption("--window-end-source"),
                                                 self.target.window_end, ask)
            self.baseline, self.baseline_note = baseline.load(self.reports_dir, self.target.name,
                                                              datetime.now(timezone.utc))
        self._prepare_lanes()

    def _before_the_window(self) -> None:
        """A preflight: refused while the platform is in maintenance; the email goes at once."""
        why = baseline.refusal(self.target)
        if why:
            self._stop_sandbox()
            raise pytest.UsageError(f"allclear preflight: no baseline taken: {why}")
        self.window_end = WindowEnd(None, "preflight, before the window")

    def _load_target(self) -> None:
        config = self.config
        try:
            running = next((plugin.allclear_sandbox for plugin in config.pluginmanager.get_plugins()
                            if getattr(plugin, "allclear_sandbox", None)), None)
            self.target, self.secrets, self.sandbox = load_target(
                self.target_path, config.getoption("--sandbox-fault"),
                desk_file=self.reports_dir / "sandbox-desk.json", running=running)
            if running is not None:
                self.sandbox, self.owns_sandbox = running, False
            delay = config.getoption("--email-delay")
            if delay is not None and self.target.email is not None:
                if delay < 0:
                    raise ConfigError(f"--email-delay must be 0 or more minutes, got {delay:g}")
                email = self.target.email.model_copy(update={"delay_after_window_min": delay})
                self.target = self.target.model_copy(update={"email": email})
        except (ConfigError, FaultError) as exc:
            self._stop_sandbox()
            verdict = RunVerdict.target_not_loaded(str(exc), self.target_path, self.started_at)
            verdict.write(self.reports_dir, self.secrets)
            run_output.add_to_github_step_summary(verdict, self.secrets, self.say)
            raise pytest.UsageError(str(exc)) from None    # nothing ran: the usage error is the whole story

    def _prepare_lanes(self) -> None:
        deadline_s = self.config.getoption("--deadline")
        if deadline_s is None:
            deadline_s = self.target.run.deadline_s
        elif deadline_s <= 0:
            raise pytest.UsageError(f"--deadline must be a number of seconds above 0, got {deadline_s:g}")
        self.lanes = Lanes(RunDeadline(deadline_s), self.target.run.probes_at_once, stopped=self.stopped)
        self._undo_steady_environment = keep_environment_steady()
        self.observer = Observer(self.lanes, self.target, self.secrets, self.reports_dir, self.window_end,
                                 self.config.getoption("--no-wait"), self.stopped, self.say, self._window_ended)
        email = self.target.email
        if email is None or not email.enabled:
            return
        due = email_due_at(self.window_end.moment, email.delay_after_window_min)
        ends = datetime.now(timezone.utc) + timedelta(seconds=deadline_s)
        if due and not self.observer.no_wait and due + timedelta(seconds=email.reply_deadline_s) > ends:
            zone = ZoneInfo(self.target.time_zone)
            self.say(f"warning: the email is due at {due.astimezone(zone):%H:%M:%S %Z}, too late for its reply before "
                     f"the run's deadline ({ends.astimezone(zone):%H:%M:%S %Z}): it will be inconclusive. Give "
                     "--deadline (or [run] deadline_s) more time, or run with --no-wait")

    # --- collection: one probe per parameter value; the waiting items last -------------------------

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        for item in registered().values():
            if item.parameter and item.parameter.name in metafunc.fixturenames:
                values = item.parameter.values(self.target)
                metafunc.parametrize(item.parameter.name, values, ids=[item.parameter.id(v) for v in values])

    def pytest_collection_modifyitems(self, items: list[pytest.Item], config: pytest.Config) -> None:
        """The waiting items (the email) last: the wait for the window end + delay overlaps the rest
        of the checklist (and, run --sequential, comes after it instead of holding it up). At a site,
        only the items the target's [sites] runs there."""
        items.sort(key=lambda node: item_of(node).waits)
        sites = self.target.sites if self.target else None
        if self.site and sites is not None:
            elsewhere = [node for node in items if is_go_item(node) and not sites.runs_at(item_key(node), self.site)]
            if elsewhere:
                config.hook.pytest_deselected(items=elsewhere)
                items[:] = [node for node in items if node not in elsewhere]

    @pytest.hookimpl(wrapper=True)
    def pytest_runtestloop(self, session: pytest.Session):
        """Start every observation of the run at once; each check then waits only for its own."""
        if self.lanes is not None and not self.listing:
            for node in session.items:
                if is_go_item(node):
                    self.unfinished.setdefault(item_key(node), set()).add(node.nodeid)
                    self.planned.setdefault(item_key(node), []).append(node.nodeid)
                    self.titles.setdefault(item_key(node), item_of(node).title)
            self.say(run_output.opening_line(
                self.target.name + (f" from site {self.site}" if self.site else ""), self.target.time_zone,
                len(self.planned), sum(map(len, self.planned.values())),
                self.lanes.deadline.seconds, self.window_end, self.faults))
            said = run_output.baseline_line(self.preflight, self.baseline, self.baseline_note, self.target.time_zone)
            if said:
                self.say(said)
            if not self.config.getoption("--sequential"):
                starts = [(node, spec) for node in session.items if is_go_item(node) and not maybe_skipped(node)
                          for spec in observations_of(node)]
                for node, spec in sorted(starts, key=lambda start: start[1].pool == "agents"):
                    self.observer.start(node, spec)
        return (yield)

    # --- each probe judged ---------------------------------------------------------------------------

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo):
        outcome = yield
        report: pytest.TestReport = outcome.get_result()
        if not is_go_item(item):
            return
        self.titles.setdefault(item_key(item), item_of(item).title)
        if report.when == "call" or (report.when == "setup" and not report.passed):
            result = self.results[item.nodeid] = probe_result(item, report, call)
            if self.baseline and self.baseline.matches(result):
                result.already_failing = True
                result.facts["baseline_evidence"] = self.baseline.failing[(result.item, result.probe)]["evidence"]
        elif report.when == "teardown" and item.nodeid in self.results:
            self.results[item.nodeid].seconds = round(self.results[item.nodeid].seconds + report.duration, 3)
        if report.when == "teardown":
            self._maybe_item_finished(item)

    def _maybe_item_finished(self, node: pytest.Item) -> None:
        """Once the item's last probe is judged: its line; a P1/P2 escalated at once; and, once only
        the waiting items (the email) are left, the provisional verdict."""
        left = self.unfinished.get(item_key(node))
        if left is None or node.nodeid not in left:
            return
        left.discard(node.nodeid)
        probes = [result for result in self.results.values() if result.item == item_key(node)]
        if not left and probes:
            summary = self._summarize(item_key(node), probes)
            self.show(terminal.item_line(summary, run_output.terminal_width(self.config)))
            if any(self.unfinished.values()):
                try:
                    self._escalate_at_once(summary)
                    self._maybe_provisional()
                except Exception as exc:  # noqa: BLE001 - the run goes on; its end escalates and writes anyway
                    self.say(self.secrets.redact(f"warning: the verdict so far could not be written or escalated: "
                                                 f"{type(exc).__name__}: {exc} (the run's end will)"))

    def _summarize(self, key: str, probes: list[ProbeResult]) -> ItemResult:
        return graded_while_in_progress(summarize_item(key, self.titles[key], probes, self.target.grading),
                                        self.target.status_page)

    # --- while the run goes on: escalation at once, the provisional verdict ---------------------------

    def _escalate_at_once(self, item: ItemResult) -> None:
        """A P1/P2 pages and tickets as soon as its item is decided, not when the email is answered
        15 minutes later; the run's end updates the same escalation with the final report."""
        seen = vendor_view(item)
        if self.preflight or seen.outcome != "failed" or seen.grade not in ESCALATING:
            return
        verdict = self._provisional_verdict()
        report = self._escalate(verdict, only={item.item})
        for delivery in report.deliveries:
            delivery.stage = "at once"
        self.deliveries_at_once += report.deliveries
        told = {d.sink for d in report.deliveries if d.item == item.item and d.status in ("sent", "dry-run")}
        if not any(d.sink == "escalation" for d in report.deliveries):     # it ran (else: counted at the end)
            self.escalated_at_once[item.item] = told
        self._write_provisional(verdict)

    def _maybe_provisional(self) -> None:
        """Once every item but the waiting ones (the email, the text) is decided: the verdict so far."""
        left = [key for key, nodeids in self.unfinished.items() if nodeids]
        if not self.said_so_far and left and all(declared(key).waits for key in left):
            self._write_provisional(self._provisional_verdict())
            self.said_so_far = True
            self.say(f"verdict so far: {self.provisional.provisional_line()}")

    def _write_provisional(self, verdict: RunVerdict) -> None:
        verdict.escalation = EscalationReport(self.escalation_mode, earlier=self.deliveries_at_once).to_json()
        verdict.write(self.reports_dir, self.secrets)
        self.provisional = verdict

    def _provisional_verdict(self) -> RunVerdict:
        """The verdict over the items decided so far; the others pending, each with its due time."""
        decided = {key for key, nodeids in self.unfinished.items() if not nodeids}
        pending = [key for key, nodeids in self.unfinished.items() if nodeids]
        verdict = self._judge({k: v for k, v in self.results.items() if v.item in decided})
        others = [key for key in pending if not declared(key).waits]
        verdict.final = False
        verdict.pending = [self._pending_text(key) for key in pending if declared(key).waits]
        verdict.pending += [f"{len(others)} other item{'s' if len(others) > 1 else ''} still running"] if others else []
        ends = [self._final_by(key) for key in pending]
        verdict.final_by = max(ends) if ends and None not in ends else self._run_ends_at()
        return verdict

    def _window_ended(self, end: WindowEnd) -> None:
        """Learned while the run goes on (the email waited for the maintenance in progress to end): the
        verdict's window end, the timeline and the waiting items' due times follow it. The other items
        were checked during the maintenance: what was in progress then is kept, and the run is no GO."""
        self.window_end = WindowEnd(end.moment, end.source, self.window_end.in_progress)

    def _pending_text(self, key: str) -> str:
        due, zone = self.due(key), ZoneInfo(self.target.time_zone)
        name = declared(key).name.lower()
        if due is not None and due > datetime.now(timezone.utc):
            return f"{name} due {due.astimezone(zone):%H:%M:%S %Z}"
        if due is None and self.window_end.in_progress and declared(key).waits:
            return f"{name} waits for the maintenance to end"
        return f"{name} still running"

    def _final_by(self, key: str) -> datetime | None:
        """When a pending item is decided at the latest: its due time plus what it may wait after it."""
        settings = getattr(self.target, key, None)
        allowance = sum(getattr(settings, name, 0) or 0 for name in ("reply_deadline_s", "listen_s",
                                                                      "conversation_deadline_s"))
        start = self.due(key) or (datetime.now(timezone.utc) if not self.window_end.in_progress else None)
        if start is None:
            return None
        return min(max(start, datetime.now(timezone.utc)) + timedelta(seconds=allowance), self._run_ends_at())

    def _run_ends_at(self) -> datetime:
        return self.started_at + timedelta(seconds=self.lanes.deadline.seconds if self.lanes else 0)

    @pytest.hookimpl(tryfirst=True)
    def pytest_pyfunc_call(self, pyfuncitem: pytest.Function) -> bool | None:
        """A check whose expectation failed is tried again, its observations made afresh, when the
        target's [retries] allow it for the item; otherwise pytest calls the check as usual."""
        if self.target is None or not is_go_item(pyfuncitem) or not self.target.retries.get(item_key(pyfuncitem)):
            return None
        names = pyfuncitem._fixtureinfo.argnames
        while True:
            try:
                pyfuncitem.obj(**{name: pyfuncitem.funcargs[name] for name in names})
                return True
            except Exception as exc:
                if not self.observer.try_again(pyfuncitem, exc):
                    raise
            for spec in observations_of(pyfuncitem):
                if spec.name in pyfuncitem.funcargs:
                    pyfuncitem.funcargs[spec.name] = self.observer.observe(pyfuncitem, spec, again=True)

    @pytest.hookimpl(wrapper=True)
    def pytest_report_teststatus(self, report: pytest.TestReport, config: pytest.Config):
        """No dot or letter per probe (its item's line says it); -v brings pytest's back."""
        status = yield
        if config.option.verbose <= 0 and status \
                and any(report.nodeid in nodeids for nodeids in self.planned.values()):
            return status[0], "", ""
        return status

    # --- the run ends: verdict, reports, escalation ----------------------------------------------------

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if self.target is None:
            return
        if self.listing:
            self._stop_sandbox()
            return
        self.stopped.set()
        try:
            if self.lanes:
                self.lanes.cancel_unfinished()   # an interrupted run: browser probes keep their evidence
                self.lanes.close()
            for node in session.items:
                if is_go_item(node) and node.nodeid not in self.results:
                    self.titles.setdefault(item_key(node), item_of(node).title)
                    self.results[node.nodeid] = ProbeResult(item_key(node), probe_id(node), "inconclusive",
                                                            message="could not verify: the run ended before this probe")
            self.verdict = self._judge(self.results)
            results_dir = Path(self.config.option.allure_report_dir)
            allure_report.finish_results(results_dir, self.verdict, self.secrets)
            if not self.config.getoption("--no-html-report"):
                self.verdict.html_report, self.html_note = allure_report.build_html_report(
                    results_dir, self.reports_dir, self.target.name)
            if self.preflight:
                kept = baseline.keep(self.verdict, self.reports_dir, self.target.run.baseline_valid_h)
                self.verdict.baseline = str(kept)
            else:
                ended = self._escalate(self.verdict, escalated_at_once=self.escalated_at_once)
                ended.earlier = self.deliveries_at_once
                self.verdict.escalation = ended.to_json()
            self.verdict.write(self.reports_dir, self.secrets)
            run_output.add_to_github_step_summary(self.verdict, self.secrets, self.say)
            if exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
                session.exitstatus = self.verdict.exit_code
        finally:
            if self.lanes:
                self._undo_steady_environment()
            self._stop_sandbox()
            if self._dry_run_state is not None:
                shutil.rmtree(self._dry_run_state.parent, ignore_errors=True)

    def _judge(self, results: dict[str, ProbeResult]) -> RunVerdict:
        by_item: dict[str, list[ProbeResult]] = {}
        for result in results.values():
            by_item.setdefault(result.item, []).append(result)
        items = [self._summarize(key, probes) for key, probes in by_item.items()]
        window = self.window_end          # read once: the email's thread may learn the end meanwhile
        return RunVerdict.of(
            items, target=self.target.name, started_at=self.started_at, finished_at=datetime.now(timezone.utc),
            window_end=window.moment, window_end_source=window.source, faults=self.faults,
            target_file=str(self.target_path.resolve()), time_zone=self.target.time_zone, preflight=self.preflight,
            baseline=f"{self.baseline.path} (taken {self.baseline.taken_at.isoformat(timespec='seconds')})"
            if self.baseline else "", maintenance_in_progress=self._maintenance_in_progress(items), site=self.site)

    def _maintenance_in_progress(self, items: list) -> str:
        """What the status page showed in progress: its own item's reading, the later one (a pass: none
        any more), else what the run read when it started."""
        page = next((item for item in items if item.item == "status_page"), None)
        if page is None:
            return self.window_end.in_progress
        said = "; ".join(p.facts[IN_PROGRESS_FACT] for p in page.probes if IN_PROGRESS_FACT in p.facts)
        return said or ("" if page.outcome == "passed" else self.window_end.in_progress)

    def _escalate(self, verdict: RunVerdict, only: set[str] | None = None,
                  escalated_at_once: dict[str, set[str]] | None = None) -> EscalationReport:
        """Escalate while the sandbox (and its ticket desk) is still up; a crash here is reported, not lost."""
        def progress(line: str) -> None:
            if line.endswith("…"):
                self.say(self.secrets.redact(line))

        html = Path(verdict.html_report) if verdict.html_report else None
        if self._dry_run_state is None:
            self._dry_run_state = Path(tempfile.mkdtemp(prefix="allclear-escalations-")) / "dry-run.sqlite"
        try:
            return escalate(verdict, self.target, self.secrets, self.reports_dir, self.escalation_mode,
                            report_path=html, progress=progress, only=only, escalated_at_once=escalated_at_once,
                            dry_run_state=self._dry_run_state)
        except Exception as exc:  # noqa: BLE001 - the verdict must still be written, the failure shown
            failed = EscalationReport(self.escalation_mode)
            failed.deliveries.append(Delivery("escalation", "*", "failure", "all", "failed",
                                              self.secrets.redact(f"{type(exc).__name__}: {exc}")))
            return failed

    def _stop_sandbox(self) -> None:
        if self.sandbox and self.owns_sandbox:
            self.sandbox.stop()
            self.sandbox = None

    def pytest_terminal_summary(self, terminalreporter, config: pytest.Config) -> None:
        if self.verdict is not None:
            run_output.write_summary(terminalreporter, config, self.verdict, self.secrets, self.reports_dir,
                                     self.faults, self.html_note)

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        if self.verdict is not None:
            run_output.verdict_line(config, self.verdict)

    # --- for `allclear watch`'s live panel ----------------------------------------------------------

    def progress(self) -> list[ItemProgress]:
        """Each planned item: its probes finished, running, and the results so far."""
        jobs = list(self.observer.jobs.items()) if self.observer else []
        states = []
        for key, nodeids in list(self.planned.items()):
            running = sum(job.started_at is not None and not job.done.is_set()
                          for (nodeid, _), job in jobs if nodeid in nodeids)
            states.append(ItemProgress(key, self.titles.get(key) or key.replace("_", " "), len(nodeids),
                                       len(nodeids) - len(self.unfinished.get(key, ())), running,
                                       [self.results[n] for n in nodeids if n in self.results]))
        return states

    def due(self, key: str) -> datetime | None:
        """When a waiting item (the email, the text) goes out: the window end plus its delay."""
        settings = getattr(self.target, key, None) if self.target else None
        delay = getattr(settings, "delay_after_window_min", None)
        return email_due_at(self.window_end.moment, delay) if delay is not None else None

    def email_due(self) -> datetime | None:
        email = self.target.email if self.target else None
        return email_due_at(self.window_end.moment, email.delay_after_window_min) if email else None
