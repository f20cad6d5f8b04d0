"""Status page: the vendor's Statuspage shows no maintenance in progress (and tells when it ended)."""

from __future__ import annotations

from allclear.config.fields import Seconds, Section, Url
from allclear.items import GoItem


class StatusPageCheck(Section):
    enabled: bool = True
    url: Url
    recent_hours: Seconds = 24.0
    timeout_s: Seconds = 15.0


ITEM = GoItem(
    key="status_page", title="The status page shows no maintenance in progress", order=3, name="Status page",
    probe=("status page check", "status page checks"), settings=StatusPageCheck, cap="P4",
    reproduce=lambda page, probes: [f"Open {page.url}."],
)
