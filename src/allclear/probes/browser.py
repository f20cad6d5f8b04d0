"""Browser probes (Playwright, async API): start Chromium, and walk one agent through sign-in.

Async because every browser item shares one Chromium, driven from one thread (Playwright is not
thread-safe): agents sign in side by side, each in a context of its own (see allclear.lanes).
Passwords never reach evidence: the sign-in is done between two separate tracing sessions, because
one trace would record both the typed value and the login request's body.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from playwright.async_api import Browser, BrowserContext, Page, Playwright
from playwright.async_api import Error as PlaywrightError

from allclear.config import LoginCheck
from allclear.probes.errors import BrowserUnavailable
from allclear.probes.steps import Step, StepLog

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


NET_ERRORS = {
    "ERR_CONNECTION_REFUSED": "connection refused (nothing listens there)",
    "ERR_NAME_NOT_RESOLVED": "the host name does not resolve",
    "ERR_INVALID_HTTP_RESPONSE": "the answer was not HTTP",
    "ERR_EMPTY_RESPONSE": "the server hung up without answering",
    "ERR_CONNECTION_RESET": "the connection was reset",
    "ERR_CONNECTION_CLOSED": "the connection was closed",
    "ERR_TIMED_OUT": "timed out",
    "ERR_CERT_AUTHORITY_INVALID": "its TLS certificate is not trusted",
    "ERR_CERT_DATE_INVALID": "its TLS certificate has expired (or is not yet valid)",
    "ERR_CERT_COMMON_NAME_INVALID": "its TLS certificate is for another name",
}


def page_error(error: PlaywrightError) -> str:
    """Playwright's message, first line, in words: `Page.goto: net::ERR_CONNECTION_REFUSED at URL`
    becomes `connection refused (nothing listens there) [net::ERR_CONNECTION_REFUSED]`."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    text = re.sub(r"^\w+\.\w+: ", "", text)
    code = re.search(r"net::(ERR_[A-Z_]+)", text)
    if code and code.group(1) in NET_ERRORS:
        return f"{NET_ERRORS[code.group(1)]} [net::{code.group(1)}]"
    return text


async def failure_screenshot(page: Page, evidence_dir: Path) -> list[Path]:
    """The page as it was when a step failed; nothing when even that is impossible (page gone)."""
    path = evidence_dir / "screenshot.png"
    with contextlib.suppress(PlaywrightError):
        await page.screenshot(path=path, full_page=True, timeout=5000)
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
    steps: list[Step] = field(default_factory=list)


