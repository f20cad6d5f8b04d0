"""One browser walk for every browser probe: named steps in a fresh context, and evidence of trouble.

    async with BrowserWalk(browser, seen, evidence_dir, timeout_s, trace="trace.zip") as walk:
        await walk.run([("Open the website page", open_page), ("Panel opens", open_panel)])

Steps run in order until one fails: its action returned False (`seen.problem` says why) or
Playwright raised (said in words by `page_error`). Evidence is kept only for trouble, a failed step
or a walk cancelled at the run's deadline (the page as it hung is what shows where): a screenshot,
and the trace when one is recorded. A trace nothing went wrong in is dropped unwritten, since
writing it is a good part of a walk's cost. The `cleanup` hook runs whatever happened (an agent
must never be left signed in), and the context is always closed.

Playwright's trace records what is typed and the requests' bodies, so a step that types a secret
runs `untraced`: the trace so far is written there and then, and a new one starts after the step.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from playwright.async_api import Browser, BrowserContext, Locator, Page
from playwright.async_api import Error as PlaywrightError

from allclear.probes.maintenance import shows_maintenance
from allclear.probes.steps import Step, StepLog

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
    becomes `connection refused (nothing listens there) [net::ERR_CONNECTION_REFUSED]`; a timeout
    says what it waited for, from Playwright's call log (`…exceeded, waiting for get_by_role(…)`)."""
    lines = str(error).strip().splitlines()
    text = re.sub(r"^\w+\.\w+: ", "", lines[0]) if lines else type(error).__name__
    code = re.search(r"net::(ERR_[A-Z_]+)", text)
    if code and code.group(1) in NET_ERRORS:
        return f"{NET_ERRORS[code.group(1)]} [net::{code.group(1)}]"
    waiting = next((line.strip().removeprefix("- ") for line in lines[1:] if "waiting for" in line), "")
    return f"{text.rstrip('.')}, {waiting}" if waiting else text


async def title_and_maintenance(page: Page, phrases: list[str]) -> tuple[str, bool]:
    """The page's title, and whether it (title or text) is the maintenance page."""
    title = await page.title()
    body = await page.inner_text("body") if await page.locator("body").count() else ""   # a page may have none
    return title, bool(shows_maintenance(f"{title} {body}", phrases))


async def appears(element: Locator, within_s: float | None = None) -> bool:
    """Whether `element` (its first match) becomes visible within `within_s` (by default, the walk's
    step timeout)."""
    try:
        await element.first.wait_for(state="visible", timeout=None if within_s is None else within_s * 1000)
    except PlaywrightError:
        return False
    return True


async def failure_screenshot(page: Page, evidence_dir: Path) -> list[Path]:
    """The page as it was when a step failed; nothing when even that is impossible (page gone)."""
    path = evidence_dir / "screenshot.png"
    with contextlib.suppress(PlaywrightError):
        await page.screenshot(path=path, full_page=True, timeout=5000)
        return [path]
    return []


@dataclass(kw_only=True)
class WalkRecord:
    """What a walk writes into a probe's observation (a dataclass built on this one)."""

    failed_step: str = ""
    problem: str = ""
    evidence: list[Path] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)


Seen = TypeVar("Seen", bound=WalkRecord)
Action = Callable[[Page, Seen], Awaitable[bool]]
Cleanup = Callable[[Page, Seen], Awaitable[None]]


class BrowserWalk(Generic[Seen]):
    """`async with` it for the context and `walk.page`; `await walk.run(steps)` inside."""

    def __init__(self, browser: Browser, seen: Seen, evidence_dir: Path, timeout_s: float, *,
                 trace: str = "", cleanup: Cleanup[Seen] | None = None, **context_options: Any):
        """`trace`: the file the trace goes to ("" records none); `context_options` are
        Playwright's `new_context` options, such as `ignore_https_errors`."""
        self.browser, self.seen, self.evidence_dir, self.timeout_s = browser, seen, evidence_dir, timeout_s
        self.trace, self.cleanup, self.context_options = trace, cleanup, context_options
        self.log = StepLog()
        seen.steps = self.log
        self.resume_tracing = True      # False once a secret might still be on the page (see untraced)

    async def __aenter__(self) -> BrowserWalk[Seen]:
        self.evidence_dir.mkdir(parents=True, exist_ok=True)
        self.context: BrowserContext = await self.browser.new_context(**self.context_options)
        self.context.set_default_timeout(self.timeout_s * 1000)
        try:
            if self.trace:
                await self.context.tracing.start(snapshots=True)
            self.page: Page = await self.context.new_page()
        except BaseException:
            with contextlib.suppress(PlaywrightError):
                await self.context.close()
            raise
        return self

    async def run(self, steps: Sequence[tuple[str, Action[Seen]]]) -> None:
        """Each step in turn, until one fails."""
        name = ""
        try:
            for name, action in steps:
                with self.log(name) as step:
                    ok = await action(self.page, self.seen)
                    if not ok:
                        step.fail(self.seen.problem)
                if not ok:          # a step may name another: a refusal seen after the sign-in is the sign-in's
                    self.seen.failed_step = self.seen.failed_step or name
                    return
        except PlaywrightError as exc:
            self.seen.failed_step, self.seen.problem = name, page_error(exc)

    def untraced(self, action: Action[Seen], resume_as: str) -> Action[Seen]:
        """`action` with tracing off (it types a secret): the trace so far is written before it, and
        tracing resumes into the file `resume_as` after it (not after a Playwright error)."""
        async def run_untraced(page: Page, seen: Seen) -> bool:
            await self._stop_trace(keep=True)
            ok = await action(page, seen)
            if self.resume_tracing:
                await self.context.tracing.start(snapshots=True)
                self.trace = resume_as
            return ok
        return run_untraced

    async def __aexit__(self, error_type: type[BaseException] | None, *_: object) -> None:
        troubled = bool(self.seen.failed_step) or error_type is not None    # failed, or cancelled
        try:
            if troubled:
                self.seen.evidence += await failure_screenshot(self.page, self.evidence_dir)
            if self.cleanup:
                await self.cleanup(self.page, self.seen)
            await self._stop_trace(keep=troubled)
        finally:
            with contextlib.suppress(PlaywrightError):
                await self.context.close()
        if not troubled:        # what had to be written along the way (a trace before a secret) goes too
            for path in self.seen.evidence:
                path.unlink(missing_ok=True)
            self.seen.evidence = []
            with contextlib.suppress(OSError):
                self.evidence_dir.rmdir()

    async def _stop_trace(self, keep: bool) -> None:
        trace, self.trace = self.trace, ""
        if not trace:
            return
        with contextlib.suppress(PlaywrightError):
            if not keep:
                await self.context.tracing.stop()
                return
            await self.context.tracing.stop(path=self.evidence_dir / trace)
            self.seen.evidence.append(self.evidence_dir / trace)
