"""A walk written in the target (allclear.config.walks), run step by step inside a BrowserWalk.

A failing step says, in one line, which action on which locator, how long it waited, and what the
page showed instead: its title, its URL, its HTTP status when it was an error, and any visible error
text. That line is what ops read at 23:00, and what tells "our locator is wrong" from "the vendor's
page is broken".

Secrets: a step that types one runs untraced (BrowserWalk.untraced), the submission included, and
clears what it typed before tracing resumes, so neither the trace's DOM snapshots nor a failure
screenshot of a form that keeps the value after a refusal can show it. Problem texts are scrubbed of
every secret too.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pyotp
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Locator, Page, Response
from playwright.async_api import TimeoutError as PlaywrightTimeoutError

from allclear.config.walks import WAITS, Action, Step
from allclear.probes.locators import locate
from allclear.probes.walk import BrowserWalk, WalkRecord, page_error, title_and_maintenance

ERROR_TEXT = "[role=alert]:visible"       # what a page shows as an error, when the step names none


class StepFailed(Exception):
    """An action did not hold; the message is the whole sentence, without the step's name."""


class Refused(Exception):
    """The sign-in's refusal showed (its text), or the page answered an HTTP error after signing in."""


@dataclass
class PageSeen:
    url: str
    status: int | None
    title: str
    maintenance: bool


