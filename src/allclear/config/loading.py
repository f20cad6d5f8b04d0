"""Reading a target file: TOML, validated, every problem named by file, key and value.

A sandbox target's addresses are placeholders (`{sandbox}`, `{sandbox_smtp_port}`, ...) filled in
once the sandbox has started; before that, UNSTARTED_SANDBOX stands in so the file can be checked.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from allclear.config.fields import ConfigError
from allclear.config.target import Target


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


# What a sandbox target's placeholders stand for before the sandbox has started (to validate it).
UNSTARTED_SANDBOX = {"sandbox": "http://127.0.0.1:0", "sandbox_host": "127.0.0.1", "sandbox_dns_port": 0,
                     "sandbox_smtp_port": 0, "sandbox_imap_port": 0,
                     "sandbox_https": "https://127.0.0.1:0", "sandbox_ca_file": ""}


def fill_placeholders(raw: Any, values: dict[str, str | int]) -> Any:
    """Replace `{sandbox}`, `{sandbox_smtp_port}`, ... with the running sandbox's addresses.

    A string that is only a placeholder for a number (a port) becomes that number.
    """
    if isinstance(raw, dict):
        return {key: fill_placeholders(value, values) for key, value in raw.items()}
    if isinstance(raw, list):
        return [fill_placeholders(value, values) for value in raw]
    if isinstance(raw, str):
        whole = re.fullmatch(r"\{(\w+)\}", raw)
        if whole and whole.group(1) in values:
            return values[whole.group(1)]
        return re.sub(r"\{(\w+)\}", lambda m: str(values.get(m.group(1), m.group(0))), raw)
    return raw


def _key(loc: tuple[Any, ...]) -> str:
    key = ""
    for part in loc:
        if part == "[key]":         # pydantic's marker for "the key of this table is wrong"
            continue
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


def read_sandbox_template(path: Path) -> Target:
    """A target as written, its sandbox placeholders not yet filled in: what the sandbox is built from."""
    return validate_target(fill_placeholders(read_target_file(path), UNSTARTED_SANDBOX), path)
