"""The chat widget is there and usable (live chat in business hours).

On each website page that embeds it, at any hour: the widget's script loads, the launcher shows,
the panel opens, quick actions and FAQ search answer (not throttled to 0%, search and quick
actions switched back on: windows end at night, and that revert is the one people forget). Live
chat follows business hours: a chat starts in them (when asked for), the configured off-hours
behaviour outside them. A widget configured to hide off-hours is only checked to be hidden then.
"""

from datetime import datetime, timezone

import pytest

from allclear.checklist import observation
from allclear.expect import expect
from allclear.probes.chat_widget import WidgetVisit
from allclear.window import is_open

pytestmark = pytest.mark.go


@observation
async def widget(widget_page, target, chromium, evidence_dir):
    hours, now = target.business_hours, datetime.now(timezone.utc)
    return await WidgetVisit(chromium, target.chat_widget, evidence_dir).run(widget_page, hours is None or
                                                                            is_open(hours, now))


def test_widget_is_usable(widget, widget_page, target, attach, attach_observation, degraded, record_fact):
    chat = target.chat_widget
    seen = attach_observation(widget)
    for path in seen.evidence:
        attach(path)
    if seen.not_checked:
        record_fact("not_checked", seen.not_checked)

    expect(not seen.failed_step, f"{seen.failed_step or 'every step'} to work on {widget_page}",
           f"{seen.failed_step}: {seen.problem}")
    expect(not seen.console_errors, "no console errors from the widget", "; ".join(seen.console_errors[:3]))
    if seen.seconds_to_usable and seen.seconds_to_usable > chat.budget_s:
        degraded(f"the widget took {seen.seconds_to_usable:.1f} s to be usable (budget {chat.budget_s:g} s)")
