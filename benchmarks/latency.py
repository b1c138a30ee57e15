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
filter topic minus the time it was handed to the producer. Everything runs on one clock
(``time.perf_counter``) in one process. Ratios are template window / window 0.

    .venv/bin/python benchmarks/latency.py [--alerts 2000] [--load 0.65] [--quick]

Human-readable figures, then one JSON line. About a minute on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "layers" / "core"))

from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition

from skystream.alerts.generator import generate_alerts
from skystream.alerts.wire import encode_alert
from skystream.filters.lifecycle import FilterService
from skystream.filters.model import FilterSpec
from skystream.local.testing import EphemeralStack
from skystream.storage.users import UserStore

PIPELINE = ("ingest_handler", "filter_matcher")
DETECTIONS = 5  # detections per alert; every alert also carries the generator's forced photometry
DRAIN_TIMEOUT_S = 30.0


@dataclass
class Alert:
    dia_object_id: int
    value: bytes


@dataclass
class Reader:
    """Reads the filter topic in a thread and notes when each awaited diaObjectId first arrives."""

    bootstrap: str
    topic: str
    awaited: set[int]
    seen: dict[int, float] = field(default_factory=dict)
    unexpected: int = 0

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="latency-reader", daemon=True)

    def start(self) -> Reader:
        self._thread.start()
        return self

    def _run(self) -> None:
        consumer = Consumer({"bootstrap.servers": self.bootstrap, "group.id": f"latency-{id(self)}",
                             "enable.auto.commit": False})
        consumer.assign([TopicPartition(self.topic, 0, OFFSET_BEGINNING)])
        try:
            while not self._stop.is_set():
                for message in consumer.consume(num_messages=1000, timeout=0.02):
                    now = time.perf_counter()
                    if message.error() is not None:
                        continue
                    dia_object_id = int(json.loads(message.value())["diaObjectId"])
                    if dia_object_id in self.awaited and dia_object_id not in self.seen:
                        self.seen[dia_object_id] = now
                    else:
                        self.unexpected += 1
                if len(self.seen) >= len(self.awaited):
                    self._done.set()
        finally:
            consumer.close()

    def wait(self, timeout: float) -> bool:
        done = self._done.wait(timeout)
        self._stop.set()
        self._thread.join(10)
        return done


class Pipeline:
    """One freshly reset stack with a match-everything kafka_plain filter and the two functions hosted."""

    def __init__(self, stack: EphemeralStack, batching_window_s: float | None):
        stack.reset()
        user, _token = UserStore().add("Latency Bench", "bench@example.org")
        spec = FilterSpec(name="latency", selected="objects.diaObjectId, objects.nDiaSources", tables="objects",
                          on_alert=True, output="kafka_plain")
        saved = FilterService().create(user, spec)
        assert saved.topic, saved
        self.stack = stack
        self.topic = saved.topic
        self.host = stack.host(only=set(PIPELINE), batching_window_s=batching_window_s).start()
        self.producer = Producer({"bootstrap.servers": stack.bootstrap, "enable.idempotence": True,
                                  "linger.ms": 0})
        self.alerts_topic = os.environ["TOPIC_ALERTS"]

    def send(self, alerts: list[Alert], rate: float | None) -> dict[int, float]:
        """Produce ``alerts`` at ``rate`` per second (None: as fast as possible); returns produce times."""
        sent: dict[int, float] = {}
        start = time.perf_counter()
        for i, alert in enumerate(alerts):
            if rate is not None:
                delay = start + i / rate - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
            sent[alert.dia_object_id] = time.perf_counter()
            self.producer.produce(self.alerts_topic, value=alert.value)
            self.producer.poll(0)
        if self.producer.flush(30):
            raise RuntimeError(f"could not produce every alert to {self.alerts_topic}")
        return sent

    def run(self, alerts: list[Alert], rate: float | None) -> tuple[dict[int, float], dict[int, float], float]:
        """(produce times, read times, seconds spent producing) for ``alerts`` sent at ``rate``."""
        reader = Reader(self.stack.bootstrap, self.topic, {a.dia_object_id for a in alerts}).start()
        started = time.perf_counter()
        sent = self.send(alerts, rate)
        producing = time.perf_counter() - started
        if not reader.wait(DRAIN_TIMEOUT_S + len(alerts) / (rate or 1000.0)):
            missing = len(alerts) - len(reader.seen)
            raise RuntimeError(f"{missing} of {len(alerts)} alerts never reached filter topic {self.topic}; "
                               f"runner errors: {self.runner_errors()}")
        return sent, reader.seen, producing

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


