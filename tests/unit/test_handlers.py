"""The five handlers as Lambda starts them: a fresh interpreter importing ``functions/<name>/app.py``.

Each builds its service at import (``skystream.wiring``), so a missing variable fails the cold
start with its name, not the first batch; none loads the local stack, the command line, the
developer tools or the clients (what the Lambda layer leaves out). Each handler reports its
counts as CloudWatch metrics in one convention: CamelCase names in namespace ``skystream``,
dimension ``service`` = the function's directory name (docs/deploy.md, "Metrics").
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from fakes import (
    MemoryArchive,
    MemoryDigests,
    MemoryFilters,
    MemoryObjects,
    RecordingProducer,
    RecordingRunner,
    matcher,
)

from skystream.config import REQUIRED
from skystream.domain.records import KafkaRecord
from skystream.local.handlers import LocalLambdaContext
from skystream.local.http_api import http_api_event
from skystream.services.annotation_trigger import AnnotationTrigger
from skystream.services.digest.send import DigestSender
from skystream.services.ingest import IngestService
from skystream.services.matching import EnrichedMatcher
from skystream.streams.dead_letter import DeadLetters
from skystream.streams.lambda_event import build_kafka_event

ROOT = Path(__file__).resolve().parents[2]
HANDLERS = ["ingest_handler", "filter_matcher", "annotation_handler", "email_digest", "filter_api"]
NOT_IN_THE_LAYER = ("skystream.local", "skystream.cli", "skystream.devtools", "skystream.clients")
METRIC_NAME = re.compile(r"^[A-Z][a-z]+(?:[A-Z][a-z]+)*$")


def _start(name: str, env: dict[str, str], then: str = "") -> subprocess.CompletedProcess[str]:
    """Import the handler module in a fresh interpreter, as Lambda's init phase does."""
    path = ROOT / "functions" / name / "app.py"
    code = ("import importlib.util, sys\n"
            f"spec = importlib.util.spec_from_file_location('app', {str(path)!r})\n"
            "module = importlib.util.module_from_spec(spec)\n"
            "spec.loader.exec_module(module)\n" + then)
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)


def _function_env() -> dict[str, str]:
    """The unit tests' environment (every variable the template sets; broker 127.0.0.1:1, nothing listens)."""
    return {k: v for k, v in os.environ.items() if k != "AWS_ENDPOINT_URL"}


@pytest.mark.parametrize("name", HANDLERS)
def test_a_handler_started_without_a_required_variable_fails_naming_it(name: str) -> None:
    env = _function_env()
    assert set(REQUIRED) <= set(env)
    del env["KAFKA_BOOTSTRAP_SERVERS"]
    started = _start(name, env)
    assert started.returncode != 0
    last = started.stderr.strip().splitlines()[-1]
    assert last.startswith("skystream.config.ConfigurationError: environment variable KAFKA_BOOTSTRAP_SERVERS "
                           "is not set"), started.stderr[-2000:]


@pytest.mark.parametrize("name", HANDLERS)
def test_a_handler_starts_without_the_local_stack_cli_devtools_or_clients(name: str) -> None:
    report = "import json; print(json.dumps(sorted(m for m in sys.modules if m.startswith('skystream'))))"
    started = _start(name, _function_env(), report)
    assert started.returncode == 0, started.stderr[-2000:]
    loaded = json.loads(started.stdout.strip().splitlines()[-1])
    assert "skystream.config" in loaded and any(m.startswith("skystream.wiring") for m in loaded)
    assert [m for m in loaded if m.startswith(NOT_IN_THE_LAYER)] == []


# -- metrics: one convention ---------------------------------------------------------------------


def _load(name: str) -> ModuleType:
    """The handler module under a name of its own (``load_handler`` keeps its modules for the process)."""
    spec = importlib.util.spec_from_file_location(f"metrics_test_{name}", ROOT / "functions" / name / "app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _emitted(out: str) -> list[dict[str, Any]]:
    return [blob for line in out.splitlines() if line.startswith("{") and "_aws" in (blob := json.loads(line))]


def _dead_letters() -> DeadLetters:
    return DeadLetters(RecordingProducer(), "alerts-dlq")


FAKES: dict[str, tuple[str, str, Callable[[], Any]]] = {
    "ingest_handler": ("skystream.wiring.ingest", "ingest_service", lambda: IngestService(
        RecordingProducer(), MemoryObjects(), MemoryArchive(), enriched_topic="alerts-enriched", dlq_topic="alerts-dlq")),
    "filter_matcher": ("skystream.wiring.matching", "enriched_matcher", lambda: EnrichedMatcher(
        filters=MemoryFilters([]), matcher=matcher(), dead_letters=_dead_letters())),
    "annotation_handler": ("skystream.wiring.matching", "annotation_trigger", lambda: AnnotationTrigger(
        filters=MemoryFilters([]), objects=MemoryObjects(), matcher=RecordingRunner(), dead_letters=_dead_letters())),
    "email_digest": ("skystream.wiring.digest", "digest_sender", lambda: DigestSender(
        store=MemoryDigests(), recipients=lambda user_id: None, mailer=None, sender="s@example.org")),  # type: ignore[arg-type]
}


@pytest.mark.parametrize("name", HANDLERS)
def test_every_handler_reports_camelcase_metrics_with_its_function_as_the_service(
        name: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    for switch in ("POWERTOOLS_METRICS_DISABLED", "POWERTOOLS_DEV"):  # whatever the shell says: publish
        monkeypatch.delenv(switch, raising=False)
    if name == "filter_api":
        for builder in ("filter_service", "annotation_service", "object_reads"):
            monkeypatch.setattr(f"skystream.wiring.api.{builder}", lambda: None)  # /health uses none of them
        monkeypatch.setattr("skystream.wiring.users", lambda: None)
        event: dict[str, Any] = http_api_event("GET", "/health", {}, b"", "127.0.0.1")
    else:
        module, builder, fake = FAKES[name]
        monkeypatch.setattr(f"{module}.{builder}", fake)
        event = build_kafka_event([KafkaRecord("t", 0, 0, b"not a record")], bootstrap_servers="127.0.0.1:1") \
            if name != "email_digest" else {"date": "2026-12-01"}
    handler = _load(name).handler
    capsys.readouterr()
    handler(event, LocalLambdaContext(name))
    blobs = _emitted(capsys.readouterr().out)
    assert len(blobs) == 1, blobs
    (directive,) = blobs[0]["_aws"]["CloudWatchMetrics"]
    names = [metric["Name"] for metric in directive["Metrics"]]
    assert names and all(METRIC_NAME.match(n) for n in names), names
    assert directive["Namespace"] == "skystream" and directive["Dimensions"] == [["service"]]
    assert blobs[0]["service"] == name
