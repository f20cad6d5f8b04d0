"""Agent login: every synthetic agent signs in, gets the desktop, sets an Active status, logs out."""

from __future__ import annotations

from allclear.config.fields import Seconds, Section, Url
from allclear.items import GoItem, Parameter


class LoginSelectors(Section):
    """CSS selectors of the vendor's login page and agent desktop."""

    email: str = "input[name=email]"
    password: str = "input[name=password]"
    submit: str = "button[type=submit]"
    login_error: str = ".login-error"
    desktop_ready: str = "[data-testid=agent-desktop]"
    profile_menu: str = "[data-testid=profile-menu]"
    status_option: str = "[role=menuitemradio]"
    current_status: str = "[data-testid=current-status]"
    logout: str = "[data-testid=logout]"


class LoginCheck(Section):
    enabled: bool = True
    url: Url
    active_status: str = "Helping Customers"
    desktop_budget_s: Seconds = 8.0
    desktop_timeout_s: Seconds = 30.0
    page_timeout_s: Seconds = 20.0
    maintenance_phrases: list[str] = ["maintenance"]
    selectors: LoginSelectors = LoginSelectors()


def _reproduce(login: LoginCheck, probes: str) -> list[str]:
    return [f"Open {login.url} in a browser.", f"Sign in as one of the affected agents ({probes}).",
            f"Wait for the agent desktop (it should appear within {login.desktop_budget_s:g} s).",
            f"Open the profile menu and choose the status {login.active_status!r}.", "Log out."]


ITEM = GoItem(
    key="login", title="Every agent can log in and set a status", order=1, name="Agent login",
    probe=("agent", "agents"), settings=LoginCheck,
    parameter=Parameter("agent", lambda target: target.agents, id=lambda agent: agent.email),
    core=True, interactions="conversations: {failed} of {run} agents cannot take any (calls, emails, chats)",
    reproduce=_reproduce, probes_are_identifiers=True,
)
