"""End-to-end latency: from producing an alert to reading its record from a filter's Kafka topic.

The script starts its own local stack (tansu broker + moto server on free loopback
ports), creates a user and a ``kafka_plain`` filter with no WHERE clause (so every alert
matches) through ``FilterService.create``, the code path behind ``POST /filters``, and
hosts ``ingest_handler`` and ``filter_matcher`` in this process with the event-source
runner, as ``skystream up`` does. Alerts are generated and Avro wire-encoded before any
timing starts.

Steps, each on a freshly reset stack:

1. capacity: a burst of alerts, produced as fast as possible; capacity = burst size / time
   until the last record is read from the filter topic (batching window 0);
2. latency at a steady rate of ``--load`` (default 65%) of that capacity, with the runner's
   batching window at 0 (the baseline) and at the value ``infra/template.yaml`` declares for
   each trigger (read with the local template reader).

Latency of one alert = the time its record (matched by ``diaObjectId``) is read from the
filter topic minus the time it was handed to the producer, both on one clock
(``time.perf_counter``) in this process. Ratios are template window / window 0. Where the
time goes: medians per stage from the CreateTime stamps of each alert's enriched record and
filter record (ingest, matcher, read), on the epoch clock with millisecond stamps.

Alert count: 2,000 per window setting by default. The rate is fixed by the capacity, so on
a slow or busy machine the default count is cut to keep the whole run within ``--budget-s``
(180 s), never below 1,000 per setting (2,000 latency samples in all); the output says when.
``--alerts N`` insists on N.

    .venv/bin/python benchmarks/latency.py [--alerts N] [--load 0.65] [--budget-s 180] [--quick]

Human-readable figures, then one JSON line.
"""

from __future__ import annotations

import argparse
import bisect
import json
import os
import platform
import statistics
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "layers" / "core"))

from confluent_kafka import OFFSET_BEGINNING, Consumer, Message, Producer, TopicPartition

from skystream.alerts.wire import encode_alert
from skystream.devtools.generator import generate_alerts
from skystream.domain.filters import FilterSpec
from skystream.local.esm import FETCH_WAIT_MS  # tansu answers fetches late: read as the local runner does
from skystream.local.kafka_config import client_config
from skystream.local.testing import EphemeralStack
from skystream.storage.users import UserStore
from skystream.wiring.api import filter_service

PIPELINE = ("ingest_handler", "filter_matcher")
DETECTIONS = 5  # detections per alert; every alert also carries the generator's forced photometry
DRAIN_TIMEOUT_S = 30.0
DRAIN_LIMIT_S = 5.0  # a pipeline that keeps up has read everything this soon after the last send
RUBIN_RATE = 300.0  # Rubin's average alert rate (alerts/s)
RUBIN_SECONDS = 60.0
DEFAULT_ALERTS = 2000  # per window setting
MIN_ALERTS = 1000  # per window setting: never fewer than 2,000 alerts over the two latency runs
STEP_OVERHEAD_S = 13.0  # reset, filter save, host start, warm-up and drain of one latency run


@dataclass
class Alert:
    dia_object_id: int
    value: bytes


def _id_from_value(message: Message) -> int:
    """A filter record's diaObjectId, from the record itself (the kafka_plain JSON)."""
    return int(json.loads(message.value())["diaObjectId"])


def _id_from_key(message: Message) -> int:
    """An enriched record's diaObjectId, from its key (parsing ~80 KB of JSON per record would load the CPU)."""
    return int(message.key())


@dataclass
class Reader:
    """Reads a topic in a thread; notes when each awaited diaObjectId first arrives, and its record's timestamp."""

    bootstrap: str
    topic: str
    awaited: set[int]
    id_of: Callable[[Message], int] = _id_from_value
    seen: dict[int, float] = field(default_factory=dict)  # perf_counter when read
    stamped: dict[int, float] = field(default_factory=dict)  # the record's CreateTime, epoch seconds

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"read-{self.topic}", daemon=True)

    def start(self) -> Reader:
        self._thread.start()
        return self

    def _run(self) -> None:
        consumer = Consumer(client_config(self.bootstrap, **{"group.id": f"latency-{id(self)}",
                                                             "enable.auto.commit": False,
                                                             "fetch.wait.max.ms": FETCH_WAIT_MS}))
        partitions = consumer.list_topics(self.topic, timeout=10).topics[self.topic].partitions
        consumer.assign([TopicPartition(self.topic, p, OFFSET_BEGINNING) for p in partitions])
        try:
            while not self._stop.is_set():
                for message in consumer.consume(num_messages=1000, timeout=0.02):
                    now = time.perf_counter()
                    if message.error() is not None:
                        continue
                    dia_object_id = self.id_of(message)
                    if dia_object_id in self.awaited and dia_object_id not in self.seen:
                        self.seen[dia_object_id] = now
                        self.stamped[dia_object_id] = message.timestamp()[1] / 1000
                if len(self.seen) >= len(self.awaited):
                    self._done.set()
        finally:
            consumer.close()

    def wait(self, timeout: float) -> bool:
        done = self._done.wait(timeout)
        self._stop.set()
        self._thread.join(10)
        return done


