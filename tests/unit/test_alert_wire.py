"""Decoding and encoding alerts: round trips for every shipped schema, upstream samples, and bad bytes."""

import json
import struct

import fastavro
import pytest

from skystream.alerts.schema_files import SCHEMA_VERSIONS, sample_alert_path, schema_id
from skystream.alerts.wire import BadAlert, decode_alert, encode_alert
from skystream.devtools.generator import generate_alerts


@pytest.mark.parametrize("version", SCHEMA_VERSIONS)
def test_generated_alerts_round_trip_through_the_wire_format(version: str) -> None:
    alerts = generate_alerts(25, seed=2, schema_version=version, solar_system_fraction=0.1, cutouts=True)
    for alert in alerts:
        value = encode_alert(alert, version)
        assert value[0] == 0 and struct.unpack(">I", value[1:5])[0] == schema_id(version)
        decoded = decode_alert(value)
        assert decoded.schema_version == version
        assert decoded.alert == alert


@pytest.mark.parametrize("version", SCHEMA_VERSIONS)
def test_the_shipped_sample_alerts_decode(version: str) -> None:
    container = sample_alert_path(version).read_bytes()
    with sample_alert_path(version).open("rb") as f:
        upstream = next(iter(fastavro.reader(f)))
    decoded = decode_alert(container)  # an Avro container file: its first record
    assert decoded.schema_version == version
    assert decoded.alert == upstream
    assert decoded.alert["diaObject"]["diaObjectId"] == 281323062375219201
    assert decode_alert(encode_alert(upstream, version)).alert == upstream  # and as a Kafka message


def test_json_alerts_of_the_same_shape_decode() -> None:
    alert = generate_alerts(1, seed=3)[0]
    decoded = decode_alert(json.dumps({**alert, "cutoutDifference": None}).encode())
    assert decoded.schema_version == "11.1"  # 11.1-only diaSource fields present
    assert decoded.alert["diaObject"] == alert["diaObject"]
    older = generate_alerts(1, seed=3, schema_version="10.0")[0]
    assert decode_alert(json.dumps(older).encode()).schema_version == "11.0"


def test_a_solar_system_alert_decodes_and_says_so() -> None:
    alert = generate_alerts(1, seed=1, solar_system_fraction=1.0)[0]
    decoded = decode_alert(encode_alert(alert))
    assert decoded.is_solar_system


GOOD = encode_alert(generate_alerts(1, seed=9)[0])


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (b"", "empty record"),
        (b"\x00\x00\x00", "truncated wire-format header"),
        (b"\x00" + struct.pack(">I", 907) + GOOD[5:], "unknown alert schema id 907"),
        (GOOD[:-20], "truncated Avro body"),
        (b"\x02" + GOOD[1:], "wrong magic byte 0x02"),
        (b"GIF89a...", "wrong magic byte 0x47"),
        (GOOD + b"\x00\x01", "trailing bytes"),
        (b"\x00" + struct.pack(">I", 1101) + b"\xff" * 40, "Avro body"),
        (b'{"diaSource": {"midpointMjdTai": 1.0}}', "missing diaObject"),
        (b"[1, 2]", "wrong magic byte"),
        (b"{nope", "not valid JSON"),
        (b'{"diaObject": {"diaObjectId": 1, "ra": 1, "dec": 2}}', "missing diaSource"),
        (b'{"diaObject": {"ra": 1, "dec": 2}, "diaSource": {"midpointMjdTai": 1.0}}', "diaObjectId"),
        (b'{"diaObject": {"diaObjectId": 1, "ra": "x", "dec": 2}, "diaSource": {"midpointMjdTai": 1.0}}',
         "diaObject.ra"),
    ],
)
def test_every_kind_of_bad_record_names_its_reason(value: bytes, reason: str) -> None:
    with pytest.raises(BadAlert) as caught:
        decode_alert(value)
    assert reason in caught.value.reason
    assert isinstance(caught.value, ValueError)


def test_encoding_an_invalid_alert_fails_loudly() -> None:
    alert = generate_alerts(1, seed=9)[0]
    alert["diaSource"] = {**alert["diaSource"], "midpointMjdTai": "yesterday"}
    with pytest.raises((ValueError, TypeError)):
        encode_alert(alert)


@pytest.mark.parametrize("version", SCHEMA_VERSIONS)
def test_the_shipped_json_samples_decode(version: str) -> None:
    path = sample_alert_path(version).with_name("alert.json")
    decoded = decode_alert(path.read_bytes())
    assert decoded.alert["diaObject"]["diaObjectId"] == 281323062375219201
    assert len(decoded.alert["prvDiaSources"]) == 2