def measure_capacity(stack: EphemeralStack, burst: list[Alert], warmup: list[Alert]) -> dict[str, float]:
    pipeline = Pipeline(stack, batching_window_s=0.0)
    try:
        pipeline.run(warmup, rate=None)  # imports, clients, topic metadata
        sent, seen, _ = pipeline.run(burst, rate=None)
        elapsed = max(seen.values()) - min(sent.values())
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
        sent, seen, producing = pipeline.run(alerts, rate=rate)
        latencies = [seen[i] - sent[i] for i in sent]
        figures = percentiles(latencies)
        batches = {name: r.stats.batch_sizes[before[name]:] for name, r in pipeline.host.runners.items()}
        figures.update({
            "alerts": len(alerts), "offered_rate_per_s": round(rate, 1),
            "achieved_rate_per_s": round(len(alerts) / producing, 1),
            "mean_batch": {name: round(statistics.fmean(b), 1) if b else 0.0 for name, b in batches.items()},
            "failed_calls": {name: r.stats.failed_calls for name, r in pipeline.host.runners.items()},
        })
        print(f"{label:>22} {figures['p50_ms']:>8.0f} {figures['p95_ms']:>8.0f} {figures['p99_ms']:>8.0f} "
              f"{figures['max_ms']:>8.0f} {figures['achieved_rate_per_s']:>8.0f}  "
              + ", ".join(f"{n} {m:.1f}" for n, m in figures["mean_batch"].items()))
        return figures
    finally:
        pipeline.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--alerts", type=int, default=2000, help="alerts per latency run (default 2000)")
    parser.add_argument("--burst", type=int, default=500, help="alerts in the capacity burst (default 500)")
    parser.add_argument("--load", type=float, default=0.65, help="steady rate as a fraction of capacity")
    parser.add_argument("--budget-s", type=float, default=120.0, help="warn when the run will take longer")
    parser.add_argument("--quick", action="store_true", help="500 alerts per run, 200-alert burst (a smoke run)")
    args = parser.parse_args()
    if args.quick:
        args.alerts, args.burst = 500, 200
    begin = time.perf_counter()
    warm = 20

    made = time.perf_counter()
    pool = make_alerts(args.alerts + args.burst + 2 * warm)
    alerts, burst = pool[:args.alerts], pool[args.alerts:args.alerts + args.burst]
    warmups = pool[args.alerts + args.burst:]
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

        capacity = measure_capacity(stack, burst, warmups[:warm])
        rate = args.load * capacity["alerts_per_s"]
        print(f"capacity (burst of {capacity['burst']}, window 0): {capacity['alerts_per_s']:.0f} alerts/s; "
              f"steady rate used: {rate:.0f} alerts/s ({100 * rate / capacity['alerts_per_s']:.0f}% of capacity)")
        projected = time.perf_counter() - begin + 2 * (len(alerts) / rate + 5)
        if projected > args.budget_s:
            print(f"warning: at {rate:.0f} alerts/s this run takes about {projected:.0f} s, over the "
                  f"{args.budget_s:.0f} s budget; capacity is low (load average {os.getloadavg()[0]:.1f} on "
                  f"{os.cpu_count()} CPUs: is the machine busy?). --quick runs 500 alerts per window.")
        print(f"\n{'batching window':>22} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8} {'rate/s':>8}  "
              "mean batch")
        baseline = measure_latency(stack, alerts, warmups[:warm], rate, 0.0, "0 s (baseline)")
        label = "template (" + "/".join(f"{w:g}" for w in windows.values()) + " s)"
        templated = measure_latency(stack, alerts, warmups[warm:], rate, None, label)
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
                      "template_windows_s": windows, "window_0": baseline, "window_template": templated,
                      "ratio_template_to_0": ratios, "machine": machine}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
