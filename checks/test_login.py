"""Every agent can log in and set a status.

One synthetic agent per probe, each in a fresh browser context (a few agents at a time), walking the
target's steps: the real login page (not the maintenance page), sign-in, the agent desktop within its
budget, an Active status, then logout (done whatever failed, once the agent may be signed in).
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
    return await AgentSession(chromium, login, evidence_dir).run(
        agent.email, secrets[agent.password_env], secrets.get(agent.totp_env or ""), secrets)


def test_agent_logs_in_and_sets_status(sign_in, agent, attach, degraded):
    seen = sign_in
    for path in seen.evidence:
        attach(path)

    expect(not seen.maintenance_page, "the login page", f"the maintenance page ({seen.login_page_title!r})")
    expect(not seen.refusal, f"{agent.email} signed in", f"sign-in refused: {seen.refusal}")
    expect(not seen.failed_step, f"{seen.failed_step!r} to work", seen.problem)
    for slow in seen.over_budget:
        degraded(slow)
