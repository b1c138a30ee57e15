"""`skystream restart functions` and `skystream up` explain themselves when only the function host is down,
and refuse, saying what to do, when there is nothing to restart against."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from skystream.local import stack
from skystream.local.processes import free_port


@pytest.fixture
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SKYSTREAM_STATE_DIR", str(tmp_path))
    return tmp_path


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_up_points_to_restart_when_only_the_function_host_died(state_dir: Path) -> None:
    stack.StackState("127.0.0.1:1", "http://127.0.0.1:2", None,
                     pids={"kafka": os.getpid(), "aws": os.getpid(), "functions": _dead_pid()}).save()
    with pytest.raises(RuntimeError, match=r"function host \(pid \d+\) is not: `skystream restart functions`"):
        stack.up(echo=lambda *_: None)


def test_restart_without_a_recorded_stack_says_how_to_start_one(state_dir: Path) -> None:
    with pytest.raises(RuntimeError, match=r"no local stack is recorded .*`skystream up --detach`"):
        stack.restart_functions(echo=lambda *_: None)


def test_restart_refuses_when_the_broker_does_not_answer(state_dir: Path) -> None:
    kafka, aws = free_port(), free_port()
    stack.StackState(f"127.0.0.1:{kafka}", f"http://127.0.0.1:{aws}", None, pids={"functions": _dead_pid()}).save()
    with pytest.raises(RuntimeError) as refused:
        stack.restart_functions(echo=lambda *_: None)
    message = str(refused.value)
    assert f"the Kafka broker at 127.0.0.1:{kafka}" in message and f"the AWS endpoint at http://127.0.0.1:{aws}" in message
    assert "`skystream down`, then `skystream up --detach`" in message


def test_restart_leaves_a_foreground_stack_alone(state_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stack.StackState("127.0.0.1:9", "http://127.0.0.1:9", "http://127.0.0.1:8000", pids={}).save()
    (state_dir / "functions.ready").write_text(str(os.getpid()))  # what a foreground `up` writes
    monkeypatch.setattr(stack, "_answers", lambda address: True)
    with pytest.raises(RuntimeError, match=rf"foreground `skystream up` \(pid {os.getpid()}\)"):
        stack.restart_functions(echo=lambda *_: None)
