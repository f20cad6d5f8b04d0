"""The fault matrix: every sandbox fault, alone and in meaningful pairs, against the whole checklist.

The expected outcomes live in tests/fault_matrix.md, a table people read: for each row, one full
Go run with those faults must give exactly those item outcomes and that verdict. After every run,
every file under reports/ (zip members included) and the run's output are searched for every
secret of the target: one hit fails the row.
"""

import re
from pathlib import Path

import pytest

from allclear.items import registered
from allclear.sandbox import chat_widget, help_center, mail_tokens, platform
from allclear.sandbox.faults import KNOWN_FAULTS
from tests.conftest import ROOT, find_leaks, made_up_secrets, write_target

MATRIX = Path(__file__).with_name("fault_matrix.md")


def matrix_items() -> tuple[str, ...]:
    """The items, as the table's header names them: a new item is a new column."""
    header = next(line for line in MATRIX.read_text(encoding="utf-8").splitlines() if line.startswith("| faults"))
    return tuple(cell.strip() for cell in header.strip().strip("|").split("|"))[1:-1]


ITEMS = matrix_items()

# Five agents and short timeouts, so that faults which wait something out (a desktop that never
# loads, a line that never answers, a reply that never comes) do not make the matrix slow; none under
# 6 s, so that a busy machine does not time out a healthy step. No business hours: the chat widget
# is expected open whatever the time of day CI runs at. Page budgets wide: the matrix is about
# faults, and a busy CI machine must not turn a page's load time into a P4 (latency has tests of
# its own; the reporting API keeps its 3 s budget for `reports-slow`).
MATRIX_TARGET = {
    "business_hours": None,
    "login.desktop_timeout_s": 12.0, "login.desktop_budget_s": 5.0,     # desktop-slow:8 sits between
    "chat_widget.budget_s": 30.0, "help_center.budget_s": 30.0,
    "reporting_api.timeout_s": 6.0,
    "email.reply_deadline_s": 6.0, "email.connect_timeout_s": 6.0, "email.poll_interval_s": 1.0,
    "voice.ring_timeout_s": 6, "voice.answer_deadline_s": 10.0,
    "chat_widget.load_timeout_s": 10.0, "chat_widget.step_timeout_s": 6.0,   # B's widget: loader, iframe
    "help_center.page_timeout_s": 6.0,
}


# Faults whose status page shows a maintenance in progress: their rows run --no-wait (the email and
# the text would otherwise wait for its end until the run's deadline).
WINDOW_NOT_ENDED = ("maintenance", "maintenance-for", "statuspage-in-progress")


def matrix_rows() -> list[tuple[list[str], dict[str, str], str]]:
    """(faults, item -> expected cell, expected run) for each row of the table."""
    rows = []
    for line in MATRIX.read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if not line.startswith("|") or cells[0] in ("faults", "") or set(cells[0]) <= set("-: "):
            continue
        faults = [] if cells[0] == "(none)" else [f.strip("` ") for f in cells[0].split("+")]
        assert len(cells) == len(ITEMS) + 2, f"fault_matrix.md: {line!r} has {len(cells)} cells"
        rows.append((faults, dict(zip(ITEMS, cells[1:-1], strict=True)), cells[-1]))
    return rows


def cell_of(item: dict) -> str:
    """An item's outcome the way the table writes it: `passed`, `passed P4`, `failed P2`, `inconclusive`."""
    return f"{item['outcome']} {item['grade']}" if item["grade"] else item["outcome"]


def run_of(verdict: dict) -> str:
    return f"{verdict['verdict']} {verdict['grade']}" if verdict["grade"] else verdict["verdict"]


def test_every_sandbox_fault_has_a_row_of_its_own():
    alone = {re.sub(r":.*", "", faults[0]) for faults, _, _ in matrix_rows() if len(faults) == 1}
    assert sorted(set(KNOWN_FAULTS) - alone) == []


# Sandbox B writes its desktop step's wait and budget in its walk (the fourth step): the same here.
SHAPES = {"sandbox": (ROOT / "config" / "sandbox.toml", MATRIX_TARGET),
          "sandbox-b": (ROOT / "config" / "sandbox-b.toml",
                        {**MATRIX_TARGET, "login.steps.3.timeout_s": 12.0, "login.steps.3.budget_s": 5.0})}


# The parts sandbox B shapes otherwise (its pages: login, desktop, website and widget, help center);
# the APIs, mail, voice and DNS are the same parts in both shapes.
SHAPED_FAULTS = {*platform.FAULTS, *chat_widget.FAULTS, *help_center.FAULTS}
# Faults of what only sandbox B uses: its probe mailbox logs in with OAuth2, sandbox A's with a password.
B_ONLY_FAULTS = {*mail_tokens.FAULTS}


def on_sandbox_b(faults: list[str]) -> bool:
    """Healthy, and each fault of a part B shapes otherwise, alone: pairs test how grades combine,
    and API faults the same code, neither of which the platform's shape changes."""
    return len(faults) == 0 or len(faults) == 1 and faults[0].split(":")[0] in SHAPED_FAULTS | B_ONLY_FAULTS


def on_sandbox_a(faults: list[str]) -> bool:
    return not any(fault.split(":")[0] in B_ONLY_FAULTS for fault in faults)


def matrix_params() -> list:
    """Sandbox A's faults alone run in make test; its pairs and sandbox B's rows are `long` (CI)."""
    return [pytest.param(shape, *row, id=f"{' + '.join(row[0]) or 'healthy'}-{shape}",
                         marks=[pytest.mark.long] if shape != "sandbox" or len(row[0]) > 1 else [])
            for shape in SHAPES for row in matrix_rows()
            if (on_sandbox_a(row[0]) if shape == "sandbox" else on_sandbox_b(row[0]))]


@pytest.mark.slow
@pytest.mark.parametrize("shape, faults, expected, expected_run", matrix_params())
def test_fault_matrix_row(run_go, tmp_path, shape, faults, expected, expected_run):
    base, changes = SHAPES[shape]
    target = write_target(tmp_path, changes, agents=5, base=base)
    secrets = made_up_secrets(target)
    no_wait = ["--no-wait"] if any(fault.split(":")[0] in WINDOW_NOT_ENDED for fault in faults) else []
    result = run_go(*[arg for fault in faults for arg in ("--sandbox-fault", fault)], *no_wait, target=target,
                    env=secrets)

    observed = {key: cell_of(result.item(key)) for key in ITEMS}
    assert (observed, run_of(result.verdict)) == (expected, expected_run), _why(result, observed, expected)
    assert not find_leaks(result.reports, secrets, result.output)


def _why(result, observed: dict, expected: dict) -> str:
    wrong = [key for key in ITEMS if observed[key] != expected[key]]
    lines = [f"{key} / {probe['probe']}: {probe['outcome']}: {probe['message'][:200]}" for key in wrong
             for probe in result.item(key)["probes"] if probe["outcome"] != "passed"]
    return "\n".join(lines) or result.output[-2000:]


def test_every_declared_item_has_a_column():
    assert sorted(ITEMS) == sorted(registered())
