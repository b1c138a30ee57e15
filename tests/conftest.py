"""Shared fixtures.

Session scope: one real Kafka-protocol broker (tansu) and one real AWS endpoint
(moto's server), both over loopback sockets on free ports. Function scope:
``stack`` wipes them back to exactly what ``infra/template.yaml`` declares, so each
test starts clean. Tests under ``tests/unit`` are marked ``unit`` (``pytest -m unit``
runs them alone, with no broker or endpoint started); the rest are ``integration``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from skystream.local.testing import EphemeralStack

TESTS = Path(__file__).parent
if str(TESTS) not in sys.path:  # tests/fakes.py: ``from fakes import ...`` in unit and integration tests
    sys.path.insert(0, str(TESTS))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        unit = (TESTS / "unit") in Path(str(item.fspath)).parents
        item.add_marker(pytest.mark.unit if unit else pytest.mark.integration)


@pytest.fixture(scope="session")
def ephemeral_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EphemeralStack]:
    stack = EphemeralStack(tmp_path_factory.mktemp("stack-logs")).start()
    try:
        yield stack
    finally:
        stack.stop()


@pytest.fixture
def stack(ephemeral_stack: EphemeralStack) -> EphemeralStack:
    """The local stack, reset to the template's tables, bucket and (empty) topics."""
    ephemeral_stack.reset()
    return ephemeral_stack
