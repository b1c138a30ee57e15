"""The import contracts in pyproject.toml hold, and they would catch an upward import.

``lint-imports`` (import-linter) reads ``[tool.importlinter]``: the layers of the package
(each imports only the ones below it) and the pure core (no boto3, Kafka or settings in the
domain, filter core, features, alert decoding and record formats). The planted tests copy
the package, add one forbidden import, and check that the same contracts refuse it, so a
contract that silently stopped checking anything would fail here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "layers" / "core" / "skystream"
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint(package_parent: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(package_parent)}
    return subprocess.run([str(LINT_IMPORTS), "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
                          cwd=package_parent, env=env, capture_output=True, text=True, timeout=120)


def _planted(tmp_path: Path, module: str, line: str) -> Path:
    copy = tmp_path / "skystream"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    target = copy / module
    target.write_text(target.read_text() + f"\n{line}\n")
    return tmp_path


def test_the_package_keeps_its_import_contracts() -> None:
    result = _lint(PACKAGE.parent)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 2 kept, 0 broken." in result.stdout


@pytest.mark.parametrize(("module", "line", "refusal"), [
    # the domain reaching up into a service
    ("domain/errors.py", "import skystream.services.matching  # noqa", "skystream.domain is not allowed to import skystream.services"),
    # an adapter importing a service
    ("storage/filters.py", "import skystream.services.filters  # noqa", "skystream.storage is not allowed to import skystream.services"),
    # the runtime importing the local stack
    ("services/ingest.py", "import skystream.local.stack  # noqa", "skystream.services is not allowed to import skystream.local"),
    # the filter core doing I/O
    ("filters/engine.py", "import boto3  # noqa", "skystream.filters.engine -> boto3"),
])
def test_a_planted_upward_import_is_refused(tmp_path: Path, module: str, line: str, refusal: str) -> None:
    result = _lint(_planted(tmp_path, module, line))
    assert result.returncode != 0, result.stdout
    assert refusal in result.stdout, result.stdout
