"""The local stack as a whole: start, find, and stop the broker, the AWS endpoint and the functions.

``skystream up`` starts tansu behind its SASL/SCRAM front door, and moto's server, as child
processes (unless ``KAFKA_BOOTSTRAP_SERVERS`` / ``AWS_ENDPOINT_URL`` name existing ones),
creates what ``infra/template.yaml`` declares, and hosts the functions: an event-source runner
per Kafka trigger and the HTTP API. The functions log in to Kafka as on AWS with
``KAFKA_AUTH=scram``: their username and password are a Secrets Manager secret on the local
endpoint (``local.provision.FUNCTIONS_SECRET``), read through ``KAFKA_SCRAM_SECRET_ARN``.
What it started is written to ``.skystream/stack.json`` (pids and the secret's name, never a
password) so ``skystream down`` stops exactly that, by pid.

``skystream restart functions`` replaces only the function host (after it crashed, or to
load edited code) against the broker and endpoint recorded there, which keep running with
their data. Each trigger resumes from its consumer group's committed offsets: a batch that
was in flight is delivered again, nothing is skipped (see ``skystream.local.esm``).
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from skystream import wiring
from skystream.api.web_routes import WEB_PATH
from skystream.local.aws_endpoint import LOCAL_CREDENTIALS, LOCALSTACK_PORT, start_moto
from skystream.local.broker import Login, start_kafka
from skystream.local.esm import EventSourceRunner
from skystream.local.handlers import load_handler, repository_root, template_path
from skystream.local.http_api import LocalHttpApi
from skystream.local.kafka_config import client_config
from skystream.local.processes import pid_alive, port_open, spawn, stop_pid
from skystream.local.provision import FUNCTIONS_SECRET, provision, put_functions_secret
from skystream.local.template import LocalTemplate, load_template

DEFAULT_KAFKA_PORT = 9092
DEFAULT_API_PORT = 8000


def state_dir() -> Path:
    return Path(os.environ.get("SKYSTREAM_STATE_DIR") or repository_root() / ".skystream")


def local_template(bootstrap: str, *, scram_secret: str | None = None) -> LocalTemplate:
    """The template as the local stack deploys it: its broker, replication 1, users' credentials in the
    broker (``UserCredentials=kafka``), and SASL/SCRAM with ``scram_secret`` when given (the stack's own
    broker always; a broker named by ``KAFKA_BOOTSTRAP_SERVERS``: as :func:`named_broker_secret` says)."""
    auth = {"KafkaAuth": "scram", "KafkaScramSecretArn": scram_secret} if scram_secret else {"KafkaAuth": "none"}
    return load_template(
        template_path(),
        parameters={"KafkaBootstrapServers": bootstrap, "KafkaReplicationFactor": "-1", "UserCredentials": "kafka",
                    **auth},
    )


def named_broker_secret() -> str | None:
    """How to log in to a broker named by ``KAFKA_BOOTSTRAP_SERVERS`` (not started here): with the
    environment's ``KAFKA_SCRAM_SECRET_ARN`` when its ``KAFKA_AUTH`` says scram (another local stack's
    front door), else in plaintext."""
    if os.environ.get("KAFKA_AUTH", "").lower() == "scram":
        return os.environ.get("KAFKA_SCRAM_SECRET_ARN") or None
    return None


def local_environment(template: LocalTemplate, endpoint: str) -> dict[str, str]:
    """What a function sees locally: the template's environment, loopback endpoints, dummy credentials.

    Every variable ``skystream.config.settings`` requires is here (the template's Globals set
    all but the region, which the dummy credentials bring), none left to a default. With SCRAM,
    ``KAFKA_SECURITY_PROTOCOL`` says there is no TLS on loopback (on AWS it is unset: SASL_SSL).
    """
    scram = template.environment.get("KAFKA_AUTH") == "scram"
    local = {
        "KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT" if scram else "",  # "": the mode's usual (none: PLAINTEXT)
        # The history is queried by DuckDB in process (no Athena here), over files mirrored into a temporary
        # directory of this endpoint's own (two stacks on one machine never share a mirror).
        "HISTORY_ENGINE": "duckdb",
        "HISTORY_CACHE_DIR": history_cache_dir(endpoint),
    }
    return {
        **LOCAL_CREDENTIALS,
        **template.environment,
        **local,
        "AWS_ENDPOINT_URL": endpoint,
        "POWERTOOLS_TRACE_DISABLED": "true",
    }


def history_cache_dir(endpoint: str) -> str:
    """The local stack's mirror of the history's files (``HISTORY_CACHE_DIR``; ``/tmp/history`` in Lambda)."""
    tag = hashlib.sha256(endpoint.encode()).hexdigest()[:12]
    return str(Path(tempfile.gettempdir()) / f"skystream-history-{tag}")


def apply_environment(env: dict[str, str]) -> None:
    """Point this process at ``env``: settings re-read, every service built afresh (``skystream.wiring``)."""
    os.environ.update(env)
    wiring.reset()


class FunctionHost:
    """Hosts every function of the template in this process: Kafka triggers and the HTTP API."""

    def __init__(
        self,
        template: LocalTemplate,
        *,
        bootstrap: str,
        api_port: int | None = None,
        group_suffix: str = "",
        batching_window_s: float | None = None,
        only: set[str] | None = None,
    ):
        self.template = template
        self.runners: dict[str, EventSourceRunner] = {}
        self.api: LocalHttpApi | None = None
        kafka = client_config(bootstrap)  # the functions' login, as each trigger's SourceAccessConfigurations say
        kafka.pop("bootstrap.servers")
        for spec in template.functions.values():
            name = Path(spec.code_dir).name
            if only is not None and name not in only:
                continue
            for source in spec.kafka_sources:
                self.runners[name] = EventSourceRunner(
                    source,
                    load_handler(spec.code_dir, spec.handler),
                    bootstrap_servers=bootstrap,
                    kafka_config=kafka,
                    function_name=spec.logical_id,
                    group_id=source.consumer_group_id + group_suffix,
                    batching_window_s=batching_window_s,
                )
            if spec.http_api and api_port is not None:
                self.api = LocalHttpApi(load_handler(spec.code_dir, spec.handler), api_port, spec.logical_id)

    def start(self) -> FunctionHost:
        for runner in self.runners.values():
            runner.start(wait_assigned=False)
        for runner in self.runners.values():
            runner.wait_assigned(60)
        if self.api is not None:
            self.api.start()
        return self

    def stop(self) -> None:
        for runner in self.runners.values():
            runner.stop()
        if self.api is not None:
            self.api.stop()


@dataclass
class StackState:
    bootstrap: str
    endpoint: str
    api_url: str | None
    pids: dict[str, int] = field(default_factory=dict)
    kafka_secret: str | None = None  # the functions' SCRAM secret (a name on the local endpoint); None: plaintext

    def template(self) -> LocalTemplate:
        return local_template(self.bootstrap, scram_secret=self.kafka_secret)

    def save(self) -> None:
        state_dir().mkdir(parents=True, exist_ok=True)
        (state_dir() / "stack.json").write_text(json.dumps(asdict(self), indent=2))

    @classmethod
    def load(cls) -> StackState | None:
        path = state_dir() / "stack.json"
        return cls(**json.loads(path.read_text())) if path.is_file() else None


def _start_infrastructure(kafka_port: int, aws_port: int, log_dir: Path) -> tuple[StackState, Login | None]:
    """Start what the environment does not name; the functions' login when the broker is ours."""
    pids: dict[str, int] = {}
    login: Login | None = None
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if not bootstrap:
        if port_open(kafka_port):
            raise RuntimeError(f"port {kafka_port} is taken; run `skystream down`, or pass --kafka-port")
        kafka = start_kafka(kafka_port, log_dir)
        pids["kafka"], pids["kafka_front"] = kafka.tansu.pid, kafka.front.pid
        bootstrap, login = kafka.bootstrap, kafka.functions
    endpoint = os.environ.get("AWS_ENDPOINT_URL")
    if not endpoint:
        if port_open(aws_port):
            raise RuntimeError(f"port {aws_port} is taken; run `skystream down`, or pass --aws-port")
        pids["aws"] = start_moto(aws_port, log_dir / "aws.log").pid
        endpoint = f"http://127.0.0.1:{aws_port}"
    return (StackState(bootstrap=bootstrap, endpoint=endpoint, api_url=None, pids=pids,
                       kafka_secret=FUNCTIONS_SECRET if login else named_broker_secret()), login)


