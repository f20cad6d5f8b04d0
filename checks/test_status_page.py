"""The status page shows no maintenance in progress.

The vendor posts the end of its maintenance there (a maintenance completed recently also tells the
run when the window ended, unless --window-end or the target file said so already).
"""

import pytest

from allclear.checklist import observation
from allclear.expect import expect
from allclear.probes.statuspage import read_status_page

pytestmark = pytest.mark.go


@observation
def status_page(target):
    page = target.status_page
    if page is None or not page.enabled:
        pytest.skip("the status page is switched off in the target")
    return read_status_page(page.url, page.timeout_s)


def test_no_maintenance_in_progress(status_page, attach_observation):
    seen = attach_observation(status_page)

    expect(not seen.problem, "the status page's Statuspage v2 JSON", seen.problem)
    in_progress = [f"{m.name!r} is {m.status} (scheduled until {m.scheduled_until})" for m in seen.active]
    expect(not in_progress, "no scheduled maintenance in progress", "; ".join(in_progress))
