"""``make demo``: start the stack, push alerts through every stage, show what a user's consumer reads."""

from __future__ import annotations

import json
import time
import uuid

from confluent_kafka import Consumer, Producer

from skystream.alerts.generator import generate_alerts
from skystream.alerts.wire import encode_alert
from skystream.config import settings
from skystream.local import stack
from skystream.walking_skeleton import HARD_WIRED_TOPIC


def run_demo(count: int = 5) -> int:
    started = stack.StackState.load() is None
    state = stack.up(detach=True) if started else stack.use_running_stack()
    try:
        cfg = settings()
        producer = Producer({"bootstrap.servers": state.bootstrap})
        print(f"\n-> producing {count} generated Rubin alerts (Avro, wire format) to topic '{cfg.topic_alerts}'")
        for alert in generate_alerts(count, seed=42):
            producer.produce(cfg.topic_alerts, encode_alert(alert), key=str(alert["diaObject"]["diaObjectId"]))
        producer.flush(10)
        del producer
        consumer = Consumer(
            {
                "bootstrap.servers": state.bootstrap,
                "group.id": f"demo-{uuid.uuid4().hex[:8]}",
                "auto.offset.reset": "earliest",
                "session.timeout.ms": 6000,
                "topic.metadata.refresh.interval.ms": 1000,  # the topic appears with its first record
            }
        )
        consumer.subscribe([HARD_WIRED_TOPIC])
        print(f"<- reading the output topic '{HARD_WIRED_TOPIC}' as a user's consumer would")
        received = 0
        deadline = time.monotonic() + 60
        while received < count and time.monotonic() < deadline:
            message = consumer.poll(1.0)
            if message is None or message.error():
                continue
            received += 1
            print(json.dumps(json.loads(message.value()), indent=2))
        consumer.close()
        print(f"\n{received} of {count} records received")
        return 0 if received == count else 1
    finally:
        if started:
            stack.down()