class AgentSession:
    """One agent's walk through the agent desktop, in a fresh browser context."""

    def __init__(self, browser: Browser, settings: LoginCheck, evidence_dir: Path):
        self.browser, self.settings, self.evidence_dir = browser, settings, evidence_dir
        self.selectors = settings.selectors
        self._submitted = False

    async def run(self, email: str, password: str) -> LoginObservation:
        """Cancelled (the run's deadline passed), it still takes its screenshot, logs the agent out
        and keeps its trace: that is the evidence of where it hung."""
        seen = LoginObservation(agent=email, login_url=self.settings.url)
        steps = StepLog()
        seen.steps = steps
        self.evidence_dir.mkdir(parents=True, exist_ok=True)
        context = await self.browser.new_context()
        context.set_default_timeout(self.settings.page_timeout_s * 1000)
        await context.tracing.start(snapshots=True)
        page = await context.new_page()
        tracing = "before-sign-in"
        name = ""
        try:
            for name, action in [("Open the login page", self._open_login_page),
                                 ("Agent signs in", self._sign_in),
                                 ("Agent desktop loads", self._desktop_loads),
                                 (f"Agent sets status {self.settings.active_status}", self._set_status),
                                 ("Agent logs out", self._log_out)]:
                with steps(name) as step:
                    if name == "Agent signs in":
                        await self._stop_trace(context, seen, tracing)
                        tracing = ""
                        ok = await action(page, seen, password)
                        await context.tracing.start(snapshots=True)
                        tracing = "after-sign-in"
                    else:
                        ok = await action(page, seen)
                    if not ok:
                        step.fail(seen.problem)
                if not ok:
                    seen.failed_step = name
                    break
        except PlaywrightError as exc:
            seen.failed_step = seen.failed_step or name or "browser"
            seen.problem = page_error(exc)
        finally:
            troubled = bool(seen.failed_step) or not seen.logged_out      # failed, or cancelled at the deadline
            if troubled:
                await self._screenshot(page, seen)
            if (seen.signed_in or self._submitted and not seen.refusal) and not seen.logged_out:
                await self._log_out_quietly(page, seen)     # a session may exist even if we never saw it
            if tracing:
                await self._stop_trace(context, seen, tracing, keep=troubled)
            with contextlib.suppress(PlaywrightError):
                await context.close()
        if not seen.failed_step:
            for path in seen.evidence:
                path.unlink(missing_ok=True)
            seen.evidence = []
            with contextlib.suppress(OSError):
                self.evidence_dir.rmdir()
        return seen

    async def _open_login_page(self, page: Page, seen: LoginObservation) -> bool:
        try:
            response = await page.goto(self.settings.url, wait_until="domcontentloaded")
        except PlaywrightError as exc:
            seen.problem = f"the login page did not load: {page_error(exc)}"
            return False
        seen.login_page_status = response.status if response else None
        seen.login_page_title = await page.title()
        text = f"{seen.login_page_title} {await page.inner_text('body')}".lower()
        seen.maintenance_page = any(phrase.lower() in text for phrase in self.settings.maintenance_phrases)
        if seen.maintenance_page:
            seen.problem = f"the maintenance page is still shown (title {seen.login_page_title!r})"
            return False
        if await page.locator(self.selectors.email).count() == 0:
            seen.problem = (f"no email field ({self.selectors.email}) on the login page "
                            f"(HTTP {seen.login_page_status}, title {seen.login_page_title!r})")
            return False
        await page.fill(self.selectors.email, seen.agent)
        return True

    async def _sign_in(self, page: Page, seen: LoginObservation, password: str) -> bool:
        await page.fill(self.selectors.password, password)
        self._submitted, self._submitted_at = True, time.monotonic()
        async with page.expect_navigation(wait_until="domcontentloaded") as navigation:
            await page.click(self.selectors.submit)
        response = await navigation.value
        error = page.locator(self.selectors.login_error)
        if await error.count():
            seen.refusal = (await error.first.inner_text()).strip()
        elif response is not None and response.status >= 400:
            seen.refusal = f"HTTP {response.status} {await page.title()!r}"
        if seen.refusal:
            seen.problem = f"sign-in refused: {seen.refusal}"
            return False
        seen.signed_in = True
        return True

    async def _desktop_loads(self, page: Page, seen: LoginObservation) -> bool:
        try:
            await page.wait_for_selector(self.selectors.desktop_ready, state="visible",
                                         timeout=self.settings.desktop_timeout_s * 1000)
        except PlaywrightError:
            seen.problem = f"the agent desktop did not finish loading within {self.settings.desktop_timeout_s:g} s"
            return False
        seen.desktop_seconds = round(time.monotonic() - self._submitted_at, 2)
        return True

    async def _set_status(self, page: Page, seen: LoginObservation) -> bool:
        wanted = self.settings.active_status
        await page.click(self.selectors.profile_menu)
        option = page.locator(self.selectors.status_option, has_text=wanted)
        if await option.count() == 0:
            seen.problem = f"the profile menu offers no status {wanted!r}"
            return False
        await option.first.click()
        current = page.locator(self.selectors.current_status)
        try:
            await current.filter(has_text=wanted).wait_for(timeout=5000)
        except PlaywrightError:
            seen.problem = f"status stayed {await current.first.inner_text()!r} after choosing {wanted!r}"
            return False
        seen.status_set = wanted
        return True

    async def _log_out(self, page: Page, seen: LoginObservation, timeout_ms: float | None = None) -> bool:
        logout = page.locator(self.selectors.logout)
        if not await logout.is_visible():
            await page.click(self.selectors.profile_menu, timeout=timeout_ms)
        await logout.click(timeout=timeout_ms)
        try:
            await page.wait_for_selector(self.selectors.email, timeout=timeout_ms or 10000)
        except PlaywrightError:
            seen.problem = "logging out did not bring back the login page"
            return False
        seen.logged_out = True
        return True

    async def _log_out_quietly(self, page: Page, seen: LoginObservation) -> None:
        """A synthetic agent must never be left signed in and routable, whatever failed."""
        problem = seen.problem
        with contextlib.suppress(PlaywrightError):
            await self._log_out(page, seen, timeout_ms=3000)
        seen.problem = problem

    async def _screenshot(self, page: Page, seen: LoginObservation) -> None:
        seen.evidence += await failure_screenshot(page, self.evidence_dir)

    async def _stop_trace(self, context: BrowserContext, seen: LoginObservation, name: str, keep: bool = True) -> None:
        """A trace nothing went wrong in is dropped unwritten: writing it is a good part of an agent's cost."""
        path = self.evidence_dir / f"trace-{name}.zip"
        with contextlib.suppress(PlaywrightError):
            if not keep:
                await context.tracing.stop()
                return
            await context.tracing.stop(path=path)
            seen.evidence.append(path)
