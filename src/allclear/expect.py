"""`expect`: an assertion about the target that says what was expected and what was seen."""

from __future__ import annotations


class Unmet(AssertionError):
    """The target did not do what the Go checklist expects: the item failed (not our probe)."""

    def __init__(self, expected: str, observed: str):
        super().__init__(f"expected {expected}; observed {observed}")
        self.expected = expected
        self.observed = observed


def expect(condition: object, expected: str, observed: str) -> None:
    if not condition:
        raise Unmet(expected, observed)
