"""Kafka topic names of users' filters: Lasair's rule, made Kafka-legal.

``lasair_`` + the owner's numeric id + the filter name with every character outside
ASCII ``[A-Za-z0-9._-]`` removed, cut to Kafka's 249-character limit. So user 2's
filter "Has abs mag!" streams to ``lasair_2Hasabsmag``, as on Lasair.

Kafka refuses a topic whose name differs from an existing one only by ``.`` against ``_``
(both become ``_`` in its metric names), so ``lasair_2Has.abs`` and ``lasair_2Has_abs`` are
one topic as far as a clash goes: :func:`collision_key` is the name they share.
"""

from __future__ import annotations

import re

PREFIX = "lasair_"
MAX_TOPIC_LENGTH = 249
_NOT_ALLOWED = re.compile(r"[^A-Za-z0-9._-]")


def sanitise(name: str) -> str:
    return _NOT_ALLOWED.sub("", name)


def topic_name(user_id: int, filter_name: str) -> str:
    """The topic of filter ``filter_name`` owned by ``user_id`` (always a legal Kafka topic name)."""
    return f"{PREFIX}{int(user_id)}{sanitise(filter_name)}"[:MAX_TOPIC_LENGTH]


def is_filter_topic(topic: str) -> bool:
    return topic.startswith(PREFIX) and len(topic) <= MAX_TOPIC_LENGTH and not _NOT_ALLOWED.search(topic)


def collision_key(topic: str) -> str:
    """The name two topics share when Kafka would treat them as colliding (``.`` and ``_`` alike)."""
    return topic.replace(".", "_")
