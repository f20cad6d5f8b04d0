"""A browser walk written in the target: named steps, each a list of actions on locators.

    [[login.steps]]
    name = "Agent signs in"
    refused = 'get_by_role("alert")'          # shown after signing in: refused, and its text says why
    do = [
      { fill = 'get_by_label("Email")', value = "{agent}" },
      { fill = 'get_by_label("Password")', secret = "password" },
      { click = 'get_by_role("button", name="Sign in")' },
      { wait_for_url = "**/desktop**" },
    ]

An action is one verb with its locator (see allclear.config.locators): `goto` (a URL), `fill`,
`click`, `press` (a `key`, Enter by default), `select` (an option's `value`), `check`,
`expect_visible`, `expect_hidden`, `expect_text` (its text contains `value`), `wait_for_url` (a glob
such as `**/desktop**`, or `re:` and a regular expression). `value` may hold placeholders such as
`{agent}` and `{status}`. A step may name the iframe it acts in (`frame = "iframe#login"`).
A `secret` is typed from an environment variable and never reaches a trace, a screenshot or a
log: `password` and `totp` are the agent's own (its `password_env`, and a code from its `totp_env`
seed), `secret_env = "NAME"` any other. `unless_visible` skips an action
when that locator already shows (a menu already open); `optional` lets an action that finds nothing
pass (a cookie banner that is not always there).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from allclear.config.fields import EnvName, Seconds, Section
from allclear.config.locators import Locator

VERBS = ("goto", "fill", "click", "press", "select", "check", "expect_visible", "expect_hidden", "expect_text",
         "wait_for_url")
WAITS = ("expect_visible", "expect_hidden", "expect_text", "wait_for_url")


class Action(Section):
    goto: str | None = None
    fill: Locator | None = None
    click: Locator | None = None
    press: Locator | None = None
    select: Locator | None = None
    check: Locator | None = None
    expect_visible: Locator | None = None
    expect_hidden: Locator | None = None
    expect_text: Locator | None = None
    wait_for_url: str | None = None
    value: str | None = None
    secret: Literal["password", "totp"] | None = None
    secret_env: EnvName | None = None
    key: str = "Enter"
    unless_visible: Locator | None = None
    optional: bool = False
    timeout_s: Seconds | None = None

    @model_validator(mode="after")
    def _one_verb(self) -> Action:
        verbs = [verb for verb in VERBS if getattr(self, verb) is not None]
        if len(verbs) != 1:
            raise ValueError(f"an action has exactly one of {', '.join(VERBS)}; this one has "
                             f"{', '.join(verbs) or 'none'}")
        typed = [k for k in ("value", "secret", "secret_env") if getattr(self, k) is not None]
        if self.verb == "fill" and len(typed) != 1:
            raise ValueError("fill types exactly one of value, secret (password, totp) or secret_env")
        if self.verb != "fill" and (self.secret or self.secret_env):
            raise ValueError("only fill types a secret")
        if self.verb in ("select", "expect_text") and self.value is None:
            raise ValueError(f"{self.verb} needs the value it looks for")
        return self

    @property
    def verb(self) -> str:
        return next(verb for verb in VERBS if getattr(self, verb) is not None)

    @property
    def target(self) -> str:
        """What the action acts on: its locator, URL or URL pattern, as written."""
        return str(getattr(self, self.verb))

    @property
    def types_secret(self) -> bool:
        return bool(self.secret or self.secret_env)


class Step(Section):
    name: str
    do: list[Action] = Field(min_length=1)
    frame: str | None = None          # CSS of the iframe the step's locators are in (a login form in a frame)
    refused: Locator | None = None    # a sign-in's refusal: shown during this step or the next, its text says why
    timeout_s: Seconds | None = None  # each wait in this step (default: the item's step timeout)
    budget_s: Seconds | None = None   # slower than this: works, but a P4 note

    @property
    def types_secret(self) -> bool:
        return any(action.types_secret for action in self.do)

    @model_validator(mode="after")
    def _submits_its_secret(self) -> Step:
        if self.do[-1].types_secret:
            raise ValueError(f"step {self.name!r} types a secret last: submit it in the same step (a click or "
                             "a press after it), so that the request carrying it is not traced either")
        return self
