"""Unit tests run with the environment a function has: every variable the template sets.

Settings have no defaults for those (``skystream.config.REQUIRED``), so each unit test gets
them from ``infra/template.yaml`` as the local stack would, pointing nowhere (broker
``127.0.0.1:1``, no AWS endpoint: DynamoDB is moto in-process where a test needs it). A
variable the test's process already has is left as it is. Services built by
``skystream.wiring`` are dropped around each test, so none outlives the tables it was built on.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from functools import cache

import pytest

from skystream import wiring
from skystream.config import REQUIRED
from skystream.local.aws_endpoint import LOCAL_CREDENTIALS
from skystream.local.stack import local_template


@cache
def function_environment() -> dict[str, str]:
    return {**LOCAL_CREDENTIALS, **local_template("127.0.0.1:1").environment}


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    env = function_environment()
    assert set(REQUIRED) <= set(env), f"the local environment lacks {sorted(set(REQUIRED) - set(env))}"
    for name, value in env.items():
        monkeypatch.setenv(name, os.environ.get(name) or value)
    wiring.reset()
    yield
    monkeypatch.undo()
    wiring.reset()
