"""Browser probes (Playwright, async API): start Chromium, and walk one agent through sign-in.

Async because every browser item shares one Chromium, driven from one thread (Playwright is not
thread-safe): agents sign in side by side, each in a context of its own (see allclear.lanes).
The walk itself is the target's (allclear.config.walks; the sandbox's when it writes none). Secrets
never reach evidence: a step that types one runs untraced, between two tracing sessions, because one
trace would record both the typed value and the login request's body (see scripted.py, walk.py).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from playwright.async_api import Browser, Page, Playwright
from playwright.async_api import Error as PlaywrightError

from allclear.items.login import LoginCheck
from allclear.probes.errors import BrowserUnavailable
from allclear.probes.scripted import PageSeen, ScriptedWalk
from allclear.probes.walk import BrowserWalk, WalkRecord

SYSTEM_CHROMIUM_FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]


def system_chromium() -> str | None:
    """$ALLCLEAR_CHROMIUM when set (and then only it), else a Chromium on PATH."""
    chosen = os.environ.get("ALLCLEAR_CHROMIUM")
    for candidate in [chosen] if chosen else ["chromium", "chromium-browser", "google-chrome"]:
        if found := shutil.which(candidate):
            return found
    return None


async def launch_chromium(playwright: Playwright) -> Browser:
    """Playwright's own Chromium where it is installed, else the system's (Debian: `chromium`)."""
    errors = []
    if not os.environ.get("ALLCLEAR_CHROMIUM"):
        try:
            return await playwright.chromium.launch(headless=True)
        except PlaywrightError as exc:
            errors.append(f"Playwright's Chromium: {str(exc).splitlines()[0]}")
    executable = system_chromium()
    if executable:
        try:
            return await playwright.chromium.launch(headless=True, executable_path=executable,
                                              args=SYSTEM_CHROMIUM_FLAGS)
        except PlaywrightError as exc:
            errors.append(f"{executable}: {str(exc).splitlines()[0]}")
    raise BrowserUnavailable(
        "no Chromium could be started (" + "; ".join(errors or ["none found"]) + "). Run "
        "`make setup`, or install one: `.venv/bin/playwright install chromium` or "
        "`sudo apt-get install chromium` (set ALLCLEAR_CHROMIUM to its path if it is elsewhere)"
    )


@dataclass
class LoginObservation(WalkRecord):
    """What one synthetic agent met, step by step, from the login page to logging out."""

    agent: str
    login_url: str
    login_page_status: int | None = None
    login_page_title: str = ""
    maintenance_page: bool = False
    signed_in: bool = False
    refusal: str = ""
    logged_out: bool = False
    step_seconds: dict[str, float] = field(default_factory=dict)
    over_budget: list[str] = field(default_factory=list)     # "Agent desktop loads took 9.2 s (budget 8 s)"


class AgentSession:
    """One agent's walk through the agent desktop (the target's `[login]` steps), in a fresh context."""

    def __init__(self, browser: Browser, settings: LoginCheck, evidence_dir: Path):
        self.browser, self.settings, self.evidence_dir = browser, settings, evidence_dir

    async def run(self, email: str, password: str, totp_seed: str = "",
                  secrets: Mapping[str, str] | None = None) -> LoginObservation:
        """Cancelled (the run's deadline passed), it still takes its screenshot, logs the agent out
        and keeps its trace: that is the evidence of where it hung. `secrets`: any other secret a
        step types by its env name (`secret_env`)."""
        seen = LoginObservation(agent=email, login_url=self.settings.url)
        steps, log_out = self.settings.walk, self.settings.logout_step
        first_secret = next((step for step in [*steps, log_out] if step.types_secret), None)
        async with BrowserWalk(self.browser, seen, self.evidence_dir, self.settings.step_timeout_s,
                               trace=_trace_name("before", first_secret) if first_secret else "trace.zip",
                               cleanup=self._log_out_if_signed_in) as walk:
            self.script = ScriptedWalk(
                walk, {"url": self.settings.url, "agent": email, "status": self.settings.active_status},
                {**(secrets or {}), "password": password, "totp": totp_seed},
                step_timeout_s=self.settings.step_timeout_s, page_timeout_s=self.settings.page_timeout_s,
                maintenance_phrases=self.settings.maintenance_phrases, on_page=partial(self._first_page, seen))
            await walk.run(self.script.steps([*steps, log_out], partial(_trace_name, "after")))
            seen.refusal = self.script.refusal
            seen.signed_in = self.script.submitted and not seen.refusal
            seen.logged_out = self.script.name(log_out) in self.script.step_seconds
            seen.step_seconds = self.script.step_seconds
            seen.over_budget = [f"{self.script.name(step)} took {seconds:.1f} s (budget {step.budget_s:g} s)"
                                for step in steps if step.budget_s
                                and (seconds := seen.step_seconds.get(self.script.name(step), 0)) > step.budget_s]
        return seen

    @staticmethod
    def _first_page(seen: LoginObservation, page: PageSeen) -> None:
        if seen.login_page_status is None:
            seen.login_page_status, seen.login_page_title = page.status, page.title
            seen.maintenance_page = page.maintenance

    async def _log_out_if_signed_in(self, page: Page, seen: LoginObservation) -> None:
        """A synthetic agent must never be left signed in and routable, whatever failed: a session
        may exist even if we never saw it (a secret was submitted, and not refused)."""
        script = self.script
        log_out = self.settings.logout_step
        if not script.submitted or script.refusal or script.name(log_out) in script.step_seconds:
            return
        problem, failed = seen.problem, seen.failed_step
        quick = log_out.model_copy(update={"timeout_s": 3.0})
        with contextlib.suppress(PlaywrightError):
            await script.steps([quick], lambda step: "")[0][1](page, seen)
        seen.problem, seen.failed_step = problem, failed


def _trace_name(when: str, step) -> str:
    """trace-before-agent-signs-in.zip: the trace up to a step that types a secret, and after it."""
    slug = re.sub(r"[^a-z0-9]+", "-", step.name.lower()).strip("-")
    return f"trace-{when}-{slug}.zip"
