"""Damaged bytes never escape as anything but BadAlert: the ingest handler's promise rests on it."""

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skystream.alerts.wire import BadAlert, decode_alert, encode_alert
from skystream.devtools.generator import generate_alerts
from skystream.features import objects_row

GOOD = encode_alert(generate_alerts(1, seed=1, detections=5)[0])


@settings(max_examples=300, deadline=None)
@given(
    flips=st.lists(st.tuples(st.integers(5, len(GOOD) - 1), st.integers(0, 255)), min_size=1, max_size=6),
    cut=st.one_of(st.none(), st.integers(0, len(GOOD))),
)
def test_damaged_alerts_decode_or_raise_bad_alert(flips: list[tuple[int, int]], cut: int | None) -> None:
    value = bytearray(GOOD)
    for index, byte in flips:
        value[index] = byte
    if cut is not None:
        value = value[:cut]
    try:
        decoded = decode_alert(bytes(value))
    except BadAlert as exc:
        assert exc.reason
        return
    if not decoded.is_solar_system:
        objects_row(decoded.alert)  # whatever decodes, the features digest (or ingest dead-letters it)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_never_raise_anything_else(value: bytes) -> None:
    with contextlib.suppress(BadAlert):
        decode_alert(value)


def test_a_trigger_without_a_finite_time_is_a_bad_alert() -> None:
    alert = generate_alerts(1, seed=2)[0]
    alert["diaSource"] = {**alert["diaSource"], "midpointMjdTai": float("nan")}
    with pytest.raises(BadAlert, match="midpointMjdTai"):
        decode_alert(encode_alert(alert))
