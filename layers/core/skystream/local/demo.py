"""``make demo``: the story of one Lasair user on the local stack, told with real parts.

1. last night's alerts are already in (replayed through ingest and matcher);
2. a user is created and saves a ``kafka_lite`` filter through the HTTP API: the answer
   names the topic and says how many recent matches were put in it at once; the user gets
   stream credentials (``POST /streams/credentials``: SASL/SCRAM-SHA-512, shown once), and an
   anonymous consumer is refused;
3. tonight's alerts are replayed, with a progress bar, through ingest -> matcher -> topic;
4. the matches are read back with ``lasair_consumer`` (Lasair's sample program, logged in
   with those credentials) and one object's lightcurve is plotted to a PNG whose path is printed;
5. the history writer has kept every alert (Parquet by night on the local S3): the filter runs over every
   object in it (``over=all``) and is backtested night by night.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from confluent_kafka import Producer
from tqdm import tqdm

from skystream import wiring
from skystream.alerts.wire import encode_alert
from skystream.clients.api import ApiClient
from skystream.clients.lasair import lasair_consumer
from skystream.config import settings
from skystream.devtools.generator import generate_alerts
from skystream.devtools.plot import plot_lightcurve
from skystream.domain.errors import StreamAccessRefused
from skystream.local import stack
from skystream.local.kafka_config import client_config
from skystream.local.lag import wait_caught_up

SELECTED = "objects.diaObjectId, objects.ra, objects.decl, objects.nDiaSources, objects.latestR"
CONDITIONS = "objects.nDiaSources >= 5 AND objects.decl < 0"


def _say(text: str = "") -> None:
    print(text, flush=True)


def _replay(bootstrap: str, topic: str, alerts: list[dict[str, Any]], label: str) -> None:
    """Produce the alerts, then follow them through ingest with a progress bar until all are stored."""
    producer = Producer(client_config(bootstrap, **{"linger.ms": 5}))
    for alert in alerts:
        producer.produce(topic, encode_alert(alert), key=str(alert["diaObject"]["diaObjectId"]))
    if producer.flush(30):
        raise RuntimeError(f"the broker did not take every alert on {topic}")
    ids = [a["diaObject"]["diaObjectId"] for a in alerts]
    store = wiring.objects()
    deadline = time.monotonic() + 180
    with tqdm(total=len(ids), desc=label, unit="alert") as bar:
        while bar.n < len(ids):
            if time.monotonic() > deadline:
                raise TimeoutError("the ingest function did not store every alert within 3 minutes; "
                                   f"see {stack.state_dir() / 'logs' / 'functions.log'}")
            done = len(store.get_many(ids))
            bar.update(done - bar.n)
            if done < len(ids):
                time.sleep(0.3)


def _summary(record: dict[str, Any]) -> str:
    detections = len(record.get("alert", {}).get("diaSourcesList") or [])
    return (f"  diaObjectId {record['diaObjectId']}  ra {record['ra']:8.4f}  decl {record['decl']:8.4f}  "
            f"nDiaSources {record['nDiaSources']:3d}  UTC {record['UTC']}  ({detections} detections in 'alert')")


def _read(bootstrap: str, group: str, topic: str, want: int, on_record: Callable[[dict[str, Any]], None],
          credentials: dict[str, str]) -> int:
    """Lasair's sample consumer loop, logged in: poll until ``want`` records or 20 s with nothing."""
    consumer = lasair_consumer(bootstrap, group, topic, credentials["username"], credentials["password"],
                               security_protocol=credentials["security_protocol"])
    n = 0
    try:
        while n < want:
            msg = consumer.poll(timeout=20)
            if msg is None:
                break
            if msg.error():
                continue  # UNKNOWN_TOPIC_OR_PART until the first record arrives
            on_record(json.loads(msg.value()))
            n += 1
    finally:
        consumer.close()
    return n


def _group_of(state: stack.StackState, function: str) -> str:
    """The consumer group of a function's Kafka trigger (``filter_matcher``, ``history_writer``)."""
    template = state.template()
    spec = next(f for f in template.functions.values() if Path(f.code_dir).name == function)
    return spec.kafka_sources[0].consumer_group_id


def _matcher_group(state: stack.StackState) -> str:
    return _group_of(state, "filter_matcher")


def _history(state: stack.StackState, api: ApiClient, filter_id: str, alerts: int) -> None:
    """Step 5: every alert is in the history; the filter runs over every object and is backtested."""
    wait_caught_up(state.bootstrap, _group_of(state, "history_writer"), settings().topic_enriched)
    everything = api.post(f"/filters/{filter_id}/run?over=all&limit=1000")
    _say(f"POST /filters/{filter_id}/run?over=all -> {everything['count']} object(s) match over every object the "
         f"history holds ({everything['nights']} night(s)), in {everything['elapsed_s']:.2f} s")
    result = api.post(f"/filters/{filter_id}/backtest?nights=3&sample=1")
    _say(f"POST /filters/{filter_id}/backtest?nights=3 -> what it would have sent, night by night "
         f"({alerts} alerts replayed in all):")
    for night in result["nights"]:
        _say(f"  night {night['night']}: {night['alerts']} of {night['total']} alerts ({night['share']:.1%}), "
             f"{night['objects']} object(s)")
    for warning in result["warnings"]:
        _say(f"  warning: {warning}")


