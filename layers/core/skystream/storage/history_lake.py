"""The history on S3: Parquet files by table and night (``skystream.history.schema``), and a local mirror.

One class serves the writer (:class:`~skystream.ports.HistoryWriter`: write a file locally with
``history.parquet``, one PUT), the local engine (:class:`~skystream.ports.HistoryFiles`: the nights, and
a local directory laid out as the table is on S3) and compaction (:class:`~skystream.ports.HistoryStore`).

The files live in the archive bucket (``ALERTS_BUCKET``) under ``history/``: one bucket to secure and
price, its lifecycle rule scoped to ``alerts/`` so history files stay in Standard (Athena reads them).

The mirror (``local_dir``) is a cache directory (``HISTORY_CACHE_DIR``: ``/tmp/history`` in Lambda, a
temporary directory of the local stack): each call lists the table's keys, downloads only the keys it
does not hold with the same ETag, and deletes local files whose key is gone (compaction replaced them).
A file is downloaded beside its final name and renamed, so a reader never sees half a file.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
import uuid
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from skystream.aws import client
from skystream.domain.objects import HistoryFile
from skystream.history.parquet import write_parquet
from skystream.history.schema import HISTORY_TABLES, HistoryTable
from skystream.storage.bulk import chunks

_NIGHT = re.compile(r"night=(-?\d+)/")
_MANIFEST = ".etags.json"
DOWNLOAD_WORKERS = 8
DELETE_BATCH = 1000  # DeleteObjects' limit


def _table(name: str) -> HistoryTable:
    try:
        return HISTORY_TABLES[name]
    except KeyError:
        raise ValueError(f"no history table {name!r}; the tables are {', '.join(HISTORY_TABLES)}") from None


def _night_of_key(key: str) -> int | None:
    found = _NIGHT.search(key)
    return int(found.group(1)) if found else None


class HistoryLake:
    """The history tables in ``bucket`` (under ``history/``), mirrored into ``cache_dir`` for local reads."""

    def __init__(self, bucket: str, cache_dir: str, *, s3: Any = None):
        self.bucket = bucket
        self.cache_dir = Path(cache_dir)
        self._s3 = s3 or client("s3")

    # -- writing ----------------------------------------------------------------------------------
    def key(self, table: str, night: int, name: str) -> str:
        if not name or "/" in name:
            raise ValueError(f"a history file name is one path segment, not {name!r}")
        return f"{_table(table).night_prefix(int(night))}{name}.parquet"

    def append(self, table: str, night: int, rows: Sequence[Mapping[str, Any]], *, name: str) -> str:
        """Write ``rows`` as one Parquet file and put it (the same ``name`` overwrites: a redelivered batch)."""
        spec = _table(table)
        with tempfile.TemporaryDirectory(prefix="history-") as tmp:
            path = os.path.join(tmp, "rows.parquet")
            count = write_parquet(spec, rows, path)
            return self._put(self.key(table, night, name), path, count)

    def upload(self, table: str, night: int, name: str, path: str) -> str:
        return self._put(self.key(table, night, name), path, None)

    def _put(self, key: str, path: str, rows: int | None) -> str:
        metadata = {} if rows is None else {"rows": str(rows)}
        with open(path, "rb") as body:
            self._s3.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType="application/vnd.apache.parquet",
                                Metadata=metadata)
        return key

    def delete(self, keys: Sequence[str]) -> None:
        for chunk in chunks(keys, DELETE_BATCH):
            answer = self._s3.delete_objects(Bucket=self.bucket,
                                             Delete={"Objects": [{"Key": k} for k in chunk], "Quiet": True})
            errors = answer.get("Errors") or []
            if errors:
                first = errors[0]
                raise OSError(f"s3://{self.bucket}: {len(errors)} history file(s) not deleted, e.g. "
                              f"{first.get('Key')}: {first.get('Code')} {first.get('Message')}")

    # -- listing ----------------------------------------------------------------------------------
    def _pages(self, **request: Any) -> Iterator[dict[str, Any]]:
        yield from self._s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, **request)

    def nights(self, table: str) -> list[int]:
        """The nights holding files of ``table``, newest first (one listing by prefix and delimiter)."""
        found: set[int] = set()
        for page in self._pages(Prefix=_table(table).prefix(), Delimiter="/"):
            for entry in page.get("CommonPrefixes") or ():
                night = _night_of_key(entry["Prefix"])
                if night is not None:
                    found.add(night)
        return sorted(found, reverse=True)

    def files(self, table: str, night: int | None = None) -> list[HistoryFile]:
        spec = _table(table)
        prefix = spec.prefix() if night is None else spec.night_prefix(int(night))
        out: list[HistoryFile] = []
        for page in self._pages(Prefix=prefix):
            for item in page.get("Contents") or ():
                key = item["Key"]
                found = _night_of_key(key)
                if found is None or not key.endswith(".parquet"):
                    continue
                out.append(HistoryFile(key=key, night=found, size=int(item.get("Size", 0)),
                                       etag=str(item.get("ETag", "")).strip('"')))
        return sorted(out, key=lambda f: f.key)

    # -- the local mirror -------------------------------------------------------------------------
    def download(self, key: str, path: str) -> None:
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f"{target.name}.{uuid.uuid4().hex[:12]}.part")  # two readers never share one
        self._s3.download_file(self.bucket, key, str(partial))
        os.replace(partial, target)

    def local_dir(self, table: str) -> str:
        """``{cache_dir}/{table}``, holding exactly the table's files now on S3 (``night=N/name.parquet``)."""
        spec = _table(table)
        root = self.cache_dir / spec.name
        root.mkdir(parents=True, exist_ok=True)
        manifest_path = root / _MANIFEST
        try:
            held: dict[str, str] = json.loads(manifest_path.read_text())
        except (OSError, ValueError):
            held = {}
        wanted = {f.key: f for f in self.files(table)}

        def local(key: str) -> Path:
            return root / key.removeprefix(spec.prefix())

        held = {key: etag for key, etag in held.items() if key in wanted}  # the files themselves: below
        fetch = [f for f in wanted.values() if held.get(f.key) != f.etag or not local(f.key).is_file()]
        if fetch:
            workers = min(DOWNLOAD_WORKERS, len(fetch))
            with ThreadPoolExecutor(max_workers=workers) as pool:
                list(pool.map(lambda f: self.download(f.key, str(local(f.key))), fetch))
            held.update({f.key: f.etag for f in fetch})
        for path in root.glob("night=*/*.parquet"):  # gone from S3 (compacted away), or of an earlier run: stale
            key = spec.prefix() + str(path.relative_to(root)).replace(os.sep, "/")
            if key not in wanted:
                path.unlink()
        for night_dir in root.glob("night=*"):
            with contextlib.suppress(OSError):
                night_dir.rmdir()  # only when empty
        partial_manifest = manifest_path.with_name(f"{_MANIFEST}.{uuid.uuid4().hex[:12]}.part")
        partial_manifest.write_text(json.dumps(held))
        os.replace(partial_manifest, manifest_path)
        return str(root)

