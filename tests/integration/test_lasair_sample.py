"""Lasair's sample consumer program, unchanged, reads a reseeded filter topic of the local stack on its first poll.

The program is the one on Lasair's alert-streams page (``shared/reference/lasair-alert-streams.txt``),
run as its own process with Lasair's own client package (``pip install lasair``: its
``lasair_consumer`` keeps librdkafka's default 45 s session timeout); only the server, group and
topic are filled in. It polls with ``timeout=20`` and stops at the first ``None``. Before the
local front door capped JoinGroup session timeouts (``skystream.local.kafka_front.join_cap``), a
new group's JoinGroup took ~23 s there, so the first poll returned ``None`` and the program
printed no record.

Lasair's client cannot log in (its ``lasair_consumer`` takes no credentials), so this test runs a
stack of its own whose front door also lets in clients that do not log in
(``EphemeralStack(anonymous=True)``); the session's stack, like AWS, refuses them
(``test_stream_access.py``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from skystream.alerts.wire import encode_alert
from skystream.devtools.generator import generate_alerts
from skystream.domain.filters import FilterSpec
from skystream.domain.records import KafkaRecord
from skystream.local.stack import apply_environment
from skystream.local.testing import EphemeralStack
from skystream.storage.users import UserStore
from skystream.wiring.api import filter_service
from skystream.wiring.ingest import ingest_service

SAMPLE = '''
import json
from lasair import lasair_consumer
kafka_server = {server!r}
group_id = {group!r}
my_topic = {topic!r}
consumer = lasair_consumer(kafka_server, group_id, my_topic)
import json
n = 0
while n < 10:
    msg = consumer.poll(timeout=20)
    if msg is None:
        break
    if msg.error():
        print(str(msg.error()))
        break
    jmsg = json.loads(msg.value())
    print(json.dumps(jmsg, indent=2))
    print('===')
    n += 1
print('No more messages available')
'''


@pytest.fixture
def open_stack(ephemeral_stack: EphemeralStack, tmp_path: Path) -> Iterator[EphemeralStack]:
    """A stack of its own (broker, front door letting anonymous clients in, AWS endpoint); the session's back after."""
    saved = dict(os.environ)
    for name in ("KAFKA_BOOTSTRAP_SERVERS", "AWS_ENDPOINT_URL"):
        os.environ.pop(name, None)
    own = EphemeralStack(tmp_path, anonymous=True).start()
    try:
        own.reset()
        yield own
    finally:
        own.stop()
        os.environ.clear()
        os.environ.update(saved)
        apply_environment({})


def test_lasair_sample_program_reads_a_reseeded_topic_on_its_first_poll(open_stack: EphemeralStack) -> None:
    stack = open_stack
    alerts = generate_alerts(12, seed=71, detections=5)
    report = ingest_service().process([KafkaRecord("alerts", 0, i, encode_alert(a)) for i, a in enumerate(alerts)])
    assert report.stored == 12
    user, _token = UserStore().add("Susan", "susan@example.org")
    saved = filter_service().create(user, FilterSpec(
        name="hasabsmag", selected="objects.diaObjectId, objects.nDiaSources", tables="objects", on_alert=True,
        output="kafka_lite"))  # saving a Kafka filter reseeds its topic with up to 10 recent objects
    program = SAMPLE.format(server=stack.bootstrap, group=f"Susan{uuid.uuid4().hex[:6]}", topic=saved.topic)
    started = time.monotonic()
    run = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=120)
    elapsed = time.monotonic() - started
    assert run.returncode == 0, run.stderr
    records = [json.loads(part) for part in run.stdout.split("===\n")[:-1]]
    assert len(records) == 10, run.stdout[-2000:]  # the sample stops at 10; the topic holds 10
    assert {r["diaObjectId"] for r in records} <= {a["diaObject"]["diaObjectId"] for a in alerts}
    assert all(r["alert"]["diaSourcesList"] and "UTC" in r for r in records)
    assert run.stdout.rstrip().endswith("No more messages available")
    assert elapsed < 20, f"the sample took {elapsed:.0f} s"  # inside its first poll's 20 s (the join took ~5 s)
