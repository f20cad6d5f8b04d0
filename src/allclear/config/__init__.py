"""The target: one TOML file per platform, validated before any check runs.

- fields.py: the value types (URL, env-var name, time zone, phone number, seconds) and `Section`;
- target.py: the target's model, with a table per Go item from the item registry (allclear.items);
- loading.py: reading and validating a file, naming the key and value of every problem;
- secrets.py: secrets by env-var name (every `*_env` key), and their one redaction.

Secrets never live in the file: it names environment variables and the values are read when the
target is loaded, so a missing one stops the run up front with the variable's name.

Names are imported from their module on first use: the item declarations import `fields` while
the target's model imports the declarations.
"""

from __future__ import annotations

import importlib

_HOMES = {
    "fields": ["ConfigError", "Section", "Url", "EnvName", "TimeZone", "Seconds", "PhoneNumber", "Port", "Security",
               "Grade", "SANDBOX_PLACEHOLDER"],
    "secrets": ["Secrets", "secret_names", "resolve_secrets"],
    "target": ["Target", "Agent", "BusinessHours", "Grading", "Retry", "RunSettings", "WatchSettings",
               "SandboxSection"],
    "loading": ["read_target_file", "validate_target", "fill_placeholders", "read_sandbox_template",
                "UNSTARTED_SANDBOX"],
}
_HOME_OF = {name: module for module, names in _HOMES.items() for name in names}
__all__ = sorted(_HOME_OF)


def __getattr__(name: str):
    if name not in _HOME_OF:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_HOME_OF[name]}"), name)
