"""The history's writer: bytes per alert, alerts per second on one core, files per night.

Alerts from the generator go through ingest's pure part (``services.ingest.enrich``); their full alerts are
archived as ingest archives them (``storage.archive.AlertArchive``, one object per 500) in moto's in-process
S3; the enriched records (pointers, not alerts) then go through the real writer service
(``services.history_writer.HistoryWriterService`` with ``storage.history_lake.HistoryLake``) in batches.

1. **Bytes per alert**: each table's Parquet bytes (zstd) divided by the alerts written, and the total.
   Baseline in the same run: the enriched record's bytes (what ``alerts-enriched`` carries per alert) and the
   archived member's (the full alert, gzip'd wire form).
2. **Throughput** (CPU seconds of this process, one thread for DuckDB): the whole service per batch, and its
   parts measured apart on the same records: decoding the enriched records, reading the full alerts back
   from the archive, building the rows, writing the three Parquet files (no S3). The ratio is the service's
   rate against decoding alone.
3. **Files per night**: the writer makes one file per (table, night) per batch. Measured: the alerts written
   in batches of ``--batch`` give that many files per table, and ``skystream history compact`` makes them one.
   Computed for Rubin's rate (10 million alerts a night): batches close at 10,000 records or 300 s, whichever
   first (the template's trigger).
4. **A month at Rubin's rate, priced** (the prices of ``benchmarks/cost.py``; Lambda $0.0000166667 per
   GB-second, Athena $5 per TB scanned, 10 MB minimum a query): S3 storage (the history stays in Standard: the
   bucket's Glacier rule covers ``alerts/`` only), PUTs of the writer's files and compaction's, the writer's
   Lambda time at the rate measured here (one core: a 1,769 MB function has one vCPU), and what one query
   scans: the bytes of the columns it reads, measured per column in the compacted ``objects_history`` files
   (Parquet is columnar: Athena reads only those), for a filter reading three columns plus the three that
   rank an object's rows (run over every object) over a month and a year, and over one night (a backtest).

    .venv/bin/python benchmarks/history_write.py [--alerts N] [--batch B] [--quick]

Human-readable figures, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "layers" / "core"))

from moto import mock_aws

from skystream.local.aws_endpoint import LOCAL_CREDENTIALS
from skystream.local.stack import local_template

# The functions' environment as the template sets it (nothing listens at the broker: no Kafka here); S3 is moto's.
os.environ.update({**LOCAL_CREDENTIALS, **local_template("127.0.0.1:1").environment})
os.environ.pop("AWS_ENDPOINT_URL", None)

from skystream import aws
from skystream.alerts.enriched import EnrichedRecord
from skystream.alerts.wire import decode_alert, encode_alert
from skystream.devtools.generator import generate_alerts
from skystream.domain.objects import AlertToArchive
from skystream.domain.records import KafkaRecord
from skystream.history.parquet import write_parquet
from skystream.history.rows import BatchRows, alert_rows
from skystream.history.schema import HISTORY_TABLES
from skystream.services.history_compaction import HistoryCompaction
from skystream.services.history_writer import HistoryWriterService
from skystream.services.ingest import enrich
from skystream.storage.archive import AlertArchive, pack_alerts
from skystream.storage.history_lake import HistoryLake

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cost import NIGHTS, PRICES

BUCKET = "bench-history"
LAMBDA_GB_SECOND = 0.0000166667  # x86, us-east-1
WRITER_MEMORY_GB = 1769 / 1024  # the template's HistoryWriterFunction
ATHENA_PER_TB = 5.0
ATHENA_MIN_BYTES = 10 * 1024**2
TYPICAL_FILTER_COLUMNS = ("nDiaSources", "r_psfFluxMean", "decl")  # what a typical filter reads
RANKING_COLUMNS = ("diaObjectId", "alertMjdTai", "diaSourceId")  # what "the latest row of every object" reads
RUBIN_ALERTS_PER_NIGHT = 10_000_000
RUBIN_NIGHT_HOURS = 10
TEMPLATE_BATCH, TEMPLATE_WINDOW_S = 10_000, 300


class NoDeadLetters:
    def send(self, record: KafkaRecord, reason: str, stage: str) -> str:
        raise AssertionError(f"the benchmark's records are all good: {record.position}: {reason}")

    def flush(self) -> None:
        pass


def _cpu(fn) -> tuple[float, object]:
    start = time.process_time()
    out = fn()
    return time.process_time() - start, out


def run(alerts_count: int, batch: int) -> dict[str, object]:
    decoded_alerts = [decode_alert(encode_alert(a)) for a in generate_alerts(alerts_count, seed=71)]
    alerts = [d.alert for d in decoded_alerts]
    with mock_aws():
        aws.reset_clients()
        aws._client.cache_clear()
        aws.client("s3").create_bucket(Bucket=BUCKET)
        archive = AlertArchive(BUCKET)
        records: list[KafkaRecord] = []
        member_bytes = 0
        for start in range(0, len(alerts), 500):  # as ingest archives: one object per batch of 500
            chunk = alerts[start:start + 500]
            entries = [AlertToArchive("11.1", wire=d.without_cutouts) for d in decoded_alerts[start:start + 500]]
            member_bytes += len(pack_alerts(entries).body)
            pointers = archive.put_batch(entries)
            for a, p in zip(chunk, pointers, strict=True):
                value = enrich(a, "11.1").model_copy(update={"alert": None, "alert_pointer": p}).to_bytes()
                records.append(KafkaRecord("alerts-enriched", 0, len(records), value))
        enriched_bytes = sum(len(r.value) for r in records)

        with tempfile.TemporaryDirectory() as cache:
            lake = HistoryLake(BUCKET, cache)
            service = HistoryWriterService(lake, archive, NoDeadLetters())
            batches = [records[i:i + batch] for i in range(0, len(records), batch)]
            # warm up imports and the first DuckDB connection outside the timing
            HistoryWriterService(HistoryLake(BUCKET + "-warm", cache, s3=_NullS3()), archive,
                                 NoDeadLetters()).process(records[:20])
            service_s = 0.0
            for b in batches:
                seconds, _ = _cpu(lambda b=b: service.process(b))
                service_s += seconds
            sizes = {name: sum(f.size for f in lake.files(name)) for name in HISTORY_TABLES}
            files_before = {name: len(lake.files(name)) for name in HISTORY_TABLES}
            nights = {name: len(lake.nights(name)) for name in HISTORY_TABLES}

            # the parts, apart, on the same records
            decode_s, decoded = _cpu(lambda: [EnrichedRecord.from_bytes(r.value) for r in records])
            read_s, fulls = _cpu(lambda: archive.get_many([e.alert_pointer for e in decoded]))
            def build() -> BatchRows:
                out = BatchRows()
                for e in decoded:
                    out.add(alert_rows(e.objects, fulls[e.alert_pointer][0]))
                return out
            rows_s, built = _cpu(build)
            rows = {name: built.count(name) for name in HISTORY_TABLES}

            def write_all() -> None:
                with tempfile.TemporaryDirectory() as out:
                    for i, ((table, _night), table_rows) in enumerate(built.by_file.items()):
                        write_parquet(HISTORY_TABLES[table], table_rows, os.path.join(out, f"{i}.parquet"))
            parquet_s, _ = _cpu(write_all)

            compact_s, report = _cpu(lambda: HistoryCompaction(lake).compact())
            files_after = {name: len(lake.files(name)) for name in HISTORY_TABLES}
            sizes_after = {name: sum(f.size for f in lake.files(name)) for name in HISTORY_TABLES}
            column_bytes = _column_bytes(lake.local_dir("objects_history"))
    aws.reset_clients()
    aws._client.cache_clear()

    n = len(alerts)
    per_alert = {name: sizes[name] / n for name in HISTORY_TABLES}
    per_alert_total = sum(per_alert.values())
    rate = n / service_s
    decode_rate = n / decode_s
    alerts_per_s_rubin = RUBIN_ALERTS_PER_NIGHT / (RUBIN_NIGHT_HOURS * 3600)
    per_call = min(TEMPLATE_BATCH, alerts_per_s_rubin * TEMPLATE_WINDOW_S)
    rubin_files = math.ceil(RUBIN_ALERTS_PER_NIGHT / per_call)
    rubin_file_mb = per_call * per_alert_total / 1e6

    print(f"history write: {n} alerts ({rows['forced_photometry']} new forced points), batches of {batch}; "
          f"python {platform.python_version()}, {platform.machine()}")
    print("\n1. bytes per alert (Parquet, zstd)")
    for name in HISTORY_TABLES:
        print(f"   {name:18s} {per_alert[name]:8.0f} B  ({sizes[name] / 1e6:.2f} MB, {rows[name]} rows)")
    print(f"   {'total':18s} {per_alert_total:8.0f} B")
    print(f"   baseline: the enriched record {enriched_bytes / n:.0f} B, the archived full alert {member_bytes / n:.0f} B "
          f"per alert; the history is {per_alert_total / (member_bytes / n):.2f}x the archive")
    print(f"   after compaction: {sum(sizes_after.values()) / n:.0f} B per alert")
    print("\n2. throughput, one core (CPU seconds of this process)")
    print(f"   writer service, whole batches:   {rate:9.0f} alerts/s")
    print(f"   decode enriched records alone:   {decode_rate:9.0f} alerts/s  (baseline; service = "
          f"{rate / decode_rate:.2f}x of it)")
    print(f"   archive read (full alerts):      {n / read_s:9.0f} alerts/s")
    print(f"   rows of the three tables:        {n / rows_s:9.0f} alerts/s")
    print(f"   three Parquet files (no S3):     {n / parquet_s:9.0f} alerts/s")
    print(f"   compaction of everything:        {n / compact_s:9.0f} alerts/s")
    print("\n3. files per night")
    print(f"   measured: {len(batches)} batches of {batch} over {nights['objects_history']} night(s) -> "
          + ", ".join(f"{k} {v}" for k, v in files_before.items()) + " files; after compaction "
          + ", ".join(f"{k} {v}" for k, v in files_after.items()))
    print(f"   Rubin ({RUBIN_ALERTS_PER_NIGHT / 1e6:.0f} M alerts in {RUBIN_NIGHT_HOURS} h, {alerts_per_s_rubin:.0f}/s): "
          f"a call holds {per_call:.0f} alerts -> {rubin_files} files per table a night, "
          f"{rubin_file_mb:.1f} MB each on average (all tables); after compaction 1 per table "
          f"({RUBIN_ALERTS_PER_NIGHT * per_alert_total / 1e9:.1f} GB a night)")
    priced = _monthly(sum(sizes_after.values()) / n, rate, rubin_files, {c: b / n for c, b in column_bytes.items()})
    return {**priced, "alerts": n, "batch": batch, "bytes_per_alert": {k: round(v, 1) for k, v in per_alert.items()},
            "bytes_per_alert_total": round(per_alert_total, 1), "enriched_bytes_per_alert": round(enriched_bytes / n, 1),
            "archive_bytes_per_alert": round(member_bytes / n, 1), "writer_alerts_per_s": round(rate, 1),
            "decode_alerts_per_s": round(decode_rate, 1), "ratio_vs_decode": round(rate / decode_rate, 3),
            "archive_read_alerts_per_s": round(n / read_s, 1), "rows_alerts_per_s": round(n / rows_s, 1),
            "parquet_alerts_per_s": round(n / parquet_s, 1), "compaction_alerts_per_s": round(n / compact_s, 1),
            "files_before": files_before, "files_after": files_after, "compacted_nights": len(report.compacted),
            "rubin_files_per_table_night": rubin_files, "rubin_mb_per_file": round(rubin_file_mb, 2)}


def _column_bytes(directory: str) -> dict[str, int]:
    """Compressed bytes of each column over the files (Parquet's own metadata: what a columnar reader reads)."""
    import duckdb

    con = duckdb.connect()
    try:
        found = con.execute("SELECT path_in_schema, sum(total_compressed_size) FROM parquet_metadata(?) GROUP BY 1",
                            [os.path.join(directory, "*", "*.parquet")]).fetchall()
    finally:
        con.close()
    return {str(name): int(size) for name, size in found}


def _monthly(bytes_per_alert: float, writer_alerts_per_s: float, files_per_table_night: int,
             column_bytes_per_alert: dict[str, float]) -> dict[str, float]:
    """Section 4: a month (``NIGHTS`` nights of ``RUBIN_ALERTS_PER_NIGHT``) priced, and what queries scan."""
    month_alerts = RUBIN_ALERTS_PER_NIGHT * NIGHTS
    tables = len(HISTORY_TABLES)
    gb_month = month_alerts * bytes_per_alert / 1024**3
    storage_first, storage_year = gb_month * PRICES["s3_standard_gb_month"], 12 * gb_month * PRICES["s3_standard_gb_month"]
    puts = (files_per_table_night + 1) * tables * NIGHTS  # the writer's files, then one compacted file a table a night
    gets = files_per_table_night * tables * NIGHTS  # compaction reads each file once
    put_cost = puts * PRICES["s3_put_per_1000"] / 1000 + gets * PRICES["s3_get_per_1000"] / 1000
    lambda_cost = month_alerts / writer_alerts_per_s * WRITER_MEMORY_GB * LAMBDA_GB_SECOND
    filter_bytes = sum(column_bytes_per_alert.get(c, 0.0) for c in TYPICAL_FILTER_COLUMNS)
    rank_bytes = sum(column_bytes_per_alert.get(c, 0.0) for c in RANKING_COLUMNS)

    def query(alerts: int, per_alert: float) -> tuple[float, float]:
        scanned = max(alerts * per_alert, ATHENA_MIN_BYTES)
        return scanned / 1e9, scanned / 1e12 * ATHENA_PER_TB

    run_month, run_month_cost = query(month_alerts, filter_bytes + rank_bytes)
    run_year, run_year_cost = query(12 * month_alerts, filter_bytes + rank_bytes)
    night_gb, night_cost = query(RUBIN_ALERTS_PER_NIGHT, filter_bytes + column_bytes_per_alert.get("diaSourceId", 0.0))
    print(f"\n4. a month at {RUBIN_ALERTS_PER_NIGHT / 1e6:.0f} M alerts a night, {NIGHTS} nights (prices of cost.py)")
    print(f"   S3 storage: {gb_month:,.0f} GB added a month (compacted): ${storage_first:,.2f} the first month, "
          f"${storage_year:,.2f} a month once a year is kept (it grows by ${storage_first:,.2f} a month)")
    print(f"   S3 requests: {puts:,} PUTs and {gets:,} GETs (writer + compaction): ${put_cost:,.2f}")
    print(f"   writer Lambda: {month_alerts / writer_alerts_per_s / 3600:,.0f} hours at {writer_alerts_per_s:.0f} "
          f"alerts/s x {WRITER_MEMORY_GB:.2f} GB: ${lambda_cost:,.2f}")
    print(f"   Athena, a filter on {', '.join(TYPICAL_FILTER_COLUMNS)} ({filter_bytes:.1f} B an alert; ranking "
          f"{rank_bytes:.1f} B more): run over every object on a month {run_month:,.1f} GB (${run_month_cost:,.3f}), "
          f"on a year {run_year:,.1f} GB (${run_year_cost:,.2f}); a one-night backtest {night_gb:,.2f} GB "
          f"(${night_cost:,.4f})")
    print(f"   total for the month, without queries: ${storage_first + put_cost + lambda_cost:,.2f}")
    return {"gb_per_month": round(gb_month, 1), "storage_first_month_usd": round(storage_first, 2),
            "storage_after_a_year_usd": round(storage_year, 2), "s3_requests_usd": round(put_cost, 2),
            "writer_lambda_usd": round(lambda_cost, 2), "filter_bytes_per_alert": round(filter_bytes, 2),
            "ranking_bytes_per_alert": round(rank_bytes, 2), "athena_run_all_month_usd": round(run_month_cost, 4),
            "athena_run_all_year_usd": round(run_year_cost, 3), "athena_backtest_night_usd": round(night_cost, 5)}


class _NullS3:
    """Swallows the warm-up batch's requests."""

    def put_object(self, **_: object) -> dict:
        return {}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--alerts", type=int, default=5000)
    parser.add_argument("--batch", type=int, default=1000, help="records per writer call (the template: 10,000)")
    parser.add_argument("--quick", action="store_true", help="1,000 alerts in batches of 250")
    args = parser.parse_args()
    if args.quick:
        args.alerts, args.batch = 1000, 250
    result = run(args.alerts, args.batch)
    print(json.dumps({"benchmark": "history_write", "baseline": "decoding the enriched records alone", **result}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
