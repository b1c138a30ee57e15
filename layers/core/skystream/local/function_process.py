"""One function's Kafka trigger in a process of its own, as Lambda gives each function its own container.

Hosting every function in one Python process (:class:`~skystream.local.stack.FunctionHost`'s
default) puts them behind one interpreter lock: measured at 300 alerts/s of 5-detection alerts
(``benchmarks/latency.py``), ingest alone needs about three quarters of a core, and the matcher,
the runners' consumers and a benchmark's readers queue behind it. With ``isolate=True`` the host
starts this module once per Kafka-triggered function instead; each child runs that function's
:class:`~skystream.local.esm.EventSourceRunner` exactly as the host would (same handler, same
event JSON, same consumer group) and writes its runner's counters to a JSON file every half
second, which :class:`ProcessRunner` reads back, so callers see ``runner.stats`` as before.

A child dies with its parent (SIGTERM on the parent's death, Linux), stops its runner on
SIGTERM (a batch in flight is not committed: it comes again, as after a crash), and is started
with the environment of the process that starts it (the local stack's).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict
from pathlib import Path

from skystream.local.esm import EventSourceRunner, RunnerStats
from skystream.local.handlers import load_handler
from skystream.local.processes import spawn, stop_pid
from skystream.local.template import FunctionSpec, KafkaEventSource, LocalTemplate, load_template

STATS_EVERY_S = 0.5


def _write_stats(path: Path, runner: EventSourceRunner, assigned: bool) -> None:
    body = {"assigned": assigned, **asdict(runner.stats)}
    partial = path.with_suffix(".tmp")
    partial.write_text(json.dumps(body))
    partial.replace(path)


class ProcessRunner:
    """The parent's handle on one function's runner in a child process (what FunctionHost keeps)."""

    def __init__(self, spec: FunctionSpec, source: KafkaEventSource, *, template_path: Path, bootstrap: str,
                 group_id: str, batching_window_s: float | None, state_dir: Path, index: int = 0):
        self.spec = spec
        self.source = source
        self.function_name = spec.logical_id
        self.group_id = group_id
        name = f"{Path(spec.code_dir).name}-{index}"
        self._stats_path = state_dir / f"{name}.stats.json"
        self._log_path = state_dir / f"{name}.log"
        self._argv = [sys.executable, "-m", "skystream.local.function_process", "--template", str(template_path),
                      "--bootstrap", bootstrap, "--code-dir", spec.code_dir, "--group-id", group_id,
                      "--stats", str(self._stats_path)]
        if batching_window_s is not None:
            self._argv += ["--batching-window", str(batching_window_s)]
        self._process: subprocess.Popen | None = None

    @property
    def stats(self) -> RunnerStats:
        try:
            body = json.loads(self._stats_path.read_text())
        except (OSError, ValueError):
            return RunnerStats()
        body.pop("assigned", None)
        return RunnerStats(**body)

    def start(self, wait_assigned: bool = True, timeout: float = 30.0) -> ProcessRunner:
        self._stats_path.unlink(missing_ok=True)
        self._process = spawn(self._argv, log_path=self._log_path, die_with_parent=True)
        if wait_assigned:
            self.wait_assigned(timeout)
        return self

    def wait_assigned(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if json.loads(self._stats_path.read_text()).get("assigned"):
                    return
            except (OSError, ValueError):
                pass
            if self._process is not None and self._process.poll() is not None:
                raise RuntimeError(f"{self.function_name}: its process exited ({self._process.returncode}); "
                                   f"see {self._log_path}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.function_name}: no partitions assigned within {timeout:.0f} s "
                                   f"(see {self._log_path})")
            time.sleep(0.05)

    def stop(self, timeout: float = 30.0) -> None:
        if self._process is not None:
            stop_pid(self._process.pid, timeout=timeout)
            self._process.wait(5)
            self._process = None


class RunnerGroup:
    """``count`` processes of one function in one consumer group, sharing its partitions (Lambda runs up to
    one invocation per partition at once); counters summed, batch sizes in the order the files list them."""

    def __init__(self, runners: list[ProcessRunner]):
        self.runners = runners
        self.function_name = runners[0].function_name
        self.group_id = runners[0].group_id

    @property
    def stats(self) -> RunnerStats:
        total = RunnerStats()
        for runner in self.runners:
            part = runner.stats
            total.batches += part.batches
            total.records += part.records
            total.failed_calls += part.failed_calls
            total.sent_to_on_failure += part.sent_to_on_failure
            total.last_error = part.last_error or total.last_error
            total.batch_sizes += part.batch_sizes
        return total

    def start(self, wait_assigned: bool = True, timeout: float = 30.0) -> RunnerGroup:
        for runner in self.runners:
            runner.start(wait_assigned=False)
        if wait_assigned:
            self.wait_assigned(timeout)
        return self

    def wait_assigned(self, timeout: float = 30.0) -> None:
        for runner in self.runners:
            runner.wait_assigned(timeout)

    def stop(self, timeout: float = 30.0) -> None:
        for runner in self.runners:
            runner.stop(timeout)


def run(template: LocalTemplate, *, bootstrap: str, code_dir: str, group_id: str, stats: Path,
        batching_window_s: float | None) -> int:
    spec = template.function_by_code_dir(Path(code_dir).name)
    (source,) = spec.kafka_sources
    runner = EventSourceRunner(source, load_handler(spec.code_dir, spec.handler), bootstrap_servers=bootstrap,
                               function_name=spec.logical_id, group_id=group_id, batching_window_s=batching_window_s)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    runner.start(wait_assigned=False)
    try:
        while not stop.wait(STATS_EVERY_S):
            _write_stats(stats, runner, runner._assigned.is_set())
    finally:
        runner.stop()
        _write_stats(stats, runner, False)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="one function's Kafka trigger (started by the local function host)")
    parser.add_argument("--template", type=Path, required=True)
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--code-dir", required=True)
    parser.add_argument("--group-id", required=True)
    parser.add_argument("--stats", type=Path, required=True)
    parser.add_argument("--batching-window", type=float, default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    template = load_template(args.template, parameters={"KafkaBootstrapServers": args.bootstrap,
                                                        "KafkaAuth": "none", "KafkaReplicationFactor": "-1"})
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
    return run(template, bootstrap=args.bootstrap, code_dir=args.code_dir, group_id=args.group_id, stats=args.stats,
               batching_window_s=args.batching_window)


if __name__ == "__main__":
    sys.exit(main())
