"""The front door's one rewrite: a JoinGroup's session timeout capped, every other byte left alone."""

from __future__ import annotations

import struct

import pytest

from skystream.local.kafka_front.join_cap import SESSION_CAP_MS, cap_session_timeout


def _join(version: int, session_ms: int, group: bytes = b"Susan3456", client: bytes = b"rdkafka") -> bytearray:
    """A JoinGroup request as a client sends it, without the size prefix (header, group id, timeout, rest)."""
    header = struct.pack(">hhi", 11, version, 7) + struct.pack(">h", len(client)) + client
    if version >= 6:  # request header v2: tagged fields; compact strings
        header += b"\x01" + b"\x00\x02ab"  # one tagged field (tag 0, two bytes), to be skipped
        body = bytes([len(group) + 1]) + group
    else:
        body = struct.pack(">h", len(group)) + group
    return bytearray(header + body + struct.pack(">i", session_ms) + struct.pack(">i", 300_000) + b"rest")


@pytest.mark.parametrize("version", [0, 5, 6, 9])
def test_a_long_session_timeout_is_capped_in_place_and_nothing_else_moves(version: int) -> None:
    frame = _join(version, 45_000)
    before = bytes(frame)
    assert cap_session_timeout(frame)
    changed = [i for i, (a, b) in enumerate(zip(before, frame, strict=True)) if a != b]
    assert len(frame) == len(before) and changed and max(changed) - min(changed) < 4
    offset = before.index(struct.pack(">i", 45_000))
    assert struct.unpack_from(">i", frame, offset)[0] == SESSION_CAP_MS
    assert frame[offset + 4:] == before[offset + 4:]  # the rebalance timeout and the rest as they were


def test_short_timeouts_other_requests_and_truncated_frames_are_left_alone() -> None:
    short = _join(5, 6_000)
    assert not cap_session_timeout(short) and short == _join(5, 6_000)
    fetch = bytearray(struct.pack(">hhi", 1, 11, 3) + b"\x00\x00" + struct.pack(">i", 45_000))
    assert not cap_session_timeout(fetch)
    assert not cap_session_timeout(_join(7, 45_000)[:14])
