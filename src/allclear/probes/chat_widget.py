"""Chat widget probe (Playwright): the widget on a website page is there *and usable*.

During maintenance the vendor's widget can still appear while its quick actions and search do not
load, and ops throttle chat to 0% (which hides it) before the window. So the probe walks the widget
like a customer: script loaded, launcher shown, panel opened, quick actions and search answered.
Those are self-service and work at any hour; only live chat follows business hours (a chat started
in them, the offline message outside them). Windows end at night: the revert people forget
(search and quick actions switched back on) must be caught then too.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from pathlib import Path

from playwright.async_api import Browser, ConsoleMessage, Page, Response
from playwright.async_api import Error as PlaywrightError

from allclear.items.chat_widget import ChatWidgetCheck
from allclear.probes.locators import locate
from allclear.probes.walk import BrowserWalk, WalkRecord, appears, page_error


@dataclass
class WidgetObservation(WalkRecord):
    page_url: str
    expected_open: bool
    page_status: int | None = None
    script_status: int | None = None
    script_url: str = ""
    launcher_visible: bool = False
    offline_message: str = ""
    quick_actions: list[str] = field(default_factory=list)
    search_results: int | None = None
    chat_message_sent: bool | None = None
    seconds_to_usable: float | None = None
    console_errors: list[str] = field(default_factory=list)
    not_checked: list[str] = field(default_factory=list)     # what this visit left out, and why


class WidgetVisit:
    def __init__(self, browser: Browser, settings: ChatWidgetCheck, evidence_dir: Path):
        self.browser, self.settings, self.evidence_dir = browser, settings, evidence_dir
        self.sel = settings.selectors

    async def run(self, page_url: str, expected_open: bool) -> WidgetObservation:
        seen = WidgetObservation(page_url=page_url, expected_open=expected_open)
        steps = [("Open the website page", self._open_page), *self._steps(seen, expected_open)]
        async with BrowserWalk(self.browser, seen, self.evidence_dir, self.settings.step_timeout_s,
                               trace="trace.zip") as walk:
            walk.page.on("console", lambda message: self._console(seen, message))
            walk.page.on("pageerror", lambda error: seen.console_errors.append(f"uncaught: {error}"))
            walk.page.on("response", lambda response: self._response(seen, response))
            started = time.monotonic()
            await walk.run(steps)
            if not seen.failed_step and seen.launcher_visible:
                seen.seconds_to_usable = round(time.monotonic() - started, 2)
        return seen

    def _steps(self, seen: WidgetObservation, expected_open: bool) -> list:
        """Self-service at any hour, then live chat as business hours say."""
        s = self.settings
        if not expected_open and s.off_hours == "hidden":
            seen.not_checked.append("search and quick actions: the widget is hidden outside business hours "
                                    "(off_hours = \"hidden\")")
            return [("Widget stays hidden outside business hours", self._stays_hidden)]
        steps = [("Chat launcher appears", self._launcher_appears), ("Panel opens", self._panel_opens)]
        if s.quick_actions:
            steps.append(("Quick actions load", self._quick_actions_load))
        if s.search:
            steps.append(("FAQ search answers", self._search))
        if expected_open and s.start_chat:
            steps.append(("A chat starts and a message is sent", self._send_message))
        elif not expected_open and s.off_hours == "offline-message":
            steps.append(("Offline message shows outside business hours", self._offline_message))
        elif not expected_open:
            seen.not_checked.append("live chat: outside business hours (off_hours = \"skip\")")
        return steps

    def _console(self, seen: WidgetObservation, message: ConsoleMessage) -> None:
        if message.type == "error" and self.settings.script_url_contains in (message.location or {}).get("url", ""):
            seen.console_errors.append(message.text)

    def _response(self, seen: WidgetObservation, response: Response) -> None:
        if self.settings.script_url_contains in response.url and seen.script_status is None:
            seen.script_status, seen.script_url = response.status, response.url

    async def _open_page(self, page: Page, seen: WidgetObservation) -> bool:
        try:
            response = await page.goto(seen.page_url, wait_until="load", timeout=self.settings.load_timeout_s * 1000)
        except PlaywrightError as exc:
            seen.problem = f"the page did not load: {page_error(exc)}"
            return False
        seen.page_status = response.status if response else None
        if seen.page_status and seen.page_status >= 400:
            seen.problem = f"the page answered HTTP {seen.page_status}"
            return False
        with contextlib.suppress(PlaywrightError):
            await page.wait_for_load_state("networkidle", timeout=self.settings.load_timeout_s * 1000)
        if seen.script_status is None:
            seen.problem = f"no request for the widget script ({self.settings.script_url_contains}) from the page"
            return False
        if seen.script_status != 200:
            seen.problem = f"the widget script answered HTTP {seen.script_status} ({seen.script_url})"
            return False
        return True

    async def _launcher_appears(self, page: Page, seen: WidgetObservation) -> bool:
        if not await appears(locate(page, self.sel.launcher), within_s=self.settings.load_timeout_s):
            seen.problem = (f"the chat launcher ({self.sel.launcher}) did not appear within "
                            f"{self.settings.load_timeout_s:g} s: is chat still throttled to 0%?")
            return False
        seen.launcher_visible = True
        return True

    async def _panel_opens(self, page: Page, seen: WidgetObservation) -> bool:
        await locate(page, self.sel.launcher).first.click()
        if not await appears(locate(page, self.sel.panel)):
            seen.problem = f"clicking the launcher did not open the chat panel ({self.sel.panel})"
            return False
        return True

    async def _quick_actions_load(self, page: Page, seen: WidgetObservation) -> bool:
        if not await self._search_or_actions(page):
            await appears(locate(page, self.sel.search_input).or_(locate(page, self.sel.quick_action)), within_s=3)
        if not await self._search_or_actions(page):
            seen.problem = ("the panel has neither search nor quick actions: "
                            "is \"Enable Search and Quick Actions\" still switched off?")
            return False
        if not await appears(locate(page, self.sel.quick_action)):
            seen.problem = (f"quick actions did not load within {self.settings.step_timeout_s:g} s "
                            "(the vendor's maintenance symptom)")
            return False
        seen.quick_actions = [text.strip() for text in await locate(page, self.sel.quick_action).all_inner_texts()]
        return True

    async def _search_or_actions(self, page: Page) -> bool:
        return bool(await locate(page, self.sel.search_input).count() or
                    await locate(page, self.sel.quick_action).count())

    async def _search(self, page: Page, seen: WidgetObservation) -> bool:
        search = locate(page, self.sel.search_input).first
        if await search.count() == 0:
            await appears(search, within_s=3)
        if await search.count() == 0:
            seen.problem = (f"the panel has no search box ({self.sel.search_input}): is \"Enable Search and Quick "
                            "Actions\" still switched off?")
            return False
        await search.fill(self.settings.search_query)
        await search.press("Enter")
        if not await appears(locate(page, self.sel.search_result)):
            seen.search_results = 0
            seen.problem = f"searching {self.settings.search_query!r} returned no answer"
            return False
        seen.search_results = await locate(page, self.sel.search_result).count()
        return True

    async def _send_message(self, page: Page, seen: WidgetObservation) -> bool:
        await locate(page, self.sel.start_chat).first.click()
        await locate(page, self.sel.message_input).first.fill(self.settings.test_message)
        await locate(page, self.sel.send).first.click()
        if not await appears(locate(page, self.sel.message_sent)):
            seen.chat_message_sent = False
            seen.problem = "the test message was not confirmed as sent"
            return False
        seen.chat_message_sent = True
        return True

    async def _stays_hidden(self, page: Page, seen: WidgetObservation) -> bool:
        await appears(locate(page, self.sel.launcher), within_s=3)
        seen.launcher_visible = await locate(page, self.sel.launcher).first.is_visible()
        if seen.launcher_visible:
            seen.problem = "the chat launcher shows although the site is outside business hours"
        return not seen.launcher_visible

    async def _offline_message(self, page: Page, seen: WidgetObservation) -> bool:
        if not await appears(locate(page, self.sel.offline_message)):
            seen.problem = f"no offline message ({self.sel.offline_message}) in the chat panel outside business hours"
            return False
        seen.offline_message = (await locate(page, self.sel.offline_message).first.inner_text()).strip()
        return True
