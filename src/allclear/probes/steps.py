"""The steps a probe walked, with their times, kept in its observation.

Probes run in the background (see allclear.lanes), away from the test that will judge them, so they
cannot open Allure steps as they go; they note each step here, and the plugin replays the steps into
the test's Allure result, with the times they really happened.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass
class Step:
    name: str
    start_ms: int
    stop_ms: int = 0
    status: str = "passed"          # passed | failed (the step's check did not hold) | broken (it raised)
    problem: str = ""

    def fail(self, problem: str) -> None:
        self.status, self.problem = "failed", problem


class StepLog(list):
    """`with steps("Agent signs in") as step: ... step.fail(why)`; the list of Step is the record."""

    @contextmanager
    def __call__(self, name: str) -> Iterator[Step]:
        step = Step(name, start_ms=_now_ms())
        self.append(step)
        try:
            yield step
        except BaseException as exc:   # noqa: BLE001 - recorded, then re-raised (cancellation included)
            step.status = "broken"
            step.problem = step.problem or (str(exc).splitlines() or [type(exc).__name__])[0]
            raise
        finally:
            step.stop_ms = _now_ms()


def _now_ms() -> int:
    return int(time.time() * 1000)