@dataclass
class Timings:
    """Per diaObjectId: produced (perf_counter and epoch), read from the filter topic (perf_counter),
    and the CreateTime stamps of its enriched record and its filter record (epoch)."""

    sent: dict[int, float]
    sent_epoch: dict[int, float]
    read: dict[int, float]
    enriched_stamp: dict[int, float]
    filter_stamp: dict[int, float]
    producing_s: float

    def latencies(self) -> list[float]:
        return [self.read[i] - self.sent[i] for i in self.sent]

    def stages(self) -> dict[str, float]:
        """Median ms per stage: ingest (incl. its wait for a batch), matcher (same), delivery to the reader."""
        ids = [i for i in self.sent if i in self.enriched_stamp]
        if not ids:
            return {}
        read_epoch = {i: self.sent_epoch[i] + self.read[i] - self.sent[i] for i in ids}
        def median_ms(values: list[float]) -> float:
            return round(statistics.median(values) * 1000, 1)
        return {"ingest_ms": median_ms([self.enriched_stamp[i] - self.sent_epoch[i] for i in ids]),
                "matcher_ms": median_ms([self.filter_stamp[i] - self.enriched_stamp[i] for i in ids]),
                "delivery_ms": median_ms([read_epoch[i] - self.filter_stamp[i] for i in ids])}


class Pipeline:
    """One freshly reset stack with a match-everything kafka_plain filter and the two functions hosted."""

    def __init__(self, stack: EphemeralStack, batching_window_s: float | None):
        stack.reset()
        user, _token = UserStore().add("Latency Bench", "bench@example.org")
        spec = FilterSpec(name="latency", selected="objects.diaObjectId, objects.nDiaSources", tables="objects",
                          on_alert=True, output="kafka_plain")
        saved = filter_service().create(user, spec)
        assert saved.topic, saved
        self.stack = stack
        self.topic = saved.topic
        self.host = stack.host(only=set(PIPELINE), batching_window_s=batching_window_s).start()
        self.producer = Producer(stack.client_config(**{"enable.idempotence": True, "linger.ms": 0}))
        self.alerts_topic = os.environ["TOPIC_ALERTS"]
        self.enriched_topic = os.environ["TOPIC_ENRICHED"]

    def send(self, alerts: list[Alert], rate: float | None) -> tuple[dict[int, float], dict[int, float]]:
        """Produce ``alerts`` at ``rate`` per second (None: as fast as possible); perf_counter and epoch times."""
        sent: dict[int, float] = {}
        sent_epoch: dict[int, float] = {}
        start = time.perf_counter()
        for i, alert in enumerate(alerts):
            if rate is not None:
                delay = start + i / rate - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
            sent[alert.dia_object_id] = time.perf_counter()
            sent_epoch[alert.dia_object_id] = time.time()
            self.producer.produce(self.alerts_topic, value=alert.value)
            self.producer.poll(0)
        if self.producer.flush(30):
            raise RuntimeError(f"could not produce every alert to {self.alerts_topic}")
        return sent, sent_epoch

    def run(self, alerts: list[Alert], rate: float | None) -> Timings:
        """Send ``alerts`` at ``rate`` and wait until every one has its record in the filter topic."""
        ids = {a.dia_object_id for a in alerts}
        enriched = Reader(self.stack.bootstrap, self.enriched_topic, ids, id_of=_id_from_key).start()
        matched = Reader(self.stack.bootstrap, self.topic, ids).start()
        started = time.perf_counter()
        sent, sent_epoch = self.send(alerts, rate)
        producing = time.perf_counter() - started
        if not matched.wait(DRAIN_TIMEOUT_S + len(alerts) / (rate or 1000.0)):
            missing = len(alerts) - len(matched.seen)
            raise RuntimeError(f"{missing} of {len(alerts)} alerts never reached filter topic {self.topic}; "
                               f"runner errors: {self.runner_errors()}")
        enriched.wait(5.0)
        return Timings(sent, sent_epoch, matched.seen, enriched.stamped, matched.stamped, producing)

    def runner_errors(self) -> dict[str, str | None]:
        return {name: runner.stats.last_error for name, runner in self.host.runners.items()}

    def batch_sizes(self) -> dict[str, float]:
        return {name: round(statistics.fmean(r.stats.batch_sizes), 1) if r.stats.batch_sizes else 0.0
                for name, r in self.host.runners.items()}

    def stop(self) -> None:
        self.producer.flush(10)
        self.host.stop()


