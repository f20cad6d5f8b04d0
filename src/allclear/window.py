"""The maintenance window: when the email check may send; and business hours.

Also the business hours, which decide whether the chat widget should be available at all.

The vendor asks for the test email to go out at least 15 minutes after the window ends (mail
queued during the window is still being routed before then). With no known window end, as in a
scheduled smoke run, there is nothing to wait for.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from allclear.config import BusinessHours


def email_due_at(window_end: datetime | None, delay_minutes: float) -> datetime | None:
    return window_end + timedelta(minutes=delay_minutes) if window_end else None


def countdown_text(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def is_open(hours: BusinessHours, now: datetime) -> bool:
    """Whether `now` falls in the weekly hours in their own time zone (holidays closed all day)."""
    local = now.astimezone(ZoneInfo(hours.time_zone))
    if local.date() in hours.holidays:
        return False
    day = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[local.weekday()]
    clock = local.strftime("%H:%M")
    for span in hours.weekly.get(day, []):
        start, end = span.split("-")
        if start <= clock < end:
            return True
    return False
