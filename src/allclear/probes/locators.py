"""Configured locators (allclear.config.locators) made into Playwright locators on a page."""

from __future__ import annotations

import re
from typing import Any

from playwright.async_api import Frame, FrameLocator, Locator, Page

from allclear.config.locators import Nested, Regex, parse_chain


def locate(root: Page | Frame | FrameLocator, text: str) -> Locator:
    """The locator `text` describes, on `root`: a codegen chain is applied link by link, anything
    else is a selector for `root.locator()`."""
    chain = parse_chain(text)
    return root.locator(text) if chain is None else _apply(root, chain)


def _apply(root: Page | Frame | FrameLocator, links) -> Any:
    found: Any = root
    for link in links:
        found = getattr(found, link.name)
        if link.call:
            found = found(*[_value(root, a) for a in link.args], **{k: _value(root, v) for k, v in link.kwargs})
    return found


def _value(root: Page | Frame | FrameLocator, value: Any) -> Any:
    if isinstance(value, Regex):
        return re.compile(value.pattern, value.flags)
    if isinstance(value, Nested):
        return _apply(root, value.links)
    return value
