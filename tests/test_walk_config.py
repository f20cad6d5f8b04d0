"""Walks written in the target: steps of actions on locators as Playwright users write them, checked
when the target loads (a wrong one is named by its key before anything runs)."""

from pathlib import Path

import pytest

from allclear.config import ConfigError, validate_target
from allclear.config.locators import parse_chain
from allclear.items.login import SANDBOX_SHAPED_LOG_OUT

SIGN_IN = {"name": "Agent signs in", "do": [{"fill": 'get_by_label("Email")', "value": "{agent}"},
                                             {"fill": 'get_by_label("Password")', "secret": "password"},
                                             {"click": 'get_by_role("button", name="Sign in")'}]}


def login(**changes):
    return validate_target({"name": "x", "agents": [], "login": {"url": "https://x.test/", **changes}},
                           Path("x.toml")).login


def refused(**changes) -> str:
    with pytest.raises(ConfigError) as raised:
        login(**changes)
    return str(raised.value)


def test_no_steps_is_the_sandbox_shaped_walk_built_from_its_timeouts():
    walk = login(desktop_timeout_s=12.0, desktop_budget_s=4.0).walk
    assert [step.name for step in walk] == ["Open the login page", "Agent signs in", "Agent desktop loads",
                                            "Agent sets status {status}"]
    assert (walk[2].timeout_s, walk[2].budget_s) == (12.0, 4.0)
    assert login().logout_step == SANDBOX_SHAPED_LOG_OUT


def test_steps_of_the_target_replace_the_default_walk():
    bye = {"name": "Bye", "do": [{"click": {"role": "menuitem", "name": "Log Out"}}]}
    written = login(steps=[SIGN_IN], log_out=bye)
    assert [step.name for step in written.walk] == ["Agent signs in"]
    assert written.logout_step.do[0].click == 'get_by_role("menuitem", name="Log Out")'   # a table, as codegen


@pytest.mark.parametrize("written, links", [
    ('get_by_role("button", name="Log Out")', [("get_by_role", ("button",), (("name", "Log Out"),))]),
    ('page.locator("#profile").get_by_text("Log Out", exact=True)',
     [("locator", ("#profile",), ()), ("get_by_text", ("Log Out",), (("exact", True),))]),
    ('frame_locator("iframe#chat").get_by_placeholder("Search")',
     [("frame_locator", ("iframe#chat",), ()), ("get_by_placeholder", ("Search",), ())]),
])
def test_codegen_chains_are_parsed_link_by_link(written, links):
    assert [(link.name, link.args, link.kwargs) for link in parse_chain(written)] == links


@pytest.mark.parametrize("css", ["input[name=email]", "#profile-menu > button", "text=Log out", "button"])
def test_anything_else_is_a_selector(css):
    assert parse_chain(css) is None


@pytest.mark.parametrize("action, says", [
    ({"click": 'get_by_role("button").evaluate("alert(1)")'}, "only Playwright's locator methods may be chained"),
    ({"click": 'get_by_role("button", nmae="Go")'}, "unknown argument 'nmae' to get_by_role()"),
    ({"click": 'frame_locator("iframe")'}, "ends at a frame"),
    ({"click": {"label": "Email", "css": "input"}}, "a locator table needs exactly one of"),
    ({"click": "a", "fill": "b", "value": "x"}, "an action has exactly one of"),
    ({"fill": "input"}, "fill types exactly one of value, secret"),
    ({"click": "a", "secret": "password"}, "only fill types a secret"),
    ({"expect_text": "h1"}, "expect_text needs the value"),
])
def test_a_wrong_action_is_refused_naming_its_key(action, says):
    message = refused(steps=[{"name": "Broken", "do": [action]}])
    assert "x.toml: login.steps[0].do[0]" in message and says in message, message


def test_a_step_must_submit_the_secret_it_types():
    typed_last = {"name": "Agent signs in", "do": SIGN_IN["do"][:2]}
    assert "types a secret last: submit it in the same step" in refused(steps=[typed_last])


def test_secrets_a_walk_names_are_the_targets_secrets():
    agent = {"email": "a@x.test", "password_env": "A_PW", "totp_env": "A_TOTP"}
    tenant = {"name": "Tenant", "do": [{"fill": "#t", "secret_env": "TENANT_KEY"}, {"press": "#t"}]}
    target = validate_target({"name": "x", "agents": [agent], "login": {"url": "https://x.test/", "steps": [tenant]}},
                             Path("x.toml"))
    assert set(target.secret_names()) == {"TENANT_KEY", "A_PW", "A_TOTP"}


def test_the_example_target_locates_by_roles_and_names_not_by_our_sandboxs_test_ids():
    """A real user starts from config/example.toml: it must not carry the sandbox's DOM."""
    from allclear.config import read_target_file

    example = Path(__file__).resolve().parents[1] / "config" / "example.toml"
    text = example.read_text()
    assert "data-testid" not in text and "[login.selectors]" not in text
    raw = read_target_file(example)
    locators = [action.get(verb) for step in [*raw["login"]["steps"], raw["login"]["log_out"]] for action in step["do"]
                for verb in ("fill", "click", "expect_visible", "expect_text") if action.get(verb)]
    locators += list(raw["chat_widget"]["selectors"].values())
    assert locators and all(parse_chain(locator) for locator in locators)      # every one a codegen chain
