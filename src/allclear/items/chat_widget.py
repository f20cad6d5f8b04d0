"""Chat widget: on each website page it loads and is usable at any hour; live chat as business hours say."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from allclear.config.fields import Seconds, Section, Url
from allclear.config.locators import Locator
from allclear.items import GoItem, Parameter


class ChatWidgetSelectors(Section):
    """The widget's elements, as locators (allclear.config.locators: a codegen chain such as
    `frame_locator("iframe#chat").get_by_role("button", name="Chat")`, a table, or CSS). The
    vendor's loader pulls chat-sdk/widget.js; its DOM is not documented, so check these on your site."""

    launcher: Locator = "#gladly-launcher"
    panel: Locator = "[data-testid=chat-panel]"
    offline_message: Locator = "[data-testid=chat-offline]"
    search_input: Locator = "[data-testid=chat-search-input]"
    search_result: Locator = "[data-testid=chat-search-result]"
    quick_action: Locator = "[data-testid=chat-quick-action]"
    start_chat: Locator = "[data-testid=chat-start]"
    message_input: Locator = "[data-testid=chat-message-input]"
    send: Locator = "[data-testid=chat-send]"
    message_sent: Locator = "[data-testid=chat-message-status]"


class ChatWidgetCheck(Section):
    enabled: bool = True
    pages: list[Url] = Field(min_length=1)          # website pages that embed the widget
    script_url_contains: str = "chat-sdk/widget.js"  # how the widget's script is recognised among requests
    search_query: str = "return"                     # must return at least one answer
    # Self-service works at any hour (the vendor's advice: switch it off before the window, back on after it):
    quick_actions: bool = True                       # the panel's quick actions must load
    search: bool = True                              # answer search must return search_query's answers
    start_chat: bool = False                         # in business hours, also start a chat and send test_message
    test_message: str = "allclear post-maintenance test: please ignore"  # (to a test queue!)
    # Outside business hours, live chat: "offline-message" (checked in the panel), "skip" (not checked), or
    # "hidden" (the whole widget hides off-hours; its self-service is then not checked, with the reason).
    off_hours: Literal["hidden", "offline-message", "skip"] = "skip"
    load_timeout_s: Seconds = 20.0
    step_timeout_s: Seconds = 10.0
    budget_s: Seconds = 10.0                         # page to usable widget slower than this: a P4 note
    selectors: ChatWidgetSelectors = ChatWidgetSelectors()


def _reproduce(chat: ChatWidgetCheck, probes: str) -> list[str]:
    return [f"Open the affected page(s): {probes}.", "Wait for the chat launcher and open it.",
            "Expected: the search box and the quick actions appear.",
            f"Search for {chat.search_query!r}: expected at least one answer."]


ITEM = GoItem(
    key="chat_widget", title="The chat widget is there and usable (live chat in business hours)", order=7,
    name="Chat widget",
    probe=("website page", "website pages"), settings=ChatWidgetCheck,
    parameter=Parameter("widget_page", lambda target: target.chat_widget.pages
                        if target.chat_widget and target.chat_widget.enabled else []),
    core=True, interactions="chats: customers on {failed} of {run} website pages cannot start one",
    reproduce=_reproduce,
)
