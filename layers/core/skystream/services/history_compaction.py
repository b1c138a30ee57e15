"""Compaction: a night's small history files rewritten as one sorted file.

The writer makes one file per (table, night) per batch; with the template's 300 s window that is a
few hundred files per table a night at Rubin's rate (``benchmarks/history_write.py``). Engines pay per
file opened (a GET each on S3, a footer read each), so once a night is over its files are merged:

1. download the night's files, merge them (``history.parquet.merge_parquet``: one row per unique key,
   sorted by the table's sort key) into one file;
2. upload it under a name derived from the files it replaces (``compacted-<hash>``), so a compaction
   interrupted and run again writes the same key;
3. only then delete the files it replaces.

Between 2 and 3 a reader may see both; readers deduplicate by the table's unique key
(``history.schema``), so the answer is the same. A night with fewer than ``min_files`` files is left alone.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from skystream.history.parquet import merge_parquet, row_counts
from skystream.history.schema import HISTORY_TABLES
from skystream.ports import HistoryStore

COMPACTED_PREFIX = "compacted-"


@dataclass
class NightCompaction:
    table: str
    night: int
    files_before: int
    bytes_before: int
    rows: int = 0
    bytes_after: int = 0
    key: str = ""
    skipped: str = ""  # why nothing was done, when nothing was


@dataclass
class NightStatus:
    table: str
    night: int
    files: int
    rows: int
    bytes: int


@dataclass
class CompactionReport:
    nights: list[NightCompaction] = field(default_factory=list)

    @property
    def compacted(self) -> list[NightCompaction]:
        return [n for n in self.nights if not n.skipped]


def compacted_name(keys: Iterable[str]) -> str:
    """The merged file's name: the same set of files always gives the same name."""
    return COMPACTED_PREFIX + hashlib.sha256("\n".join(sorted(keys)).encode()).hexdigest()[:20]


class HistoryCompaction:
    """Compacts and describes the history in ``store``."""

    def __init__(self, store: HistoryStore):
        self.store = store

    def _tables(self, table: str | None) -> list[str]:
        if table is None:
            return list(HISTORY_TABLES)
        if table not in HISTORY_TABLES:
            raise ValueError(f"no history table {table!r}; the tables are {', '.join(HISTORY_TABLES)}")
        return [table]

    def plan(self, *, table: str | None = None, night: int | None = None) -> list[tuple[str, int]]:
        """The (table, night) pairs there are to look at, newest night first."""
        pairs: list[tuple[str, int]] = []
        for name in self._tables(table):
            nights = self.store.nights(name)
            pairs.extend((name, n) for n in nights if night is None or n == night)
        return pairs

    def compact(self, *, table: str | None = None, night: int | None = None, min_files: int = 2,
                progress: Callable[[NightCompaction], None] | None = None) -> CompactionReport:
        """Compact every night of ``table`` (all tables when None), or just ``night``; see the module docstring."""
        if min_files < 2:
            raise ValueError("min_files must be at least 2: one file is already compact")
        report = CompactionReport()
        for name, n in self.plan(table=table, night=night):
            done = self.compact_night(name, n, min_files=min_files)
            report.nights.append(done)
            if progress is not None:
                progress(done)
        return report

    def compact_night(self, table: str, night: int, *, min_files: int = 2) -> NightCompaction:
        files = self.store.files(table, night)
        result = NightCompaction(table, night, files_before=len(files), bytes_before=sum(f.size for f in files))
        if len(files) < min_files:
            result.skipped = f"{len(files)} file(s), fewer than {min_files}"
            return result
        spec = HISTORY_TABLES[table]
        keys = [f.key for f in files]
        name = compacted_name(keys)
        with tempfile.TemporaryDirectory(prefix="history-compact-") as tmp:
            local = []
            for i, f in enumerate(files):  # in key order: of duplicate rows, the last file's is kept
                path = os.path.join(tmp, f"{i:06d}.parquet")
                self.store.download(f.key, path)
                local.append(path)
            merged = os.path.join(tmp, "merged.parquet")
            result.rows = merge_parquet(spec, local, merged)
            result.bytes_after = os.path.getsize(merged)
            result.key = self.store.upload(table, night, name, merged)  # the new file first...
        self.store.delete([k for k in keys if k != result.key])  # ...then the old ones go
        return result

    def status(self, *, table: str | None = None) -> list[NightStatus]:
        """Per table and night: files, rows (from the mirrored files' footers) and bytes."""
        out: list[NightStatus] = []
        for name in self._tables(table):
            files = self.store.files(name)
            if not files:
                continue
            root, prefix = self.store.local_dir(name), HISTORY_TABLES[name].prefix()
            local = {f.key: os.path.join(root, f.key.removeprefix(prefix)) for f in files}
            counts = row_counts(local.values())
            by_night: dict[int, NightStatus] = {}
            for f in files:
                entry = by_night.setdefault(f.night, NightStatus(name, f.night, 0, 0, 0))
                entry.files += 1
                entry.bytes += f.size
                entry.rows += counts.get(local[f.key], 0)
            out.extend(sorted(by_night.values(), key=lambda s: -s.night))
        return out