def page_url(api_url: str) -> str:
    """The web page's address on the API at ``api_url`` (``skystream/web/``, served by the API)."""
    return api_url.rstrip("/") + WEB_PATH


PAGE_HINT = "open it in a browser and sign in with a token (`skystream users add NAME EMAIL` prints one)"


def up(*, kafka_port: int = DEFAULT_KAFKA_PORT, aws_port: int = LOCALSTACK_PORT, api_port: int = DEFAULT_API_PORT,
       detach: bool = True, echo: Any = print) -> StackState:
    """Start the stack. Detached: returns once ready. Attached: serves until Ctrl-C, then stops it all."""
    existing = StackState.load()
    if existing and any(pid_alive(p) for p in existing.pids.values()):
        host = existing.pids.get("functions")
        if host is not None and not pid_alive(host):
            raise RuntimeError(
                f"the local stack's broker and endpoint are running but its function host (pid {host}) is not: "
                "`skystream restart functions` restarts only that (`skystream down` stops everything)"
            )
        raise RuntimeError("a local stack is already running (see `skystream status`); `skystream down` stops it")
    log_dir = state_dir() / "logs"
    state, login = _start_infrastructure(kafka_port, aws_port, log_dir)
    state.save()
    try:
        echo(f"kafka    {state.bootstrap}" + (" (SASL_PLAINTEXT, SCRAM-SHA-512)" if login else ""))
        echo(f"aws      {state.endpoint}")
        template = state.template()
        apply_environment(local_environment(template, state.endpoint))
        if login is not None:
            put_functions_secret(login)  # before anything logs in to Kafka through the settings
        made = provision(template)
        echo(f"created  {len(made.tables)} tables, {len(made.buckets)} bucket, topics {', '.join(made.topics)}")
        state.api_url = f"http://127.0.0.1:{api_port}"
        if detach:
            _spawn_functions(state, template, api_port)
            echo(f"api      {state.api_url}")
            echo(f"page     {page_url(state.api_url)}  ({PAGE_HINT})")
            echo("ready: `skystream status` to check, `skystream down` to stop")
            return state
        state.save()
        serve(api_port=api_port, echo=echo)  # until Ctrl-C or SIGTERM
        down(echo=echo)
        return state
    except BaseException:
        down(echo=lambda *_: None)
        raise


