"""The status page shows no maintenance in progress.

The vendor posts the end of its maintenance there. A maintenance completed recently also tells
when the window ended (unless --window-end or the target file said so already).
"""

from datetime import datetime, timedelta, timezone

import pytest

from allclear.expect import expect
from allclear.probes.statuspage import read_status_page

pytestmark = pytest.mark.go


def test_no_maintenance_in_progress(target, go_run, attach_observation):
    page = target.status_page
    if page is None or not page.enabled:
        pytest.skip("the status page is switched off in the target")
    seen = attach_observation(read_status_page(page.url, page.timeout_s))

    expect(not seen.problem, "the status page's Statuspage v2 JSON", seen.problem)
    in_progress = [f"{m.name!r} is {m.status} (scheduled until {m.scheduled_until})" for m in seen.active]
    expect(not in_progress, "no scheduled maintenance in progress", "; ".join(in_progress))
    recent = seen.latest_completed
    if recent and datetime.now(timezone.utc) - recent.completed_at <= timedelta(hours=page.recent_hours):
        go_run.set_window_end(recent.completed_at, f"status page: {recent.name!r} completed")
