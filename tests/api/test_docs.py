"""The README's "Search your own model" snippet is the example file, on the public API."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRIVATE = re.compile(r"\barchsearch(\.\w+)*\._\w+")


def test_the_readme_snippet_is_the_example_verbatim() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Search your own model", 1)[1]
    snippet = section.split("```python\n", 1)[1].split("```\n", 1)[0]
    example = (ROOT / "examples" / "search_your_own_model.py").read_text()
    assert example.split('"""', 2)[2].lstrip("\n") == snippet


def test_examples_and_readme_use_the_public_api_only() -> None:
    files = [ROOT / "README.md", *sorted((ROOT / "examples").glob("*.py"))]
    offenders = [f"{f.name}: {m.group(0)}" for f in files for m in PRIVATE.finditer(f.read_text())]
    assert offenders == []
