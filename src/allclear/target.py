"""Load a target for a run: read and validate the file, start the sandbox it asks for, read secrets.

Everything that can be wrong with a target is found here, before any check runs.
"""

from __future__ import annotations

from pathlib import Path

from allclear.config import (
    UNSTARTED_SANDBOX,
    ConfigError,
    Secrets,
    Target,
    fill_placeholders,
    read_target_file,
    resolve_secrets,
    validate_target,
)
from allclear.sandbox import Sandbox, parse_fault


def load_target(path: Path, extra_faults: list[str] | None = None, desk_file: Path | None = None,
                running: Sandbox | None = None) -> tuple[Target, Secrets, Sandbox | None]:
    """`running`: a sandbox already up (`allclear watch` started it and watched it) to point the
    target at, rather than starting one; the caller keeps it and stops it."""
    raw = read_target_file(path)
    target = validate_target(fill_placeholders(raw, UNSTARTED_SANDBOX), path)
    sandbox = None
    if target.sandbox and running is not None:
        if extra_faults:
            raise ConfigError("--sandbox-fault: the sandbox is already running; switch its faults with "
                              "POST /_sandbox/faults")
        target = validate_target(fill_placeholders(raw, running.addresses()), path)
    elif target.sandbox:
        for spec in [*target.sandbox.faults, *(extra_faults or [])]:
            parse_fault(spec)
        sandbox = Sandbox(target, extra_faults, desk_file=desk_file).start()
        try:
            target = validate_target(fill_placeholders(raw, sandbox.addresses()), path)
        except ConfigError:
            sandbox.stop()
            raise
    elif extra_faults:
        raise ConfigError(f"{path}: --sandbox-fault needs a sandbox target (this one has no [sandbox] table)")
    try:
        secrets = resolve_secrets(target, path)
    except ConfigError:
        if sandbox:
            sandbox.stop()
        raise
    return target, secrets, sandbox
