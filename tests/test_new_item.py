"""A new Go item, exactly as the README adds it, in a scratch copy of the project: its own files
(declaration, probe, check, sandbox part) and a table in the sandbox's target, nothing central,
and the whole checklist runs it on the sandbox, grades it, tickets it and retries it."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from allclear.items import registered

ROOT = Path(__file__).resolve().parents[1]
NEW_FILES = {"src/allclear/items/queue_health.py", "src/allclear/probes/queue_health.py",
             "checks/test_queue_health.py", "src/allclear/sandbox/queue_health.py"}


def readme_files() -> dict[str, tuple[str, bool]]:
    """The README's code blocks that begin with `# <path>`: path -> (text, appended to the file)."""
    section = ROOT.joinpath("README.md").read_text().split("### An item with its own settings")[1].split("\n## ")[0]
    found = {}
    for block in re.findall(r"```(?:python|toml)\n(.*?)```", section, re.S):
        first, _, text = block.partition("\n")
        path = first.removeprefix("# ").split(" (")[0]
        found[path] = (text, "(added" in first)
    return found


@pytest.fixture
def project(tmp_path):
    tree = tmp_path / "allclear"
    for part in ("src", "checks", "config"):
        shutil.copytree(ROOT / part, tree / part, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("pyproject.toml", "conftest.py"):
        shutil.copy(ROOT / name, tree / name)
    for path, (text, appended) in readme_files().items():
        with open(tree / path, "a" if appended else "w") as handle:
            handle.write(("\n" if appended else "") + text)
    return tree


def go(tree: Path, *args: str) -> tuple[int, str, dict]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("ALLCLEAR_", "GITHUB_STEP_SUMMARY"))}
    environment["PYTHONPATH"] = str(tree / "src")          # this copy's allclear, not the installed one
    done = subprocess.run([sys.executable, "-m", "pytest", "-m", "go", "-p", "no:cacheprovider", "--no-html-report",
                           f"--reports-dir={tree / 'reports'}", *args], cwd=tree, capture_output=True, text=True,
                          timeout=300, env=environment)
    verdict = json.loads((tree / "reports" / "verdict.json").read_text())
    return done.returncode, done.stdout + done.stderr, {item["item"]: item for item in verdict["items"]}


def test_the_readme_adds_the_item_in_its_own_files_and_one_table():
    files = readme_files()
    assert {path for path, (_, appended) in files.items() if not appended} == NEW_FILES
    assert [path for path, (_, appended) in files.items() if appended] == ["config/sandbox.toml"]
    assert not any((ROOT / path).exists() for path in NEW_FILES)       # the example is not shipped


@pytest.mark.slow
def test_a_new_item_runs_graded_ticketed_and_retried_on_the_sandbox(project):
    code, output, items = go(project)
    assert code == 0, output[-3000:]
    assert len(items) == len(registered()) + 1
    queues = items["queue_health"]
    assert (queues["title"], queues["outcome"], queues["probes_run"]) == ("Every support queue is open", "passed", 2)
    assert "✔ Every support queue is open" in output

    with open(project / "config" / "sandbox.toml", "a") as target:
        target.write("\n[retries.queue_health]\ncount = 1\nbackoff_s = 0.1\n")
    code, output, items = go(project, "checks/test_queue_health.py", "--sandbox-fault", "queue-closed:returns")
    queues = items["queue_health"]
    assert (code, queues["outcome"], queues["grade"], queues["probes_failed"]) == (1, "failed", "P2", 1), output[-3000:]
    returns = next(probe for probe in queues["probes"] if probe["probe"] == "returns")
    assert (returns["expected"], returns["observed"]) == ("the queue returns open", "closed")
    assert returns["retried"] and returns["retried"][0].startswith("try 1 failed")
    ticket = (project / "reports" / "ticket.md").read_text()
    assert "Support queues: 1 of 2 queues (50%) failing" in ticket
    assert "**Interactions affected:** routing: 1 of 2 queues take no conversations." in ticket
    assert "GET " in ticket and "/api/v1/queues/<name> for: returns." in ticket