def _spawn_functions(state: StackState, template: LocalTemplate, api_port: int) -> int:
    """Start the detached function host, record its pid, and wait until its triggers and API are up."""
    (state_dir() / "functions.ready").unlink(missing_ok=True)
    process = spawn(
        [sys.executable, "-m", "skystream.local.serve", "--api-port", str(api_port)],
        log_path=state_dir() / "logs" / "functions.log",
        env={**local_environment(template, state.endpoint), "SKYSTREAM_STATE_DIR": str(state_dir())},
    )
    state.pids["functions"] = process.pid
    state.save()
    _wait_ready(process.pid, api_port)
    return process.pid


def _answers(address: str) -> bool:
    """Whether something listens at ``host:port`` or ``http://host:port`` (the first of a comma list)."""
    first = address.split(",")[0].strip()
    parts = urlsplit(first if "://" in first else f"tcp://{first}")
    return parts.port is not None and port_open(parts.port, parts.hostname or "127.0.0.1")


def restart_functions(echo: Any = print) -> StackState:
    """Replace the function host of the recorded stack, leaving its broker and endpoint (and data) alone.

    Stops the recorded host if it still runs (SIGTERM: it finishes its batch), makes sure the
    template's tables, bucket and topics exist (a restarted in-memory broker has lost its topics),
    and starts a new host on the same API port. Each trigger resumes from its committed offsets.
    """
    state = StackState.load()
    if state is None:
        raise RuntimeError(f"no local stack is recorded in {state_dir() / 'stack.json'}: "
                           "start one with `skystream up --detach`")
    silent = [f"{what} at {address}" for what, address in (("the Kafka broker", state.bootstrap),
                                                          ("the AWS endpoint", state.endpoint))
              if not _answers(address)]
    if silent:
        raise RuntimeError(f"cannot restart the functions: {' and '.join(silent)} do not answer; "
                           "`skystream down`, then `skystream up --detach`, starts a fresh stack")
    previous = state.pids.get("functions")
    if previous is None:
        ready = state_dir() / "functions.ready"
        foreground = int(ready.read_text()) if ready.is_file() and ready.read_text().strip().isdigit() else None
        if foreground is not None and pid_alive(foreground):
            raise RuntimeError(f"the functions run inside a foreground `skystream up` (pid {foreground}); "
                               "stop it with Ctrl-C and start it again, or use `skystream up --detach`")
    elif stop_pid(previous):
        echo(f"stopped  functions (pid {previous})")
    else:
        echo(f"the function host (pid {previous}) was not running")
    api_port = urlsplit(state.api_url).port if state.api_url else None
    api_port = api_port or DEFAULT_API_PORT
    if port_open(api_port):
        raise RuntimeError(f"port {api_port} (the API's) is taken by another process; stop it, then try again")
    template = state.template()
    apply_environment(local_environment(template, state.endpoint))
    provision(template)
    state.api_url = f"http://127.0.0.1:{api_port}"
    pid = _spawn_functions(state, template, api_port)
    echo(f"started  functions (pid {pid}) against kafka {state.bootstrap} and aws {state.endpoint}")
    echo(f"api      {state.api_url}")
    echo(f"page     {page_url(state.api_url)}")
    echo("each trigger resumes from its committed offsets: a batch in flight at a crash comes again, none is skipped")
    return state


