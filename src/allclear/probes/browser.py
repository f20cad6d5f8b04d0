"""Browser probes (Playwright, async API): start Chromium, and walk one agent through sign-in.

Async because every browser item shares one Chromium, driven from one thread (Playwright is not
thread-safe): agents sign in side by side, each in a context of its own (see allclear.lanes).
Passwords never reach evidence: the sign-in step runs untraced, between two tracing sessions,
because one trace would record both the typed value and the login request's body (see walk.py).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from playwright.async_api import Browser, Page, Playwright
from playwright.async_api import Error as PlaywrightError

from allclear.items.login import LoginCheck
from allclear.probes.errors import BrowserUnavailable
from allclear.probes.walk import BrowserWalk, WalkRecord, appears, page_error, title_and_maintenance

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
    desktop_seconds: float | None = None
    status_set: str = ""
    logged_out: bool = False


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
        async with BrowserWalk(self.browser, seen, self.evidence_dir, self.settings.page_timeout_s,
                               trace="trace-before-sign-in.zip", cleanup=self._log_out_if_signed_in) as walk:
            await walk.run([
                ("Open the login page", self._open_login_page),
                ("Agent signs in", walk.untraced(partial(self._sign_in, password=password),
                                                 resume_as="trace-after-sign-in.zip")),
                ("Agent desktop loads", self._desktop_loads),
                (f"Agent sets status {self.settings.active_status}", self._set_status),
                ("Agent logs out", self._log_out),
            ])
        return seen

    async def _open_login_page(self, page: Page, seen: LoginObservation) -> bool:
        try:
            response = await page.goto(self.settings.url, wait_until="domcontentloaded")
        except PlaywrightError as exc:
            seen.problem = f"the login page did not load: {page_error(exc)}"
            return False
        seen.login_page_status = response.status if response else None
        phrases = self.settings.maintenance_phrases
        seen.login_page_title, seen.maintenance_page = await title_and_maintenance(page, phrases)
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
        if not await appears(page, self.selectors.desktop_ready, within_s=self.settings.desktop_timeout_s):
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
        if not await appears(page, self.selectors.email, within_s=(timeout_ms or 10000) / 1000):
            seen.problem = "logging out did not bring back the login page"
            return False
        seen.logged_out = True
        return True

    async def _log_out_if_signed_in(self, page: Page, seen: LoginObservation) -> None:
        """A synthetic agent must never be left signed in and routable, whatever failed: a session
        may exist even if we never saw it (the form was submitted, and not refused)."""
        if not (seen.signed_in or self._submitted and not seen.refusal) or seen.logged_out:
            return
        problem = seen.problem
        with contextlib.suppress(PlaywrightError):
            await self._log_out(page, seen, timeout_ms=3000)
        seen.problem = problem
