"""Every agent can log in and set a status.

One synthetic agent per probe, each in a fresh browser context (a few agents at a time): the real
login page (not the maintenance page), sign-in, the agent desktop within its budget, an Active
status, then logout.
"""

import pytest

from allclear.checklist import observation
from allclear.expect import expect
from allclear.probes.browser import AgentSession

pytestmark = pytest.mark.go


@observation(pool="agents")
async def sign_in(agent, target, secrets, chromium, evidence_dir):
    login = target.login
    if login is None or not login.enabled:
        pytest.skip("agent login is switched off in the target")
    return await AgentSession(chromium, login, evidence_dir).run(agent.email, secrets[agent.password_env])


def test_agent_logs_in_and_sets_status(sign_in, agent, target, attach, degraded):
    login, seen = target.login, sign_in
    for path in seen.evidence:
        attach(path)

    expect(not seen.maintenance_page, "the login page", f"the maintenance page ({seen.login_page_title!r})")
    expect(seen.failed_step != "Open the login page", "the login page with its sign-in form", seen.problem)
    expect(seen.signed_in, f"{agent.email} signed in", seen.problem)
    expect(seen.desktop_seconds is not None, f"the agent desktop within {login.desktop_timeout_s:g} s", seen.problem)
    expect(seen.status_set, f"status {login.active_status!r} set from the profile menu", seen.problem)
    expect(seen.logged_out, "the agent logged out again (never left routable)", seen.problem)
    if seen.desktop_seconds > login.desktop_budget_s:
        degraded(f"agent desktop took {seen.desktop_seconds:.1f} s (budget {login.desktop_budget_s:g} s)")
