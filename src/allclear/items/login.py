"""Agent login: every synthetic agent signs in, gets the desktop, sets an Active status, logs out."""

from __future__ import annotations

from allclear.config.fields import Seconds, Section, Url
from allclear.config.walks import Action, Step
from allclear.items import GoItem, Parameter


class LoginCheck(Section):
    """The agent's walk is `steps` (then `log_out`, which also runs whatever failed once the agent may
    be signed in). Placeholders: {url}, {agent} (the agent's email), {status} (active_status)."""

    enabled: bool = True
    url: Url
    active_status: str = "Helping Customers"
    desktop_budget_s: Seconds = 8.0                  # the default walk's desktop step: a P4 note beyond
    desktop_timeout_s: Seconds = 30.0                # ... and a failure beyond
    page_timeout_s: Seconds = 20.0                   # a page load (goto)
    step_timeout_s: Seconds = 10.0                   # each wait for an element, unless its step says
    maintenance_phrases: list[str] = ["maintenance"]
    steps: list[Step] | None = None                  # None: the sandbox-shaped walk below
    log_out: Step | None = None

    @property
    def walk(self) -> list[Step]:
        return self.steps if self.steps is not None else sandbox_shaped_walk(self)

    @property
    def logout_step(self) -> Step:
        return self.log_out or SANDBOX_SHAPED_LOG_OUT


def sandbox_shaped_walk(login: LoginCheck) -> list[Step]:
    """The walk when the target writes none: the sandbox's pages (config/sandbox.toml)."""
    return [
        Step(name="Open the login page", do=[Action(goto="{url}"), Action(expect_visible="input[name=email]")]),
        Step(name="Agent signs in", refused=".login-error",
             do=[Action(fill="input[name=email]", value="{agent}"),
                 Action(fill="input[name=password]", secret="password"),
                 Action(click="button[type=submit]")]),
        Step(name="Agent desktop loads", timeout_s=login.desktop_timeout_s, budget_s=login.desktop_budget_s,
             do=[Action(expect_visible="[data-testid=agent-desktop]")]),
        Step(name="Agent sets status {status}",
             do=[Action(click="[data-testid=profile-menu]"),
                 Action(click='get_by_role("menuitemradio", name="{status}")'),
                 Action(expect_text="[data-testid=current-status]", value="{status}")]),
    ]


SANDBOX_SHAPED_LOG_OUT = Step(name="Agent logs out", do=[
    Action(click="[data-testid=profile-menu]", unless_visible="[data-testid=logout]"),
    Action(click="[data-testid=logout]"),
    Action(expect_visible="input[name=email]"),
])


def _reproduce(login: LoginCheck, probes: str) -> list[str]:
    steps = [step.name.replace("{status}", login.active_status) for step in [*login.walk, login.logout_step]]
    return [f"Open {login.url} in a browser, as one of the affected agents ({probes}), and walk the steps:",
            *[f"{name}." for name in steps]]


ITEM = GoItem(
    key="login", title="Every agent can log in and set a status", order=1, name="Agent login",
    probe=("agent", "agents"), settings=LoginCheck,
    parameter=Parameter("agent", lambda target: target.agents, id=lambda agent: agent.email),
    core=True, interactions="conversations: {failed} of {run} agents cannot take any (calls, emails, chats)",
    reproduce=_reproduce, probes_are_identifiers=True,
)
