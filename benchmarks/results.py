"""benchmarks/RESULTS.md holds one section per benchmark; each writes only its own."""

from __future__ import annotations

import re
from pathlib import Path

RESULTS = Path(__file__).resolve().with_name("RESULTS.md")
TITLE = "# Benchmark results\n"


def write_section(name: str, text: str, results: Path = RESULTS) -> None:
    """Replace the section between `<!-- name -->` and `<!-- /name -->` (appended when absent)."""
    start, end = f"<!-- {name} -->", f"<!-- /{name} -->"
    block = f"{start}\n{text.strip()}\n{end}\n"
    current = results.read_text(encoding="utf-8") if results.is_file() else TITLE
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end) + r"\n?", re.DOTALL)
    if pattern.search(current):
        updated = pattern.sub(lambda _: block, current)
    else:
        updated = current.rstrip("\n") + "\n\n" + block
    results.write_text(updated, encoding="utf-8")
