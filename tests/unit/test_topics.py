"""Topic names: Lasair's rule, always a legal Kafka topic."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from skystream.outputs.topics import MAX_TOPIC_LENGTH, is_filter_topic, topic_name

KAFKA_LEGAL = re.compile(r"^[A-Za-z0-9._-]{1,249}$")


def test_lasair_examples() -> None:
    assert topic_name(2, "Has abs mag") == "lasair_2Hasabsmag"
    assert topic_name(2, "Has abs-mag_v1.2!") == "lasair_2Hasabs-mag_v1.2"
    assert topic_name(17, "supernovæ (rising) ✨") == "lasair_17supernovrising"
    assert topic_name(3, "") == "lasair_3"


def test_long_names_are_cut_to_kafkas_limit() -> None:
    name = topic_name(123, "x" * 1000)
    assert len(name) == MAX_TOPIC_LENGTH and name.startswith("lasair_123xxx")


@given(st.integers(min_value=0, max_value=10**12), st.text(max_size=400))
def test_every_name_gives_a_legal_topic(user_id: int, name: str) -> None:
    topic = topic_name(user_id, name)
    assert KAFKA_LEGAL.match(topic)
    assert topic.startswith(f"lasair_{user_id}")
    assert is_filter_topic(topic)
