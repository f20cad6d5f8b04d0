"""The target: one platform's checklist settings, with a table per Go item (from the item registry).

The model is put together from the declared items (allclear.items), so an item's `[<key>]` table,
its `[retries.<key>]` and its grading defaults (core channel, cap) come with its declaration.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from pydantic import Field, create_model, field_validator, model_validator

from allclear.config.fields import EnvName, Grade, Seconds, Section, TimeZone
from allclear.config.secrets import secret_names
from allclear.escalation.settings import EscalationSection
from allclear.items import registered


class Agent(Section):
    email: str
    password_env: EnvName
    totp_env: EnvName | None = None       # the seed (base32) of the agent's second factor, if it has one


class BusinessHours(Section):
    time_zone: TimeZone
    weekly: dict[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"], list[str]] = {}
    holidays: list[date] = []

    @property
    def time_zone_info(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    @field_validator("weekly")
    @classmethod
    def _spans(cls, weekly: dict[str, list[str]]) -> dict[str, list[str]]:
        for day, spans in weekly.items():
            for span in spans:
                if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-4]):[0-5]\d", span):
                    raise ValueError(f"{day}: {span!r} is not a span like '08:00-20:00'")
        return weekly


class Grading(Section):
    """Defaults are ../shared/SEVERITY.md: 30% of a core channel's probes failing is a P1. Which
    items are core and how far each is capped come from the items' declarations."""

    p1_fraction: float = Field(default=0.30, gt=0, le=1)
    p3_max_fraction: float = Field(default=0.10, ge=0, le=1)   # one failure in 10+ probes is a minor loss
    core_items: list[str] = Field(default_factory=lambda: [key for key, item in registered().items() if item.core])
    caps: dict[str, Grade] = Field(default_factory=lambda: {key: item.cap for key, item in registered().items()
                                                            if item.cap})


class Retry(Section):
    """Retries an item's probes may have: none unless asked for, and always shown as retried.

    A probe that failed (or could not be verified) is tried again after `backoff_s`, up to `count`
    more times; a new try starts only within `deadline_s` of the first. Only its last try counts,
    so a failure that persists stays a failure (and a last try that could not verify does not undo
    an earlier failure); a pass after a failed try is marked as retried.
    """

    count: Annotated[int, Field(ge=0, le=5)] = 0
    backoff_s: Annotated[float, Field(ge=0)] = 5.0
    deadline_s: Seconds = 120.0


class RunSettings(Section):
    """How the run itself behaves: how long it may take, and how much it does at once."""

    deadline_s: Seconds = 1800.0        # past it, unfinished items are inconclusive (the email wait counts)
    agents_at_once: Annotated[int, Field(ge=1, le=50)] = 4     # browser contexts signing agents in at once
    probes_at_once: Annotated[int, Field(ge=1, le=64)] = 8     # API, DNS, voice and mail probes at once
    baseline_valid_h: Annotated[float, Field(gt=0)] = 24.0     # a preflight's baseline is compared with this long


class WatchSettings(Section):
    """`allclear watch`: how often it looks at the platform during the window, and for how long."""

    interval_s: Annotated[float, Field(gt=0, le=3600)] = 30.0   # also --interval; the checklist starts within one
    deadline_s: Seconds = 21600.0       # not over after this long: run the checklist anyway (also --deadline)


NETWORK_ITEMS = ["login", "chat_widget", "help_center", "reporting_api", "dns"]


class SitesSection(Section):
    """Where agents work from (offices, home, behind a VPN): a run per site (`--site NAME`), then
    `allclear merge` grades over all of them. The items whose reach depends on the network run at
    every site; the others (the call, the email, the text, the status page) at `once_at` only."""

    names: list[str] = Field(min_length=1)          # the sites a merge expects a run from
    everywhere: list[str] = Field(default_factory=lambda: list(NETWORK_ITEMS))
    once_at: str = ""                               # default: the first of `names`
    runners: dict[str, str | list[str]] = {}        # go.yml: the runner label(s) per site (default ubuntu-latest)

    @model_validator(mode="after")
    def _known(self) -> SitesSection:
        bad = [n for n in self.names if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", n)]
        if bad:
            raise ValueError(f"site names are folder names (letters, digits, . _ -): {bad}")
        if len(set(self.names)) != len(self.names):
            raise ValueError(f"names: each site once: {self.names}")
        if self.once_at and self.once_at not in self.names:
            raise ValueError(f"once_at = {self.once_at!r} is not one of names {self.names}")
        unknown = [key for key in self.everywhere if key not in registered()]
        if unknown:
            raise ValueError(f"everywhere: unknown item(s) {unknown} (items: {', '.join(registered())})")
        return self

    def runs_at(self, item: str, site: str) -> bool:
        return item in self.everywhere or site == (self.once_at or self.names[0])


class SandboxSection(Section):
    """Present only in a sandbox target: start the embedded platform and point the checks at it."""

    faults: list[str] = []


class TargetBase(Section):
    name: str
    time_zone: TimeZone = "UTC"
    window_end: datetime | None = None
    sandbox: SandboxSection | None = None
    agents: list[Agent] = []

    @field_validator("window_end")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("needs a UTC offset, e.g. 2026-11-23T23:00:00-08:00")
        return value

    @model_validator(mode="after")
    def _email_conversation_has_an_api(self) -> TargetBase:
        email, api = getattr(self, "email", None), getattr(self, "reporting_api", None)
        if email is not None and email.enabled and email.wants_conversation and not (api and api.enabled):
            raise ValueError(f"email: require = \"{email.require}\" looks the email up in the platform over the "
                             "reporting API's credentials: add [reporting_api] (or require = \"reply\")")
        sms = getattr(self, "sms", None)
        if sms is not None and sms.enabled and sms.find_conversation and not (api and api.enabled):
            raise ValueError("sms: find_conversation = true looks the text up in the platform over the reporting "
                             "API's credentials: add [reporting_api] (or find_conversation = false)")
        return self

    def secret_names(self) -> list[str]:
        """The environment variables this target's secrets are read from."""
        return secret_names(self)


ItemKey = Literal[tuple(registered())]  # type: ignore[valid-type]

Target = create_model(
    "Target", __base__=TargetBase, __doc__="A platform to check: its items' tables and how to run, grade, escalate.",
    **{key: (item.settings | None, None) for key, item in registered().items() if item.settings},
    business_hours=(BusinessHours | None, None),
    run=(RunSettings, RunSettings()),
    watch=(WatchSettings, WatchSettings()),
    retries=(dict[ItemKey, Retry], {}),
    grading=(Grading, Field(default_factory=Grading)),
    escalation=(EscalationSection, EscalationSection()),
    sites=(SitesSection | None, None),
)