def run_demo(count: int = 120) -> int:
    started = stack.StackState.load() is None
    state = stack.up(detach=True) if started else stack.use_running_stack()
    try:
        return _story(state, count, stack_stays=not started)
    finally:
        if started:
            stack.down()


def _story(state: stack.StackState, count: int, *, stack_stays: bool) -> int:
    cfg = settings()
    run = int(time.time()) % 100_000  # fresh objects on every run, even against a long-running stack
    last_night = generate_alerts(max(count // 2, 20), seed=run * 2)
    tonight = generate_alerts(count, seed=run * 2 + 1)

    _say("\n== 1. last night's alerts arrive (Avro, Confluent wire format) and are stored")
    _replay(state.bootstrap, cfg.topic_alerts, last_night, "last night")
    wait_caught_up(state.bootstrap, _matcher_group(state), cfg.topic_enriched)  # no filter has seen them

    _say("\n== 2. a user saves a kafka_lite filter through the HTTP API")
    user, token = wiring.users().add("Susan", "susan@example.org")
    _say(f"user {user.user_id} created; API token {token[:8]}...")
    api = ApiClient(str(state.api_url), token)
    saved = api.post("/filters", {
        "name": "Bright southern transients", "description": "five detections or more, south of the equator",
        "selected": SELECTED, "tables": "objects", "conditions": CONDITIONS,
        "on_alert": True, "output": "kafka_lite",
    })
    topic = saved["topic"]
    _say(f"POST /filters -> filter {saved['filter']['filter_id']}, topic {topic}")
    _say(f"  SELECT {SELECTED}\n  FROM objects\n  WHERE {CONDITIONS}")
    _say(f"the API says: {saved['message']}")
    credentials = api.post("/streams/credentials")
    _say(f"POST /streams/credentials -> Kafka user {credentials['username']}, password {credentials['password']} "
         f"(shown once), {credentials['mechanism']} over {credentials['security_protocol']} at "
         f"{credentials['bootstrap_servers']}")
    try:
        lasair_consumer(state.bootstrap, "anonymous", topic, security_protocol=credentials["security_protocol"],
                        connect_timeout=5).close()
        _say("an anonymous consumer was let in: the broker does not authenticate!")
        return 1
    except StreamAccessRefused as refused:
        _say(f"an anonymous consumer is refused: {str(refused).split(' (')[0]}")
    group = f"Susan{run}"
    reseeded: list[dict[str, Any]] = []
    _read(state.bootstrap, group, topic, saved["reseeded"], reseeded.append, credentials)
    _say(f"lasair_consumer(group '{group}', username '{credentials['username']}') reads the {len(reseeded)} "
         "reseeded record(s) at once:")
    for record in reseeded:
        _say(_summary(record))

    _say(f"\n== 3. tonight's {len(tonight)} alerts are replayed: ingest -> objects -> matcher -> {topic}")
    _replay(state.bootstrap, cfg.topic_alerts, tonight, "tonight")
    expected = sum(1 for a in tonight if a["diaObject"]["nDiaSources"] >= 5 and a["diaObject"]["dec"] < 0)

    _say(f"\n== 4. the same consumer group resumes and reads tonight's matches ({expected} expected)")
    received: list[dict[str, Any]] = []
    _read(state.bootstrap, group, topic, expected, received.append, credentials)
    for record in received[:10]:
        _say(_summary(record))
    if len(received) > 10:
        _say(f"  ... and {len(received) - 10} more")
    _say(f"{len(received)} of {expected} matching objects received")
    if received:
        example = max(received, key=lambda r: len(r["alert"]["diaSourcesList"]))
        shown = {**example, "alert": {k: [*v[:2], "..."] for k, v in example["alert"].items()}}
        _say("\none record, as Lasair's page shows them (lightcurve lists cut to two entries):")
        _say(json.dumps(shown, indent=2))
        out = Path(tempfile.gettempdir()) / "skystream-demo"
        path = plot_lightcurve(example, out)
        _say(f"\nlightcurve of diaObjectId {example['diaObjectId']} plotted to {path}")
    _say("\n== 5. every alert is also kept in the history (Parquet by night, read by DuckDB here, Athena on AWS)")
    _history(state, api, saved["filter"]["filter_id"], len(last_night) + len(tonight))
    if stack_stays:
        _say(f"\ntry it yourself: SKYSTREAM_KAFKA_PASSWORD='{credentials['password']}' skystream consume {topic} "
             f"--username {credentials['username']} --group mygroup --max 3 --plot /tmp/plots")
    else:
        _say("\nthe demo stops the stack it started; to keep one to try things on: skystream up --detach, "
             "then skystream demo (it uses the running stack and prints how to read the topic yourself)")
    return 0 if received and len(received) == expected else 1
