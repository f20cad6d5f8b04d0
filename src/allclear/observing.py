"""Observing: each check's probes started in the run's lanes, waited for, and tried again.

Every observation of the run is started when the run starts (see allclear.lanes); a check then
waits only for its own, printing the background probes' progress meanwhile, within the run's
deadline. A probe that raised, or a check whose expectation failed, is tried again when the
target's [retries] allow it for the item; only the last try counts (allclear.grading.judge_tries).
"""

from __future__ import annotations

import functools
import threading
from collections import deque
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import allure
import pytest

from allclear import allure_report
from allclear.checklist import Observation, item_key, probe_id
from allclear.config import Secrets, Target
from allclear.grading import describe_error
from allclear.lanes import Job, Lanes, RunDeadlinePassed
from allclear.probe_notes import (
    FAILED_TRY_KEY,
    JOBS_KEY,
    LAST_TRY_ONLY,
    TRIES_KEY,
    attach_evidence,
    evidence_dir_of,
)
from allclear.window import EmailWindow, NotYetDue, WindowEnd


class Observer:
    """The run's probes: started once each (again for a retry), with what the run owns as arguments."""

    def __init__(self, lanes: Lanes, target: Target, secrets: Secrets, reports_dir: Path, window_end: WindowEnd,
                 no_wait: bool, stopped: threading.Event, say: Callable[[str], None],
                 window_ended: Callable[[WindowEnd], None] = lambda end: None):
        self.lanes, self.target, self.secrets, self.reports_dir = lanes, target, secrets, reports_dir
        self.window_end, self.no_wait, self.stopped, self.say = window_end, no_wait, stopped, say
        self.window_ended = window_ended
        self.jobs: dict[tuple[str, str], Job] = {}
        self.evidence_dirs: dict[str, Path] = {}     # nodeid -> its latest try's
        self.progress: deque[str] = deque()          # lines for the terminal from background probes

    def start(self, node: pytest.Item, spec: Observation, again: bool = False) -> Job:
        key = (node.nodeid, spec.name)
        if key in self.jobs and not again:
            return self.jobs[key]
        params = getattr(getattr(node, "callspec", None), "params", {})
        evidence_dir = evidence_dir_of(node, self.reports_dir)
        if tries := len(node.stash.get(TRIES_KEY, [])):
            evidence_dir = evidence_dir / f"try-{tries + 1}"          # an earlier try's evidence stays as it was
        self.evidence_dirs[node.nodeid] = evidence_dir
        owned = {"target": self.target, "secrets": self.secrets, "evidence_dir": evidence_dir,
                 "email_window": self.email_window()}
        kwargs = {name: params[name] if name in params else owned[name]
                  for name in spec.arguments if name != "chromium"}
        name = f"{item_key(node)}/{probe_id(node)}"
        if spec.in_browser:
            pool = (spec.pool, self.pool_size(spec.pool)) if spec.pool else None
            # Pages are timed against a budget: they get the browser before the agents crowd it.
            after = [job for job in self.jobs.values() if job.lane == "browser" and job.pool != "agents"] \
                if spec.pool == "agents" else []
            job = self.lanes.start_browser(name, _given_chromium(spec), kwargs, pool, after)
        else:
            job = self.lanes.start_blocking(name, spec.function, kwargs, spec.serial)
        self.jobs[key] = job
        return job

    def email_window(self) -> EmailWindow:
        """The wait before a probe that goes out a while after the window (the email, the text)."""
        return EmailWindow(self.window_end, self.target.time_zone, self.no_wait, self.progress.append,
                           self.stopped, self.lanes.idle, self.target.status_page, ended=self._ended)

    def _ended(self, end: WindowEnd) -> None:
        """The maintenance in progress at the start has ended, seen by a waiting probe."""
        self.window_end = end
        self.window_ended(end)

    def pool_size(self, pool: str) -> int:
        sizes = {"agents": self.target.run.agents_at_once}
        if pool not in sizes:
            raise pytest.UsageError(f"unknown observation pool {pool!r}; known: {', '.join(sizes)}")
        return sizes[pool]

    def observe(self, node: pytest.Item, spec: Observation, again: bool = False) -> object:
        """The check's observation: wait for its probe (started at the run's start, or now when
        run --sequential), printing background progress meanwhile, within the run's deadline.
        A probe that raised is tried again when the target's [retries] allow it."""
        while True:
            job = self.start(node, spec, again)
            node.stash.setdefault(JOBS_KEY, []).append(job)
            try:
                seen = self.lanes.wait(job, on_tick=self.flush_progress)
            except RunDeadlinePassed:
                folder = self.evidence_dirs.get(node.nodeid, evidence_dir_of(node, self.reports_dir))
                for path in sorted(p for p in folder.glob("*") if p.is_file()):
                    attach_evidence(node, self.reports_dir, path)      # what the cancelled probe kept
                raise
            except NotYetDue as exc:
                pytest.skip(str(exc))
            except Exception as exc:
                if not self.try_again(node, exc):
                    raise
                again = True
                continue
            finally:
                self.flush_progress()
            allure_report.replay_steps(_steps_of(seen))
            return seen

    def try_again(self, node: pytest.Item, error: BaseException) -> bool:
        """Whether the probe gets another try (after its backoff, slept here); the try that failed
        is kept in Allure and in verdict.json. Never past the item's retry deadline or the run's."""
        retry = self.target.retries.get(item_key(node))
        tries = node.stash.setdefault(TRIES_KEY, [])
        if retry is None or len(tries) >= retry.count or isinstance(error, RunDeadlinePassed):
            return False
        first = next((job.started_at for job in node.stash.get(JOBS_KEY, []) if job.started_at), None)
        elapsed = (datetime.now(timezone.utc) - first).total_seconds() if first else 0.0
        if elapsed + retry.backoff_s > retry.deadline_s or self.lanes.deadline.left() <= retry.backoff_s:
            return False
        outcome, message = describe_error(error)
        if outcome == "failed":
            node.stash[FAILED_TRY_KEY] = (len(tries) + 1, error)
        tries.append(f"try {len(tries) + 1} {outcome}: {self.secrets.redact(message)}")
        allure.attach(f"{tries[-1]}\ntried again after {retry.backoff_s:g} s", name=f"Try {len(tries)}: {outcome}",
                      attachment_type=allure.attachment_type.TEXT)
        self.say(f"{item_key(node)}/{probe_id(node)}: {tries[-1].splitlines()[0][:160]}; "
                 f"trying again in {retry.backoff_s:g} s")
        for key in LAST_TRY_ONLY:
            if key in node.stash:
                node.stash[key].clear()
        self.stopped.wait(retry.backoff_s)
        return True

    def flush_progress(self) -> None:
        while self.progress:
            self.say(self.secrets.redact(self.progress.popleft()))


def _given_chromium(spec: Observation):
    """The browser lane hands its Chromium in as `browser`; observations call it `chromium`."""
    if "chromium" not in spec.arguments:
        return lambda browser, **kwargs: spec.function(**kwargs)
    return functools.partial(_with_chromium, spec.function)


async def _with_chromium(function, browser, **kwargs):
    return await function(chromium=browser, **kwargs)


def _steps_of(seen: object) -> list:
    """The steps a probe noted: on its observation, or on the one part of a tuple that has them."""
    parts = seen if isinstance(seen, tuple) else (seen,)
    return next((part.steps for part in parts if getattr(part, "steps", None)), [])
