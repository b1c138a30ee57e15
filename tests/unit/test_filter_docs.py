"""docs/filters.md's example runs as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

DOC = Path(__file__).resolve().parents[2] / "docs" / "filters.md"


def test_the_docs_example_runs(capsys: pytest.CaptureFixture[str]) -> None:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    assert blocks, "docs/filters.md lost its runnable example"
    exec(compile(blocks[-1], str(DOC), "exec"), {})  # our own documentation
    out = capsys.readouterr().out
    assert "'diaObjectId': 1" in out and "sherlock_classifications.diaObjectId = objects.diaObjectId" in out
