"""``skystream alerts generate | replay | show``: synthetic alerts to a file or the local stack, and a reader."""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fastavro
from confluent_kafka import Producer

from skystream.alerts.lightcurve import detections, forced_sources
from skystream.alerts.schema_files import LATEST_VERSION, SCHEMA_VERSIONS, parsed_schema
from skystream.alerts.wire import decode_alert, encode_alert
from skystream.config import settings
from skystream.devtools.generator import KINDS, generate_alerts
from skystream.features import objects_row
from skystream.local.stack import use_running_stack
from skystream.streams.config import client_config


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return None  # cutouts are not printable; JSON alerts carry them as null
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _generate_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    return {"seed": args.seed, "schema_version": args.schema, "kinds": args.kind or None,
            "detections": args.detections, "solar_system_fraction": args.solar_system}


def _generate(args: argparse.Namespace) -> int:
    alerts = generate_alerts(args.count, **_generate_kwargs(args))
    out = Path(args.out)
    if out.suffix in {".json", ".jsonl"}:
        with out.open("w") as f:
            for alert in alerts:
                f.write(json.dumps(alert, default=_json_default) + "\n")
    else:
        with out.open("wb") as f:
            fastavro.writer(f, parsed_schema(args.schema), alerts, codec="deflate")
    print(f"wrote {len(alerts)} schema {args.schema} alerts (seed {args.seed}) to {out}")
    return 0


def _progress(total: int, what: str) -> Any:
    try:
        from tqdm import tqdm
    except ImportError:  # the [local] extra brings tqdm; without it, no bar
        return None
    return tqdm(total=total, unit="alert", desc=what, file=sys.stderr)


def _replay(args: argparse.Namespace) -> int:
    if not os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        use_running_stack()
    cfg = settings()
    if args.file:
        values = [encode_alert(alert, version) for alert, version in _read_alerts(Path(args.file))]
    else:
        values = [encode_alert(a, args.schema) for a in generate_alerts(args.count, **_generate_kwargs(args))]
    # As the relay writes `alerts`: logged in as the functions (KAFKA_AUTH, KAFKA_SCRAM_SECRET_ARN).
    producer = Producer(client_config(cfg, **{"enable.idempotence": True, "linger.ms": 10,
                                              "compression.type": "zstd"}))
    bar = _progress(len(values), f"-> {cfg.topic_alerts}")
    failures: list[str] = []

    def delivered(err: Any, _msg: Any) -> None:
        if err is not None:
            failures.append(str(err))
        elif bar is not None:
            bar.update(1)

    start = time.monotonic()
    for index, value in enumerate(values):
        if args.rate:  # a steady rate: alert i leaves at start + i / rate
            delay = start + index / args.rate - time.monotonic()
            if delay > 0:
                producer.poll(delay)
        while True:
            try:
                producer.produce(cfg.topic_alerts, value=value, on_delivery=delivered)
                break
            except BufferError:
                producer.poll(0.1)
        producer.poll(0)
    remaining = producer.flush(60)
    if bar is not None:
        bar.close()
    if remaining or failures:
        print(f"{len(failures)} alerts failed and {remaining} were not acknowledged: {failures[:3]}", file=sys.stderr)
        return 1
    print(f"produced {len(values)} alerts to '{cfg.topic_alerts}' at {cfg.kafka_bootstrap_servers}")
    return 0


def _read_alerts(path: Path) -> Iterator[tuple[dict[str, Any], str]]:
    """Alerts in a file: an Avro container file, one wire-format message, JSON, or JSON lines."""
    data = path.read_bytes()
    if data.startswith(b"Obj\x01"):
        reader = fastavro.reader(io.BytesIO(data))
        version = decode_alert(data).schema_version
        for alert in reader:
            yield alert, version
    elif data[:1] == b"\x00" or (data.lstrip()[:1] == b"{" and b"\n{" not in data.strip()):
        decoded = decode_alert(data)
        yield decoded.alert, decoded.schema_version
    else:
        for line in data.splitlines():
            if line.strip():
                decoded = decode_alert(line)
                yield decoded.alert, decoded.schema_version


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.10g}"
    return str(value)


