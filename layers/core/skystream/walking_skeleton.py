"""The walking skeleton's stand-ins: JSON pass-through ingest and one hard-wired rule.

They prove the plumbing (topic -> runner -> handler -> topic) end to end. The alerts
issue replaces ``forward_alerts`` with real decoding and features; the filter-engine
issue replaces ``match_hard_wired_rule`` with users' SQL filters. Delete this module then.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable

from skystream.streams.lambda_event import KafkaRecord
from skystream.streams.producer import Producer

HARD_WIRED_TOPIC = "lasair_0skeleton"


def forward_alerts(records: Iterable[KafkaRecord], producer: Producer, enriched_topic: str) -> int:
    """JSON alert in, ``{"objects": {...}, "alert": ...}`` out, keyed by diaObjectId."""
    sent = 0
    for record in records:
        alert = json.loads(record.value)
        obj = alert["diaObject"]
        row = {"diaObjectId": obj["diaObjectId"], "ra": obj["ra"], "decl": obj["dec"]}
        producer.produce(enriched_topic, json.dumps({"objects": row, "alert": alert}).encode(), key=str(row["diaObjectId"]))
        sent += 1
    producer.flush()
    return sent


def match_hard_wired_rule(records: Iterable[KafkaRecord], producer: Producer) -> int:
    """The one rule: every object with a position, as a Lasair plain record."""
    sent = 0
    for record in records:
        row = json.loads(record.value)["objects"]
        if row.get("ra") is None:
            continue
        out = {**row, "UTC": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())}
        producer.produce(HARD_WIRED_TOPIC, json.dumps(out).encode(), key=str(row["diaObjectId"]))
        sent += 1
    producer.flush()
    return sent
