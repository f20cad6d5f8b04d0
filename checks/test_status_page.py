"""The status page shows no maintenance in progress.

The vendor posts the end of its maintenance there (a maintenance ended recently, `verifying` or
`completed`, also tells the run when the window ended, unless --window-end or the target file said
so already). One still in progress means the window has not ended: the run cannot say GO.
"""

from zoneinfo import ZoneInfo

import pytest

from allclear.checklist import observation
from allclear.expect import expect
from allclear.items.status_page import IN_PROGRESS_FACT
from allclear.probes.errors import ProbeError
from allclear.probes.statuspage import read_status_page

pytestmark = pytest.mark.go


@observation
def status_page(target):
    page = target.status_page
    if page is None or not page.enabled:
        pytest.skip("the status page is switched off in the target")
    return read_status_page(page.url, page.timeout_s)


def test_no_maintenance_in_progress(status_page, target, attach_observation, record_fact):
    seen, zone = attach_observation(status_page), ZoneInfo(target.time_zone)

    expect(not seen.problem, "the status page's Statuspage v2 JSON", seen.problem)
    if seen.verifying:
        record_fact("verifying", "; ".join(m.described(zone) for m in seen.verifying))
    if seen.in_progress:
        said = "; ".join(m.described(zone) for m in seen.in_progress)
        record_fact(IN_PROGRESS_FACT, said)
        if target.status_page.while_in_progress == "inconclusive":
            raise ProbeError(f"the vendor reports the maintenance still in progress ({said}): the window has not "
                             "ended, so the checklist cannot say GO yet")
    expect(not seen.in_progress, "no scheduled maintenance in progress (verifying or completed)",
           "; ".join(m.described(zone) for m in seen.in_progress))