def _wait_ready(pid: int, api_port: int) -> None:
    ready = state_dir() / "functions.ready"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if ready.is_file() and port_open(api_port):
            return
        if not pid_alive(pid):
            raise RuntimeError(f"the function host exited; see {state_dir() / 'logs' / 'functions.log'}")
        time.sleep(0.1)
    raise TimeoutError("the function host did not become ready within 120 s")


def serve(*, api_port: int, echo: Any = print) -> None:
    """Host the functions in this process until SIGTERM or Ctrl-C (the environment is already set)."""
    bootstrap = os.environ["KAFKA_BOOTSTRAP_SERVERS"]
    template = local_template(bootstrap, scram_secret=os.environ.get("KAFKA_SCRAM_SECRET_ARN") or None)
    host = FunctionHost(template, bootstrap=bootstrap, api_port=api_port).start()
    ready = state_dir() / "functions.ready"
    ready.write_text(str(os.getpid()))
    echo(f"functions: {', '.join(host.runners)} consuming; API on http://127.0.0.1:{api_port}")
    echo(f"page     {page_url(f'http://127.0.0.1:{api_port}')}  ({PAGE_HINT})")
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        while not stop.wait(0.5):
            pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        host.stop()
        ready.unlink(missing_ok=True)


def down(echo: Any = print) -> list[str]:
    """Stop what ``up`` started (functions first, then the endpoints). Returns what was stopped."""
    state = StackState.load()
    if state is None:
        echo("no local stack recorded; nothing to stop")
        return []
    stopped = [name for name in ("functions", "kafka_front", "kafka", "aws")
               if name in state.pids and stop_pid(state.pids[name])]
    (state_dir() / "stack.json").unlink(missing_ok=True)
    (state_dir() / "functions.ready").unlink(missing_ok=True)
    echo(f"stopped: {', '.join(stopped) or 'nothing was running'}")
    return stopped


def status() -> dict[str, Any]:
    state = StackState.load()
    if state is None:
        return {"running": False}
    components = {name: pid_alive(pid) for name, pid in state.pids.items()}
    answering = {"kafka": _answers(state.bootstrap), "aws": _answers(state.endpoint)}
    return {"running": all(components.values()) and bool(components), **asdict(state), "alive": components,
            "answering": answering}


def use_running_stack() -> StackState:
    """Point this process at the running local stack (for CLI commands); explains how to start one."""
    state = StackState.load()
    stopped = sorted(name for name, pid in state.pids.items() if not pid_alive(pid)) if state else []
    if state is not None and stopped == ["functions"] and _answers(state.bootstrap) and _answers(state.endpoint):
        raise RuntimeError("the local stack's function host is not running: `skystream restart functions` restarts it")
    if state is None or (stopped and len(stopped) == len(state.pids)):
        raise RuntimeError("no local stack is running: start one with `skystream up --detach`")
    if stopped:
        raise RuntimeError(f"the local stack is broken ({', '.join(stopped)} stopped): "
                           "`skystream down`, then `skystream up --detach`")
    apply_environment(local_environment(state.template(), state.endpoint))
    return state

