"""The target: one TOML file per platform, validated before any check runs.

Secrets never live in the file: it names environment variables (`*_env` keys) and the values are
read from the environment when the target is loaded, so a missing one stops the run up front with
the variable's name instead of failing halfway through the checklist.
"""

from __future__ import annotations

import os
import re
import tomllib
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator

SANDBOX_PLACEHOLDER = "{sandbox}"
Grade = Literal["P1", "P2", "P3", "P4"]


class ConfigError(Exception):
    """The target file cannot be used; the message names the file, the key and what is wrong."""


def _url(value: str) -> str:
    if value.startswith(SANDBOX_PLACEHOLDER) or re.match(r"^https?://[^\s/]+", value):
        return value.rstrip("/")
    raise ValueError(f"must be an http(s):// URL, got {value!r}")


def _env_name(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
        raise ValueError(f"must be the name of an environment variable, got {value!r}")
    return value


def _time_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r} (use an IANA name such as 'America/Los_Angeles')") from None
    return value


Url = Annotated[str, AfterValidator(_url)]
EnvName = Annotated[str, AfterValidator(_env_name)]
TimeZone = Annotated[str, AfterValidator(_time_zone)]
Seconds = Annotated[float, Field(gt=0)]


class Section(BaseModel):
    """Every table rejects keys it does not know: a typo must not silently fall back to a default."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Agent(Section):
    email: str
    password_env: EnvName


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


class ReportSpec(Section):
    metric_set: str
    expected_columns: list[str] = Field(min_length=1)
    days_back: int = Field(default=1, ge=0)


class ReportingApiCheck(Section):
    enabled: bool = True
    api_base: Url
    user: str
    token_env: EnvName
    time_zone: TimeZone = "UTC"
    budget_s: Seconds = 10.0
    timeout_s: Seconds = 60.0
    reports: list[ReportSpec] = Field(min_length=1)


class StatusPageCheck(Section):
    enabled: bool = True
    url: Url
    recent_hours: Seconds = 24.0
    timeout_s: Seconds = 15.0


class BusinessHours(Section):
    time_zone: TimeZone
    weekly: dict[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"], list[str]] = {}
    holidays: list[date] = []

    @field_validator("weekly")
    @classmethod
    def _spans(cls, weekly: dict[str, list[str]]) -> dict[str, list[str]]:
        for day, spans in weekly.items():
            for span in spans:
                if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-4]):[0-5]\d", span):
                    raise ValueError(f"{day}: {span!r} is not a span like '08:00-20:00'")
        return weekly


class Grading(Section):
    """Defaults are ../shared/SEVERITY.md: 30% of a core channel's probes failing is a P1."""

    p1_fraction: float = Field(default=0.30, gt=0, le=1)
    core_items: list[str] = ["login", "voice", "email", "chat_widget"]
    caps: dict[str, Grade] = {
        "help_center": "P2",
        "reporting_api": "P2",
        "dns": "P2",
        "status_page": "P4",
    }


class SandboxSection(Section):
    """Present only in a sandbox target: start the embedded platform and point the checks at it."""

    faults: list[str] = []


class Target(Section):
    name: str
    time_zone: TimeZone = "UTC"
    window_end: datetime | None = None
    sandbox: SandboxSection | None = None
    agents: list[Agent] = []
    login: LoginCheck | None = None
    reporting_api: ReportingApiCheck | None = None
    status_page: StatusPageCheck | None = None
    business_hours: BusinessHours | None = None
    grading: Grading = Grading()

    @field_validator("window_end")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("needs a UTC offset, e.g. 2026-11-23T23:00:00-08:00")
        return value

    def secret_names(self) -> list[str]:
        names = [agent.password_env for agent in self.agents]
        if self.reporting_api and self.reporting_api.enabled:
            names.append(self.reporting_api.token_env)
        return names


class Secrets:
    """Secret values by environment-variable name; the one place that knows what to redact."""

    def __init__(self, values: dict[str, str]):
        self._values = dict(values)

    def __getitem__(self, env_name: str) -> str:
        return self._values[env_name]

    def values(self) -> list[str]:
        return [v for v in self._values.values() if v]

    def redact(self, text: str) -> str:
        for value in sorted(self.values(), key=len, reverse=True):
            text = text.replace(value, "***")
        return text

    def __repr__(self) -> str:
        return f"Secrets({sorted(self._values)})"


def read_target_file(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such target file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None


def validate_target(raw: dict[str, Any], path: Path) -> Target:
    try:
        return Target.model_validate(raw)
    except ValidationError as exc:
        problems = [f"{path}: {_key(err['loc'])}: {_reason(err)}" for err in exc.errors()]
        raise ConfigError("\n".join(problems)) from None


def fill_placeholders(raw: Any, sandbox_url: str) -> Any:
    """Replace `{sandbox}` in every string with the running sandbox's base URL."""
    if isinstance(raw, dict):
        return {key: fill_placeholders(value, sandbox_url) for key, value in raw.items()}
    if isinstance(raw, list):
        return [fill_placeholders(value, sandbox_url) for value in raw]
    if isinstance(raw, str):
        return raw.replace(SANDBOX_PLACEHOLDER, sandbox_url)
    return raw


def resolve_secrets(target: Target, path: Path, environ: dict[str, str] | None = None) -> Secrets:
    environ = os.environ if environ is None else environ
    missing = [name for name in target.secret_names() if not environ.get(name)]
    if missing:
        raise ConfigError(
            f"{path}: missing secret environment variable(s): {', '.join(dict.fromkeys(missing))} "
            "(secrets are never read from the file; export them before the run)"
        )
    return Secrets({name: environ[name] for name in target.secret_names()})


def _key(loc: tuple[Any, ...]) -> str:
    key = ""
    for part in loc:
        key += f"[{part}]" if isinstance(part, int) else (f".{part}" if key else str(part))
    return key or "(top level)"


def _reason(err: dict[str, Any]) -> str:
    if err["type"] == "extra_forbidden":
        return "unknown key (check its spelling; see config/example.toml for every key)"
    if err["type"] == "missing":
        return "required key is missing"
    message = err["msg"].removeprefix("Value error, ")
    if err["type"].endswith(("_type", "_parsing")) and not isinstance(err["input"], (dict, list)):
        return f"{message} (got {err['input']!r})"
    return message
