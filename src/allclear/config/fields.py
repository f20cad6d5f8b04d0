"""The types a target file is written in: URLs, env-var names, time zones, phone numbers, seconds.

Each rejects a bad value with a sentence that says what was expected, so that the loader can name
the key and the value (see allclear.config.loading).
"""

from __future__ import annotations

import re
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

SANDBOX_PLACEHOLDER = "{sandbox}"
Grade = Literal["P1", "P2", "P3", "P4"]


class ConfigError(Exception):
    """The target file cannot be used; the message names the file, the key and what is wrong."""


class Section(BaseModel):
    """Every table rejects keys it does not know: a typo must not silently fall back to a default."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _url(value: str) -> str:
    """Checked, never rewritten: many servers answer `/help/` and 404 on `/help` (or the reverse), so a
    configured URL is requested exactly as written. Paths go onto a base with `join_url`."""
    if value.startswith(SANDBOX_PLACEHOLDER) or re.match(r"^https?://[^\s/]+", value):
        return value
    raise ValueError(f"must be an http(s):// URL, got {value!r}")


def join_url(base: str, path: str) -> str:
    """`path` under `base`, with one slash between them whether or not the base ends with one:
    join_url("https://x.test/api/v1/", "/reports") == "https://x.test/api/v1/reports"."""
    return f"{base.rstrip('/')}/{path.lstrip('/')}"


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


def _e164(value: str) -> str:
    if not re.fullmatch(r"\+[1-9]\d{6,14}", value):
        raise ValueError(f"must be a phone number in E.164 form such as +14155550100, got {value!r}")
    return value


Url = Annotated[str, AfterValidator(_url)]
EnvName = Annotated[str, AfterValidator(_env_name)]   # a secret's name: every `*_env` key is one (config.secrets)
TimeZone = Annotated[str, AfterValidator(_time_zone)]
Seconds = Annotated[float, Field(gt=0)]
PhoneNumber = Annotated[str, AfterValidator(_e164)]
Port = Annotated[int, Field(ge=0, le=65535)]
Security = Literal["ssl", "starttls", "plain"]
