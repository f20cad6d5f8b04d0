"""The help center loads and its search works.

For each help center: the home page with its expected title (not the maintenance page), an article
with content, results for each configured search, and a TLS certificate valid long enough.
"""

import pytest

from allclear.checklist import observation
from allclear.expect import expect
from allclear.probes.help_center import HelpCenterVisit

pytestmark = pytest.mark.go


@observation
async def visit(help_center_site, target, chromium, evidence_dir):
    return await HelpCenterVisit(chromium, target.help_center, evidence_dir).run(help_center_site)


def test_help_center_works(visit, help_center_site, target, attach, attach_observation, degraded):
    settings = target.help_center
    seen = attach_observation(visit)
    for path in seen.evidence:
        attach(path)

    expect(not seen.home.maintenance, "the help center's home page",
           f"the maintenance page (title {seen.home.title!r})")
    expect(not seen.failed_step, f"{seen.failed_step or 'every step'} to work on {help_center_site.url}",
           f"{seen.failed_step}: {seen.problem}")
    if help_center_site.url.startswith("https://"):
        expect(seen.cert_days_left is not None, "a valid TLS certificate", seen.cert_problem)
        expect(seen.cert_days_left >= help_center_site.cert_min_days,
               f"a certificate valid for {help_center_site.cert_min_days} more days",
               f"it expires in {seen.cert_days_left:g} days")
    slow = [v for v in [seen.home, seen.article, *seen.search_visits] if v and (v.seconds or 0) > settings.budget_s]
    if slow:
        degraded("; ".join(f"{v.url} took {v.seconds:.1f} s" for v in slow) + f" (budget {settings.budget_s:g} s)")
