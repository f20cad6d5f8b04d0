"""Status page: the vendor's Statuspage shows no maintenance in progress (and tells when it ended)."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Literal

from allclear.config.fields import Seconds, Section, Url
from allclear.items import GoItem

if TYPE_CHECKING:
    from allclear.grading import ItemResult

IN_PROGRESS_FACT = "maintenance_in_progress"


class StatusPageCheck(Section):
    enabled: bool = True
    url: Url
    recent_hours: Seconds = 24.0
    timeout_s: Seconds = 15.0
    # A maintenance still in progress: the window has not ended, so the run is at best not yet GO.
    # "inconclusive" (could not verify yet), or the grade the item then fails with.
    while_in_progress: Literal["inconclusive", "P1", "P2", "P3"] = "inconclusive"


def graded_while_in_progress(item: ItemResult, page: StatusPageCheck | None) -> ItemResult:
    """The status page item failed because a maintenance is in progress takes the target's grade
    for that, not the item's cap (P4, which would still let the run say GO)."""
    in_progress = any(IN_PROGRESS_FACT in probe.facts for probe in item.probes)
    if item.item != ITEM.key or item.outcome != "failed" or not in_progress or page is None \
            or page.while_in_progress == "inconclusive":
        return item
    return dataclasses.replace(item, grade=page.while_in_progress, vendor_grade=page.while_in_progress)


ITEM = GoItem(
    key="status_page", title="The status page shows no maintenance in progress", order=3, name="Status page",
    probe=("status page check", "status page checks"), settings=StatusPageCheck, cap="P4",
    reproduce=lambda page, probes: [f"Open {page.url}."],
)