def percentiles(latencies: list[float]) -> dict[str, float]:
    cuts = statistics.quantiles(latencies, n=100, method="inclusive")
    return {"p50_ms": round(cuts[49] * 1000, 1), "p95_ms": round(cuts[94] * 1000, 1),
            "p99_ms": round(cuts[98] * 1000, 1), "max_ms": round(max(latencies) * 1000, 1),
            "mean_ms": round(statistics.fmean(latencies) * 1000, 1)}


def template_windows(stack: EphemeralStack) -> dict[str, float]:
    """The MaximumBatchingWindowInSeconds infra/template.yaml declares for each hosted trigger."""
    assert stack.template is not None
    windows = {}
    for name in PIPELINE:
        sources = stack.template.function_by_code_dir(name).kafka_sources
        windows[name] = sources[0].batching_window_s
    return windows


def make_alerts(count: int) -> list[Alert]:
    generated = generate_alerts(count, seed=2026, detections=DETECTIONS)
    alerts = [Alert(a["diaObject"]["diaObjectId"], encode_alert(a)) for a in generated]
    if len({a.dia_object_id for a in alerts}) != count:
        raise RuntimeError("the generator repeated a diaObjectId; latency matching needs them distinct")
    return alerts


def fit_budget(alerts: list[Alert], rate: float, args: argparse.Namespace, spent: float) -> list[Alert]:
    """The default alert count, cut (never below MIN_ALERTS) so the two runs end within ``--budget-s``.

    The rate is fixed by the measured capacity; on a slow or busy machine only the count can give.
    An explicit ``--alerts`` is always honoured, with a warning when it overruns.
    """
    def projected(count: int) -> float:
        return spent + 2 * (count / rate + STEP_OVERHEAD_S)

    if projected(len(alerts)) <= args.budget_s:
        return alerts
    if args.alerts is None:
        fits = int((args.budget_s - spent - 2 * STEP_OVERHEAD_S) / 2 * rate)
        count = max(MIN_ALERTS, min(len(alerts), fits))
        print(f"note: {len(alerts)} alerts per window at {rate:.0f} alerts/s would take about "
              f"{projected(len(alerts)):.0f} s, over the {args.budget_s:.0f} s budget; using {count} per window "
              f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs). --alerts N insists on N.")
        alerts = alerts[:count]
    if projected(len(alerts)) > args.budget_s:
        print(f"warning: this run takes about {projected(len(alerts)):.0f} s, over the {args.budget_s:.0f} s budget")
    return alerts


def measure_capacity(stack: EphemeralStack, burst: list[Alert], warmup: list[Alert]) -> dict[str, float]:
    pipeline = Pipeline(stack, batching_window_s=0.0)
    try:
        pipeline.run(warmup, rate=None)  # imports, clients, topic metadata
        timings = pipeline.run(burst, rate=None)
        elapsed = max(timings.read.values()) - min(timings.sent.values())
        return {"burst": len(burst), "seconds": round(elapsed, 3), "alerts_per_s": round(len(burst) / elapsed, 1),
                "mean_batch": pipeline.batch_sizes()}
    finally:
        pipeline.stop()


def measure_latency(stack: EphemeralStack, alerts: list[Alert], warmup: list[Alert], rate: float,
                    window: float | None, label: str) -> dict[str, Any]:
    pipeline = Pipeline(stack, batching_window_s=window)
    try:
        pipeline.run(warmup, rate=None)
        before = {name: len(r.stats.batch_sizes) for name, r in pipeline.host.runners.items()}
        timings = pipeline.run(alerts, rate=rate)
        figures = percentiles(timings.latencies())
        producing = timings.producing_s
        batches = {name: r.stats.batch_sizes[before[name]:] for name, r in pipeline.host.runners.items()}
        figures.update({
            "alerts": len(alerts), "offered_rate_per_s": round(rate, 1),
            "achieved_rate_per_s": round(len(alerts) / producing, 1),
            "mean_batch": {name: round(statistics.fmean(b), 1) if b else 0.0 for name, b in batches.items()},
            "failed_calls": {name: r.stats.failed_calls for name, r in pipeline.host.runners.items()},
            "median_stage_ms": timings.stages(),
        })
        print(f"{label:>22} {figures['p50_ms']:>8.0f} {figures['p95_ms']:>8.0f} {figures['p99_ms']:>8.0f} "
              f"{figures['max_ms']:>8.0f} {figures['achieved_rate_per_s']:>7.0f}  "
              + " / ".join(f"{v:.0f}" for v in figures["median_stage_ms"].values()).ljust(19)
              + " / ".join(f"{m:.0f}" for m in figures["mean_batch"].values()))
        return figures
    finally:
        pipeline.stop()