class ScriptedWalk:
    """Turns configured steps into BrowserWalk steps. `values` fill `{placeholders}`; `secrets` holds
    `password`, `totp` (a seed) and env-named secrets; `on_page` hears of each page a `goto` opened."""

    def __init__(self, walk: BrowserWalk, values: Mapping[str, str], secrets: Mapping[str, str], *,
                 step_timeout_s: float, page_timeout_s: float, maintenance_phrases: list[str],
                 on_page: Callable[[PageSeen], None] = lambda seen: None):
        self.walk, self.values, self.secrets = walk, dict(values), secrets
        self.step_timeout_s, self.page_timeout_s = step_timeout_s, page_timeout_s
        self.maintenance_phrases, self.on_page = maintenance_phrases, on_page
        self.document: tuple[int, str] | None = None        # the last page's HTTP status and URL
        self.document_errors: asyncio.Queue[tuple[int, str]] = asyncio.Queue()
        self.refusal_watch: Locator | None = None
        self.refusal_step = ""
        self.refusal: str = ""
        self.submitted = False          # a secret went out: the agent may be signed in from here on
        self.step_seconds: dict[str, float] = {}
        walk.page.on("response", self._response)

    def name(self, step: Step) -> str:
        return self.with_values(step.name)

    def with_values(self, text: str) -> str:
        """`text` with its {placeholders} ({url}, {agent}, {status}) filled in."""
        for key, value in self.values.items():
            text = text.replace("{" + key + "}", value)
        return text

    def steps(self, steps: list[Step], trace_after: Callable[[Step], str]) -> list[tuple[str, Any]]:
        """(name, action) pairs for BrowserWalk.run; a step that types a secret runs untraced and
        the trace resumes into `trace_after(step)`."""
        pairs = []
        for step in steps:
            action = self._step_action(step)
            if step.types_secret:
                action = self.walk.untraced(action, resume_as=trace_after(step))
            pairs.append((self.name(step), action))
        return pairs

    def _step_action(self, step: Step) -> Callable[[Page, WalkRecord], Awaitable[bool]]:
        async def run(page: Page, seen: WalkRecord) -> bool:
            started = time.monotonic()
            if not self.refusal_watch:           # an error page a passed step went through is not this one's
                _drain(self.document_errors)
            if step.refused:
                self.refusal_watch, self.refusal_step = self._locate(page, step, step.refused), self.name(step)
            try:
                for action in step.do:
                    await self._act(page, step, action)
            except Refused as refusal:
                self.refusal = self._scrub(str(refusal))
                seen.problem = f"sign-in refused: {self.refusal}"
                seen.failed_step = self.refusal_step
                return False
            except StepFailed as failed:
                seen.problem = self._scrub(str(failed))
                return False
            except PlaywrightError as exc:
                seen.problem = self._scrub(await self._describe(page, step, None, page_error(exc), 0))
                return False
            finally:
                if step.types_secret:
                    await self._clear_secrets(page, step)
            if self.refusal_watch and not step.refused:      # the step after the sign-in got through
                self.refusal_watch = None
            self.step_seconds[self.name(step)] = round(time.monotonic() - started, 2)
            return True
        return run

    async def _act(self, page: Page, step: Step, action: Action) -> None:
        timeout_s = action.timeout_s or step.timeout_s or self.step_timeout_s
        if action.unless_visible and await self._locate(page, step, action.unless_visible).is_visible():
            return
        if action.verb == "goto":
            await self._goto(page, step, action)
            return
        if action.verb == "wait_for_url":
            pattern = self.with_values(action.target)
            url = re.compile(pattern[3:]) if pattern.startswith("re:") else pattern
            await self._waiting(page, step, action, timeout_s, page.wait_for_url(url, timeout=timeout_s * 1000),
                                lambda: f"the URL stayed {page.url}")
            return
        target = self._locate(page, step, action.target)
        started = time.monotonic()
        try:
            if action.verb in WAITS:
                await self._wait_for(page, step, action, target, timeout_s)
            else:
                await self._do(page, action, target, timeout_s)
        except PlaywrightError as exc:
            if action.optional:
                return
            what = await self._what_was_wrong(action, target, exc)
            waited = timeout_s if isinstance(exc, PlaywrightTimeoutError) else time.monotonic() - started
            raise StepFailed(await self._describe(page, step, action, what, waited)) from None
        if action.types_secret:
            self.submitted = True
        await self._check_refusal(page)

    async def _do(self, page: Page, action: Action, target: Locator, timeout_s: float) -> None:
        timeout = timeout_s * 1000
        if action.verb == "fill":
            await target.fill(self._typed(action), timeout=timeout)
        elif action.verb == "click":
            await target.click(timeout=timeout)
        elif action.verb == "press":
            await target.press(action.key, timeout=timeout)
        elif action.verb == "select":
            await target.select_option(self.with_values(action.value or ""), timeout=timeout)
        elif action.verb == "check":
            await target.check(timeout=timeout)

    async def _wait_for(self, page: Page, step: Step, action: Action, target: Locator, timeout_s: float) -> None:
        if action.verb == "expect_text":
            wanted = self.with_values(action.value or "")
            waiting = target.filter(has_text=wanted).first.wait_for(state="visible", timeout=timeout_s * 1000)
        else:
            state = "visible" if action.verb == "expect_visible" else "hidden"
            waiting = target.first.wait_for(state=state, timeout=timeout_s * 1000)
        await self._waiting(page, step, action, timeout_s, waiting, None)

    async def _waiting(self, page: Page, step: Step, action: Action, timeout_s: float, waiting: Awaitable,
                       stayed: Callable[[], str] | None) -> None:
        """A wait that a sign-in's refusal, or a page answering an HTTP error, ends at once."""
        started = time.monotonic()
        task = asyncio.ensure_future(waiting)
        watchers = {asyncio.ensure_future(self.document_errors.get())}
        if self.refusal_watch:
            watchers.add(asyncio.ensure_future(self.refusal_watch.first.wait_for(state="visible",
                                                                                 timeout=timeout_s * 1000)))
        fired = False
        try:
            while not task.done() and not fired:
                done, _ = await asyncio.wait([task, *watchers], return_when=asyncio.FIRST_COMPLETED)
                fired = any(w.exception() is None for w in done & watchers)
                watchers -= done                         # a watcher that timed out stops watching
        finally:
            for other in [task, *watchers]:
                other.cancel()
                with contextlib.suppress(BaseException):
                    await other
        if fired:                                        # refused, or an error page: say which
            await self._check_refusal(page, settle=True)
            status = self.document[0] if self.document else 0
            raise StepFailed(await self._describe(page, step, action, f"the page answered HTTP {status}",
                                                  time.monotonic() - started))
        error = task.exception() if not task.cancelled() else None
        if error is None:
            return
        await self._check_refusal(page)
        if action.optional:
            return
        what = stayed() if stayed else await self._what_was_wrong(action, self._locate(page, step, action.target),
                                                                    error)
        waited = timeout_s if isinstance(error, PlaywrightTimeoutError) else time.monotonic() - started
        raise StepFailed(await self._describe(page, step, action, what, waited))

    async def _check_refusal(self, page: Page, settle: bool = False) -> None:
        """Raises Refused when the refusal shows (or, armed, a page answered an HTTP error)."""
        if not self.refusal_watch:
            return
        if settle:
            with contextlib.suppress(PlaywrightError):
                await page.wait_for_load_state("load", timeout=5000)
        shown = self.refusal_watch.first
        with contextlib.suppress(PlaywrightError):
            if await shown.is_visible():
                raise Refused(" ".join((await shown.inner_text(timeout=2000)).split()))
        if settle and self.document and self.document[0] >= 400:
            raise Refused(f"HTTP {self.document[0]} {await page.title()!r}")

    async def _goto(self, page: Page, step: Step, action: Action) -> None:
        url = self.with_values(action.target)
        started = time.monotonic()
        try:
            response = await page.goto(url, wait_until="domcontentloaded",
                                       timeout=(action.timeout_s or self.page_timeout_s) * 1000)
        except PlaywrightError as exc:
            raise StepFailed(f"{url} did not load: {page_error(exc)}") from None
        title, maintenance = await title_and_maintenance(page, self.maintenance_phrases)
        seen = PageSeen(url, response.status if response else None, title, maintenance)
        self.on_page(seen)
        _drain(self.document_errors)         # the page opened here is judged here, not by a later wait
        if seen.maintenance:
            raise StepFailed(f"the maintenance page is still shown at {url} (title {title!r})")
        if seen.status and seen.status >= 400:
            raise StepFailed(await self._describe(page, step, action, f"the page answered HTTP {seen.status}",
                                                  time.monotonic() - started))

    def _response(self, response: Response) -> None:
        try:
            main = response.frame == response.frame.page.main_frame and response.request.is_navigation_request()
        except PlaywrightError:
            return
        if main and not 300 <= response.status < 400:
            self.document = (response.status, response.url)
            if response.status >= 400:
                self.document_errors.put_nowait(self.document)

    def _locate(self, page: Page, step: Step, text: str) -> Locator:
        """A step's locator, on the page or in the iframe the step names."""
        return locate(page.frame_locator(self.with_values(step.frame)) if step.frame else page, self.with_values(text))

    def _typed(self, action: Action) -> str:
        if action.secret == "totp":
            try:
                return pyotp.TOTP(self.secrets["totp"]).now()
            except (ValueError, TypeError) as exc:        # binascii.Error is a ValueError
                raise ValueError("the agent's second-factor seed (its totp_env) is not a usable TOTP seed "
                                 f"(base32, as authenticator apps take it): {exc}") from None
        if action.secret:
            return self.secrets[action.secret]
        if action.secret_env:
            return self.secrets[action.secret_env]
        return self.with_values(action.value or "")

    async def _clear_secrets(self, page: Page, step: Step) -> None:
        """Empty every field a secret was typed into that is still there (a refused sign-in's form
        keeps it), without waiting for it to be actionable. If that cannot be done, tracing stays off
        for the rest of the walk: a trace's DOM snapshots would record the value."""
        for action in step.do:
            if action.types_secret:
                try:
                    await self._locate(page, step, action.target).evaluate_all(
                        "fields => fields.forEach(f => { f.value = ''; f.removeAttribute('value'); })")
                except PlaywrightError:
                    self.walk.resume_tracing = False

    async def _what_was_wrong(self, action: Action, target: Locator, error: BaseException | None) -> str:
        text = str(error or "")
        if "strict mode violation" in text:
            count = await _count(target)
            return (f"it matches {count} elements (make it exact: a name=, exact=True, or .first)"
                    if count else "it matches several elements")
        count = await _count(target)
        if action.verb == "expect_hidden":
            return "it is still shown"
        if count == 0:
            return "no such element"
        if action.verb == "expect_text":
            with contextlib.suppress(PlaywrightError):
                shown = " ".join((await target.first.inner_text(timeout=1000)).split())
                return f"its text is {shown[:120]!r}, without {self.with_values(action.value or '')!r}"
        visible = await target.first.is_visible()
        return f"{count} such element{'s' if count > 1 else ''}, {'not ready' if visible else 'not visible'}"

    async def _describe(self, page: Page, step: Step, action: Action | None, what: str, waited_s: float) -> str:
        """`click get_by_role("button", name="Log Out"): no such element after 10 s; the page showed
        'Agent desktop' at https://…/desktop (HTTP 200), error text 'Session expired'`."""
        doing = f"{action.verb} {self.with_values(action.target)}: " if action else ""
        waited = f" after {waited_s:.3g} s" if waited_s >= 0.95 else ""
        title, url = "", page.url
        with contextlib.suppress(PlaywrightError):
            title = await page.title()
        status = f" (HTTP {self.document[0]})" if self.document and self.document[0] >= 400 else ""
        error = await self._error_text(page, step)
        shown = f"; the page showed {title!r} at {url}{status}" + (f", error text {error!r}" if error else "")
        return f"{doing}{what}{waited}{shown}"

    async def _error_text(self, page: Page, step: Step) -> str:
        for text in filter(None, [step.refused and self.with_values(step.refused), ERROR_TEXT]):
            with contextlib.suppress(PlaywrightError):
                shown = locate(page, text).first
                if await shown.is_visible():
                    return " ".join((await shown.inner_text(timeout=1000)).split())[:200]
        return ""

    def _scrub(self, text: str) -> str:
        for secret in self.secrets.values():
            if secret and len(secret) >= 4:
                text = text.replace(secret, "***")
        return text


async def _count(target: Locator) -> int:
    with contextlib.suppress(PlaywrightError):
        return await target.count()
    return 0


def _drain(queue: asyncio.Queue) -> None:
    with contextlib.suppress(asyncio.QueueEmpty):
        while True:
            queue.get_nowait()
