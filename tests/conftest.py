"""Helpers for the project's own tests: run the Go checklist in a subprocess, as ops would."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import tomllib
import zipfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
import tomli_w

ROOT = Path(__file__).resolve().parents[1]
SANDBOX_TOML = ROOT / "config" / "sandbox.toml"


@dataclass
class GoResult:
    exit_code: int
    output: str
    reports: Path

    @property
    def verdict(self) -> dict:
        path = self.reports / "verdict.json"
        assert path.is_file(), f"no verdict.json (exit {self.exit_code}):\n{self.output[-3000:]}"
        return json.loads(path.read_text())

    def item(self, key: str) -> dict:
        items = {item["item"]: item for item in self.verdict["items"]}
        assert key in items, f"no item {key!r} in verdict: {sorted(items)}\n{self.output[-3000:]}"
        return items[key]


def write_target(directory: Path, changes: dict | None = None, agents: int | None = None,
                 base: Path = SANDBOX_TOML) -> Path:
    """A sandbox target derived from config/sandbox.toml, with some keys changed (None: removed)."""
    raw = tomllib.loads(base.read_text())
    if agents is not None:
        raw["agents"] = raw["agents"][:agents]
    for dotted, value in (changes or {}).items():       # "login.steps.3.budget_s": a number indexes a list
        *parents, last = dotted.split(".")
        table = raw
        for part in parents:
            table = table[int(part)] if part.isdigit() else table.setdefault(part, {})
        if value is None:
            table.pop(last, None)
        else:
            table[last] = value
    path = directory / "target.toml"
    path.write_text(tomli_w.dumps(raw))
    return path


def made_up_secrets(target: Path) -> dict[str, str]:
    """A distinctive value for every secret the target names, to search the reports for (a second
    factor's seed in base32, as authenticator apps take it)."""
    from allclear.config import read_sandbox_template

    names = read_sandbox_template(target).secret_names()
    return {name: f"ZQSECRETSEED{chr(65 + n // 26)}{chr(65 + n % 26)}{'Q' * 18}" if name.endswith("_TOTP_SEED")
            else f"Zq8#secret-{n}-value" for n, name in enumerate(names)}


def _needles(secret: str) -> list[bytes]:
    """The secret as bytes; URL-encoded (a form post), JSON-escaped, and as it would look inside
    base64 (at each of the three alignments)."""
    raw = secret.encode()
    needles = list(dict.fromkeys([raw, quote(secret, safe="").encode(), quote_plus(secret).encode(),
                                  json.dumps(secret, ensure_ascii=True)[1:-1].encode(),
                                  "".join(f"\\u{ord(c):04x}" for c in secret).encode()]))
    for pad in range(3):
        encoded = base64.b64encode(b"\0" * pad + raw).decode()
        needles.append(encoded[(pad * 4 + 2) // 3 + 1:-3].encode())
    return needles


def find_leaks(reports: Path, secrets: dict[str, str], output: str = "") -> list[str]:
    """Every place under reports/ (zip members included) and in the output where a secret shows."""
    leaks = []
    for path in sorted(reports.rglob("*")):
        if not path.is_file():
            continue
        blobs = [(str(path), path.read_bytes())]
        if path.suffix == ".zip":
            with zipfile.ZipFile(path) as archive:
                blobs += [(f"{path}!{name}", archive.read(name)) for name in archive.namelist()]
        leaks += [f"{where}: {name}" for name, secret in secrets.items() for where, blob in blobs
                  if any(needle in blob for needle in _needles(secret))]
    leaks += [f"output: {name}" for name, secret in secrets.items()
              if any(needle.decode() in output for needle in _needles(secret))]
    return leaks


def go_runner(tmp_path: Path):
    """`run(*args, target=…)`: a Go run in a subprocess, its reports in `tmp_path/reports`."""
    def run(*args: str, target: Path | None = None, checks: tuple[str, ...] = (), html: bool = False,
            env: dict[str, str] | None = None, timeout: float = 300) -> GoResult:
        reports = tmp_path / "reports"
        command = [sys.executable, "-m", "pytest", "-m", "go", "-p", "no:cacheprovider",
                   f"--reports-dir={reports}", *[f"checks/{name}" for name in checks], *args]
        if target:
            command.append(f"--target={target}")
        if not html:
            command.append("--no-html-report")
        environment = {k: v for k, v in os.environ.items()    # nor into CI's own step summary
                       if not k.startswith(("ALLCLEAR_TARGET", "ALLCLEAR_SANDBOX_", "GITHUB_STEP_SUMMARY"))}
        environment.update(env or {})
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=environment)
        return GoResult(done.returncode, done.stdout + done.stderr, reports)

    return run


@pytest.fixture
def run_go(tmp_path):
    return go_runner(tmp_path)


@pytest.fixture
def run_go_in():
    """`run_go_in(folder)`: a Go runner of its own (reports in `folder/reports`), for runs side by side."""
    return go_runner


@pytest.fixture(scope="session")
def browser_lane():
    """The Go run's browser lane, for the in-process probe tests: `browser_lane.run(probe)`."""
    from allclear.lanes import BrowserLane

    lane = BrowserLane()
    yield lane
    lane.close()


@pytest.fixture(scope="session")
def browser():
    """A plain (sync) Chromium for tests that drive the sandbox's pages themselves."""
    from playwright.sync_api import sync_playwright

    from allclear.probes.browser import SYSTEM_CHROMIUM_FLAGS, system_chromium

    with sync_playwright() as playwright:
        executable = None if os.environ.get("ALLCLEAR_CHROMIUM") is None and _bundled_chromium(playwright) \
            else system_chromium()
        chromium = playwright.chromium.launch(headless=True, executable_path=executable,
                                              args=SYSTEM_CHROMIUM_FLAGS if executable else [])
        yield chromium
        chromium.close()


def _bundled_chromium(playwright) -> bool:
    return Path(playwright.chromium.executable_path).is_file()
