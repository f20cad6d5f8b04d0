"""Browser probes (Playwright, sync API): start Chromium, and walk one agent through sign-in.

Passwords never reach evidence: the sign-in is done between two separate tracing sessions, because
one trace would record both the typed value and the login request's body.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path

from playwright.sync_api import Browser, BrowserContext, Page, Playwright
from playwright.sync_api import Error as PlaywrightError

from allclear.config import LoginCheck
from allclear.probes.errors import BrowserUnavailable

SYSTEM_CHROMIUM_FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
StepFactory = Callable[[str], AbstractContextManager[object]]


def system_chromium() -> str | None:
    """$ALLCLEAR_CHROMIUM when set (and then only it), else a Chromium on PATH."""
    chosen = os.environ.get("ALLCLEAR_CHROMIUM")
    for candidate in [chosen] if chosen else ["chromium", "chromium-browser", "google-chrome"]:
        if found := shutil.which(candidate):
            return found
    return None


def launch_chromium(playwright: Playwright) -> Browser:
    """Playwright's own Chromium where it is installed, else the system's (Debian: `chromium`)."""
    errors = []
    if not os.environ.get("ALLCLEAR_CHROMIUM"):
        try:
            return playwright.chromium.launch(headless=True)
        except PlaywrightError as exc:
            errors.append(f"Playwright's Chromium: {str(exc).splitlines()[0]}")
    executable = system_chromium()
    if executable:
        try:
            return playwright.chromium.launch(headless=True, executable_path=executable,
                                              args=SYSTEM_CHROMIUM_FLAGS)
        except PlaywrightError as exc:
            errors.append(f"{executable}: {str(exc).splitlines()[0]}")
    raise BrowserUnavailable(
        "no Chromium could be started (" + "; ".join(errors or ["none found"]) + "). Run "
        "`make setup`, or install one: `.venv/bin/playwright install chromium` or "
        "`sudo apt-get install chromium` (set ALLCLEAR_CHROMIUM to its path if it is elsewhere)"
    )


def failure_screenshot(page: Page, evidence_dir: Path) -> list[Path]:
    """The page as it was when a step failed; nothing when even that is impossible (page gone)."""
    path = evidence_dir / "screenshot.png"
    with contextlib.suppress(PlaywrightError):
        page.screenshot(path=path, full_page=True, timeout=5000)
        return [path]
    return []


@dataclass
class LoginObservation:
    """What one synthetic agent met, step by step, from the login page to logging out."""

    agent: str
    login_url: str
    login_page_status: int | None = None
    login_page_title: str = ""
    maintenance_page: bool = False
    signed_in: bool = False
    refusal: str = ""
    desktop_seconds: float | None = None
    status_set: str = ""
    logged_out: bool = False
    failed_step: str = ""
    problem: str = ""
    evidence: list[Path] = field(default_factory=list)


class AgentSession:
    """One agent's walk through the agent desktop, in a fresh browser context."""

    def __init__(self, browser: Browser, settings: LoginCheck, evidence_dir: Path,
                 step: StepFactory = lambda name: contextlib.nullcontext()):
        self.browser, self.settings, self.evidence_dir, self.step = browser, settings, evidence_dir, step
        self.selectors = settings.selectors

    def run(self, email: str, password: str) -> LoginObservation:
        seen = LoginObservation(agent=email, login_url=self.settings.url)
        self.evidence_dir.mkdir(parents=True, exist_ok=True)
        context = self.browser.new_context()
        context.set_default_timeout(self.settings.page_timeout_s * 1000)
        context.tracing.start(screenshots=True, snapshots=True)
        page = context.new_page()
        tracing = "before-sign-in"
        try:
            for name, action in [("Open the login page", self._open_login_page),
                                 ("Agent signs in", self._sign_in),
                                 ("Agent desktop loads", self._desktop_loads),
                                 (f"Agent sets status {self.settings.active_status}", self._set_status),
                                 ("Agent logs out", self._log_out)]:
                with self.step(name):
                    if name == "Agent signs in":
                        self._stop_trace(context, seen, tracing)
                        tracing = ""
                        ok = action(page, seen, password)
                        context.tracing.start(screenshots=True, snapshots=True)
                        tracing = "after-sign-in"
                    else:
                        ok = action(page, seen)
                if not ok:
                    seen.failed_step = name
                    break
        except PlaywrightError as exc:
            seen.failed_step = seen.failed_step or "browser"
            seen.problem = str(exc).splitlines()[0]
        finally:
            if seen.failed_step:
                self._screenshot(page, seen)
            if seen.signed_in and not seen.logged_out:
                self._log_out_quietly(page, seen)
            if tracing:
                self._stop_trace(context, seen, tracing)
            context.close()
        if not seen.failed_step:
            for path in seen.evidence:
                path.unlink(missing_ok=True)
            seen.evidence = []
            with contextlib.suppress(OSError):
                self.evidence_dir.rmdir()
        return seen

    def _open_login_page(self, page: Page, seen: LoginObservation) -> bool:
        try:
            response = page.goto(self.settings.url, wait_until="domcontentloaded")
        except PlaywrightError as exc:
            seen.problem = f"the login page did not load: {str(exc).splitlines()[0]}"
            return False
        seen.login_page_status = response.status if response else None
        seen.login_page_title = page.title()
        text = f"{seen.login_page_title} {page.inner_text('body')}".lower()
        seen.maintenance_page = any(phrase.lower() in text for phrase in self.settings.maintenance_phrases)
        if seen.maintenance_page:
            seen.problem = f"the maintenance page is still shown (title {seen.login_page_title!r})"
            return False
        if page.locator(self.selectors.email).count() == 0:
            seen.problem = (f"no email field ({self.selectors.email}) on the login page "
                            f"(HTTP {seen.login_page_status}, title {seen.login_page_title!r})")
            return False
        page.fill(self.selectors.email, seen.agent)
        return True

    def _sign_in(self, page: Page, seen: LoginObservation, password: str) -> bool:
        page.fill(self.selectors.password, password)
        self._submitted_at = time.monotonic()
        with page.expect_navigation(wait_until="domcontentloaded") as navigation:
            page.click(self.selectors.submit)
        response = navigation.value
        error = page.locator(self.selectors.login_error)
        if error.count():
            seen.refusal = error.first.inner_text().strip()
        elif response is not None and response.status >= 400:
            seen.refusal = f"HTTP {response.status} {page.title()!r}"
        if seen.refusal:
            seen.problem = f"sign-in refused: {seen.refusal}"
            return False
        seen.signed_in = True
        return True

    def _desktop_loads(self, page: Page, seen: LoginObservation) -> bool:
        try:
            page.wait_for_selector(self.selectors.desktop_ready, state="visible",
                                   timeout=self.settings.desktop_timeout_s * 1000)
        except PlaywrightError:
            seen.problem = f"the agent desktop did not finish loading within {self.settings.desktop_timeout_s:g} s"
            return False
        seen.desktop_seconds = round(time.monotonic() - self._submitted_at, 2)
        return True

    def _set_status(self, page: Page, seen: LoginObservation) -> bool:
        wanted = self.settings.active_status
        page.click(self.selectors.profile_menu)
        option = page.locator(self.selectors.status_option, has_text=wanted)
        if option.count() == 0:
            seen.problem = f"the profile menu offers no status {wanted!r}"
            return False
        option.first.click()
        current = page.locator(self.selectors.current_status)
        try:
            current.filter(has_text=wanted).wait_for(timeout=5000)
        except PlaywrightError:
            seen.problem = f"status stayed {current.first.inner_text()!r} after choosing {wanted!r}"
            return False
        seen.status_set = wanted
        return True

    def _log_out(self, page: Page, seen: LoginObservation, timeout_ms: float | None = None) -> bool:
        logout = page.locator(self.selectors.logout)
        if not logout.is_visible():
            page.click(self.selectors.profile_menu, timeout=timeout_ms)
        logout.click(timeout=timeout_ms)
        try:
            page.wait_for_selector(self.selectors.email, timeout=timeout_ms or 10000)
        except PlaywrightError:
            seen.problem = "logging out did not bring back the login page"
            return False
        seen.logged_out = True
        return True

    def _log_out_quietly(self, page: Page, seen: LoginObservation) -> None:
        """A synthetic agent must never be left signed in and routable, whatever failed."""
        problem = seen.problem
        with contextlib.suppress(PlaywrightError):
            self._log_out(page, seen, timeout_ms=3000)
        seen.problem = problem

    def _screenshot(self, page: Page, seen: LoginObservation) -> None:
        seen.evidence += failure_screenshot(page, self.evidence_dir)

    def _stop_trace(self, context: BrowserContext, seen: LoginObservation, name: str) -> None:
        path = self.evidence_dir / f"trace-{name}.zip"
        with contextlib.suppress(PlaywrightError):
            context.tracing.stop(path=path)
            seen.evidence.append(path)