def lag_series(timings: Timings) -> list[int]:
    """Alerts produced but not yet read from the filter topic, at each whole second after the first send."""
    sent, read = sorted(timings.sent.values()), sorted(timings.read.values())
    start, end = sent[0], sent[-1]
    return [bisect.bisect_right(sent, start + k) - bisect.bisect_right(read, start + k)
            for k in range(1, int(end - start) + 2)]


def measure_sustained(stack: EphemeralStack, alerts: list[Alert], warmup: list[Alert], rate: float,
                      seconds: float) -> dict[str, Any]:
    """Rubin's average rate, window 0: does the pipeline keep up (lag bounded), and at what latency?

    Kept up (``bounded``) when the backlog in the last third of the sending period is no larger than
    in the first third, plus half a second of alerts for noise, and everything is read within
    :data:`DRAIN_LIMIT_S` of the last send. A pipeline short of capacity fails both: its backlog
    grows all the time and takes long to drain.
    """
    count = int(rate * seconds)
    pipeline = Pipeline(stack, batching_window_s=0.0)
    try:
        pipeline.run(warmup, rate=None)
        before = {name: len(r.stats.batch_sizes) for name, r in pipeline.host.runners.items()}
        timings = pipeline.run(alerts[:count], rate=rate)
        lag = lag_series(timings)
        third = max(1, len(lag) // 3)
        early, late = max(lag[:third]), max(lag[-third:])
        drain = max(timings.read.values()) - max(timings.sent.values())
        bounded = late <= early + rate * 0.5 and drain <= DRAIN_LIMIT_S
        batches = {name: r.stats.batch_sizes[before[name]:] for name, r in pipeline.host.runners.items()}
        figures = percentiles(timings.latencies())
        figures.update({
            "alerts": count, "seconds": seconds, "offered_rate_per_s": rate,
            "achieved_rate_per_s": round(count / timings.producing_s, 1), "bounded": bounded,
            "max_lag_first_third": early, "max_lag_last_third": late, "drain_s": round(drain, 2),
            "lag_every_10_s": lag[::10], "median_stage_ms": timings.stages(),
            "mean_batch": {name: round(statistics.fmean(b), 1) if b else 0.0 for name, b in batches.items()},
            "failed_calls": {name: r.stats.failed_calls for name, r in pipeline.host.runners.items()},
        })
        return figures
    finally:
        pipeline.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--alerts", type=int, default=None,
                        help=f"alerts per window setting, exactly (default {DEFAULT_ALERTS}, cut to fit --budget-s, "
                             f"never below {MIN_ALERTS})")
    parser.add_argument("--burst", type=int, default=300, help="alerts in the capacity burst (default 300)")
    parser.add_argument("--load", type=float, default=0.65, help="steady rate as a fraction of capacity")
    parser.add_argument("--budget-s", type=float, default=180.0,
                        help="whole-run time the default alert count is cut to fit (default 180 s)")
    parser.add_argument("--quick", action="store_true", help="500 alerts per run, 200-alert burst (a smoke run, not the figures)")
    parser.add_argument("--rubin-rate", type=float, default=RUBIN_RATE,
                        help=f"the sustained setting's rate (default {RUBIN_RATE:g} alerts/s, Rubin's average)")
    parser.add_argument("--rubin-seconds", type=float, default=RUBIN_SECONDS,
                        help=f"how long the sustained setting sends (default {RUBIN_SECONDS:g} s); 0 skips it")
    args = parser.parse_args()
    if args.quick:
        args.alerts, args.burst, args.rubin_seconds = 500, 200, min(args.rubin_seconds, 10.0)
    wanted = DEFAULT_ALERTS if args.alerts is None else args.alerts
    begin = time.perf_counter()
    warm = 20

    made = time.perf_counter()
    # Each step runs on a freshly reset stack, so the steps reuse the same alerts (diaObjectIds are
    # distinct within a step): the burst is the first alerts of the steady runs, the warm-up its own.
    pool = make_alerts(warm + max(wanted, args.burst, int(args.rubin_rate * args.rubin_seconds)))
    warmup, alerts, burst = pool[:warm], pool[warm:warm + wanted], pool[warm:warm + args.burst]
    print(f"latency benchmark: {len(pool)} alerts ({DETECTIONS} detections each, "
          f"{statistics.fmean(len(a.value) for a in pool) / 1024:.1f} KB Avro) generated and encoded in "
          f"{time.perf_counter() - made:.1f} s (not timed)")

    for name in ("KAFKA_BOOTSTRAP_SERVERS", "AWS_ENDPOINT_URL"):
        os.environ.pop(name, None)  # always a private stack on free ports, never someone's running one
    started = time.perf_counter()
    stack = EphemeralStack().start()
    os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"  # keep the handlers' EMF lines off this script's output
    try:
        windows = template_windows(stack)
        print(f"local stack started in {time.perf_counter() - started:.1f} s (tansu {stack.bootstrap}, moto "
              f"{stack.endpoint}); hosted in this process: {', '.join(PIPELINE)}")
        print("template batching windows: " + ", ".join(f"{n} {w:g} s" for n, w in windows.items()))

        capacity = measure_capacity(stack, burst, warmup)
        rate = args.load * capacity["alerts_per_s"]
        print(f"capacity (burst of {capacity['burst']}, window 0): {capacity['alerts_per_s']:.0f} alerts/s; "
              f"steady rate used: {rate:.0f} alerts/s ({100 * rate / capacity['alerts_per_s']:.0f}% of capacity)")
        alerts = fit_budget(alerts, rate, args, spent=time.perf_counter() - begin)
        print(f"\n{'':>22} {'':>8} {'':>8} {'':>8} {'':>8} {'':>7}  {'median ms per':<19}mean batch")
        print(f"{'batching window':>22} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8} {'rate/s':>7}  "
              f"{'ingest/match/read':<19}ingest/match")
        baseline = measure_latency(stack, alerts, warmup, rate, 0.0, "0 s (baseline)")
        label = "template (" + "/".join(f"{w:g}" for w in windows.values()) + " s)"
        templated = measure_latency(stack, alerts, warmup, rate, None, label)
        sustained = None
        if args.rubin_seconds > 0:
            sustained = measure_sustained(stack, pool[warm:], warmup, args.rubin_rate, args.rubin_seconds)
            print(f"\nsustained, window 0: {sustained['alerts']} alerts at {args.rubin_rate:g}/s for "
                  f"{args.rubin_seconds:g} s (achieved {sustained['achieved_rate_per_s']:.0f}/s): "
                  f"p50 {sustained['p50_ms']:.0f} / p95 {sustained['p95_ms']:.0f} / p99 {sustained['p99_ms']:.0f} / "
                  f"max {sustained['max_ms']:.0f} ms; lag {'bounded' if sustained['bounded'] else 'NOT bounded'} "
                  f"(max backlog {sustained['max_lag_first_third']} in the first third, "
                  f"{sustained['max_lag_last_third']} in the last; drained {sustained['drain_s']:.1f} s after the "
                  f"last send); mean batch ingest/match "
                  + " / ".join(f"{m:.0f}" for m in sustained["mean_batch"].values()))
            print("backlog every 10 s: " + ", ".join(str(v) for v in sustained["lag_every_10_s"]))
    finally:
        stack.stop()

    ratios = {k.replace("_ms", ""): round(templated[k] / baseline[k], 2) if baseline[k] else None
              for k in ("p50_ms", "p95_ms", "p99_ms", "max_ms")}
    print(f"{'ratio template/0':>22} " + " ".join(f"{ratios[k]:>7.1f}x" for k in ("p50", "p95", "p99", "max")))
    machine = {"python": platform.python_version(), "machine": platform.machine(), "cpus": os.cpu_count(),
               "system": platform.platform(terse=True), "load_average_1m": round(os.getloadavg()[0], 2)}
    print(f"\ntotal {time.perf_counter() - begin:.1f} s on {machine['cpus']} CPUs ({machine['system']})")
    print(json.dumps({"benchmark": "latency", "baseline": "batching window 0 s, same alerts and rate",
                      "capacity": capacity, "load": args.load, "rate_per_s": round(rate, 1),
                      "alerts_per_window": len(alerts), "alerts_wanted": wanted,
                      "template_windows_s": windows, "window_0": baseline, "window_template": templated,
                      "ratio_template_to_0": ratios, "sustained_window_0": sustained, "machine": machine}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
