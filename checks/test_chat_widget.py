"""The chat widget is there and usable (in business hours).

On each website page that embeds it: the widget's script loads; within business hours the launcher
shows, the panel opens, quick actions and FAQ search answer (not throttled to 0%, search and quick
actions switched back on). Outside business hours the configured off-hours behaviour is checked,
or the item is skipped with the reason: a closed widget is never a failure.
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
    chat, hours, now = target.chat_widget, target.business_hours, datetime.now(timezone.utc)
    open_now = hours is None or is_open(hours, now)
    if not open_now and chat.off_hours == "skip":
        pytest.skip(f"outside business hours ({now.astimezone(hours.time_zone_info):%a %H:%M %Z}): "
                    "the widget need not be available")
    return await WidgetVisit(chromium, chat, evidence_dir).run(widget_page, open_now)


def test_widget_is_usable(widget, widget_page, target, attach, attach_observation, degraded):
    chat = target.chat_widget
    seen = attach_observation(widget)
    for path in seen.evidence:
        attach(path)

    expect(not seen.failed_step, f"{seen.failed_step or 'every step'} to work on {widget_page}",
           f"{seen.failed_step}: {seen.problem}")
    expect(not seen.console_errors, "no console errors from the widget", "; ".join(seen.console_errors[:3]))
    if seen.seconds_to_usable and seen.seconds_to_usable > chat.budget_s:
        degraded(f"the widget took {seen.seconds_to_usable:.1f} s to be usable (budget {chat.budget_s:g} s)")
