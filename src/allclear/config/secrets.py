"""Secrets: named in the target by environment variable (`*_env` keys), read from the environment.

The names are found by walking the target, so a new item's `token_env` is a secret without being
listed anywhere; a section switched off (`enabled = false`) needs none of its secrets.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from pathlib import Path

from pydantic import BaseModel

from allclear.config.fields import ConfigError


class Secrets:
    """Secret values by environment-variable name; the one place that knows what to redact."""

    def __init__(self, values: dict[str, str]):
        self._values = dict(values)

    def __getitem__(self, env_name: str) -> str:
        return self._values[env_name]

    def get(self, env_name: str, default: str = "") -> str:
        return self._values.get(env_name, default)

    def keys(self) -> list[str]:
        return list(self._values)

    def values(self) -> list[str]:
        return [v for v in self._values.values() if v]

    def redact(self, text: str) -> str:
        for value in sorted(self.values(), key=len, reverse=True):
            text = text.replace(value, "***")
        return text

    def __repr__(self) -> str:
        return f"Secrets({sorted(self._values)})"


def secret_names(section: object) -> list[str]:
    """Every environment variable a (part of a) target names in its `*_env` keys, in file order."""
    return list(dict.fromkeys(_env_names(section)))


def _env_names(value: object) -> Iterator[str]:
    if isinstance(value, BaseModel):
        if getattr(value, "enabled", True) is False:
            return
        for key in type(value).model_fields:
            field = getattr(value, key)
            if key.endswith("_env") and isinstance(field, str):
                yield field
            else:
                yield from _env_names(field)
    elif isinstance(value, (list, tuple)):
        for part in value:
            yield from _env_names(part)
    elif isinstance(value, Mapping):
        for part in value.values():
            yield from _env_names(part)


def resolve_secrets(target: BaseModel, path: Path, environ: Mapping[str, str] | None = None) -> Secrets:
    environ = os.environ if environ is None else environ
    names = secret_names(target)
    missing = [name for name in names if not environ.get(name)]
    if missing:
        raise ConfigError(
            f"{path}: missing secret environment variable(s): {', '.join(missing)} "
            "(secrets are never read from the file; export them before the run)"
        )
    return Secrets({name: environ[name] for name in names})