def describe_alert(alert: dict[str, Any], version: str) -> str:
    """A person-readable page: identity, lightcurve table, and the computed objects row."""
    lines = []
    obj = alert.get("diaObject")
    source = alert["diaSource"]
    if obj is None:
        lines.append(f"solar-system alert (no diaObject; skipped by the broker)  schema {version}")
        lines.append(f"diaSourceId {alert['diaSourceId']}  ssObjectId {source.get('ssObjectId')}")
        return "\n".join(lines)
    lines.append(f"diaObjectId {obj['diaObjectId']}   diaSourceId {alert['diaSourceId']}   schema {version}")
    lines.append(f"ra {obj['ra']:.6f}  dec {obj['dec']:.6f}   nDiaSources {obj.get('nDiaSources')}")
    dets, forced = detections(alert), forced_sources(alert)
    lines.append(f"\n{len(dets)} detections, {len(forced)} forced points (newest first, up to 15 shown)")
    lines.append(f"{'MJD TAI':>14} {'band':>4} {'psfFlux nJy':>12} {'err':>9} {'S/N':>6} {'reliab.':>7}")
    for s in dets[:15]:
        flux, err = s.get("psfFlux"), s.get("psfFluxErr")
        snr = f"{flux / err:6.1f}" if flux is not None and err else "     -"
        rel = s.get("reliability")
        lines.append(f"{s['midpointMjdTai']:14.5f} {s.get('band') or '-':>4} {_fmt(flux):>12} {_fmt(err):>9} {snr} "
                     f"{'-' if rel is None else f'{rel:7.3f}'}")
    row = objects_row(alert)
    lines.append("\nobjects row (non-NULL columns)")
    for name, value in row.items():
        if value is not None:
            lines.append(f"  {name:28s} {_fmt(value)}")
    nulls = [name for name, value in row.items() if value is None]
    lines.append(f"  NULL: {', '.join(nulls)}")
    return "\n".join(lines)


def _show(args: argparse.Namespace) -> int:
    for shown, (alert, version) in enumerate(_read_alerts(Path(args.file))):
        if shown >= args.limit:
            break
        if args.json:
            cleaned = {k: v for k, v in alert.items() if not k.startswith("cutout")}
            print(json.dumps({"schema_version": version, "alert": cleaned}, indent=2, default=_json_default))
        else:
            print(("\n" + "=" * 78 + "\n") if shown else "", end="")
            print(describe_alert(alert, version))
    return 0


def _add_generation_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--count", "-n", type=int, default=100, help="how many alerts (default 100)")
    parser.add_argument("--seed", type=int, default=0, help="random seed: same seed, same alerts (default 0)")
    parser.add_argument("--schema", choices=SCHEMA_VERSIONS, default=LATEST_VERSION,
                        help=f"Rubin alert schema version (default {LATEST_VERSION})")
    parser.add_argument("--kind", action="append", choices=KINDS,
                        help="only this lightcurve kind (repeatable; default a mix)")
    parser.add_argument("--detections", type=int, help="exactly this many detections per alert")
    parser.add_argument("--solar-system", type=float, default=0.0, metavar="FRACTION",
                        help="fraction of solar-system alerts (no diaObject; the broker skips them)")


def register(subparsers: argparse._SubParsersAction) -> None:
    alerts = subparsers.add_parser("alerts", help="generate synthetic Rubin alerts, replay them, show an alert file")
    commands = alerts.add_subparsers(dest="alerts_command", metavar="ACTION", required=True)

    generate = commands.add_parser(
        "generate", help="write synthetic alerts to a file",
        description="Schema-valid alerts with plausible lightcurves (supernova, periodic, AGN-like, flat, bogus). "
        "FILE.avro: an Avro container file; FILE.json or FILE.jsonl: one JSON alert per line.",
        epilog="example: skystream alerts generate --count 1000 --seed 1 --schema 10.0 --out alerts.avro",
    )
    _add_generation_options(generate)
    generate.add_argument("--out", "-o", required=True, help="output file (.avro, .json or .jsonl)")
    generate.set_defaults(func=_generate)

    replay = commands.add_parser(
        "replay", help="produce alerts to the local stack's alerts topic (progress bar)",
        description="Produce generated alerts (or those of --file) in the Confluent wire format to the `alerts` "
        "topic of the running local stack (or of KAFKA_BOOTSTRAP_SERVERS).",
        epilog="example: skystream up --detach && skystream alerts replay --count 500",
    )
    _add_generation_options(replay)
    replay.add_argument("--file", help="replay the alerts of this file instead of generating")
    replay.add_argument("--rate", type=float, default=0.0, metavar="PER_SECOND",
                        help="produce at this steady rate (default: as fast as possible)")
    replay.set_defaults(func=_replay)

    show = commands.add_parser("show", help="print the alerts of a file readably (with their features)")
    show.add_argument("file", help="an Avro container file, a wire-format message, JSON or JSON lines")
    show.add_argument("--limit", type=int, default=5, help="show at most this many alerts (default 5)")
    show.add_argument("--json", action="store_true", help="print the decoded alert as JSON (no cutouts)")
    show.set_defaults(func=_show)
