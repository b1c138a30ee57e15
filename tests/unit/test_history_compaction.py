"""Compaction: a night's files become one sorted file with one row per unique key; the new file is written
before the old ones go; nights with few files are left alone; ``status`` counts files, rows and bytes."""

from __future__ import annotations

from pathlib import Path

import pytest
from fakes import MemoryHistory

from skystream.history.parquet import read_parquet
from skystream.history.schema import DETECTIONS
from skystream.services.history_compaction import HistoryCompaction


def _detection(i: int, flux: float = 1.0) -> dict:
    return {**dict.fromkeys(DETECTIONS.column_names), "diaSourceId": i, "diaObjectId": i % 5, "skyPixel": (i * 7919) % 101,
            "midpointMjdTai": 60100.3, "psfFlux": flux}


class OrderedHistory(MemoryHistory):
    """Logs the order of uploads and deletes."""

    def __init__(self, root: Path):
        super().__init__(root)
        self.log: list[str] = []

    def upload(self, table: str, night: int, name: str, path: str) -> str:
        self.log.append("upload")
        return super().upload(table, night, name, path)

    def delete(self, keys: list[str]) -> None:
        self.log.append("delete")
        super().delete(keys)


@pytest.fixture
def history(tmp_path: Path) -> OrderedHistory:
    h = OrderedHistory(tmp_path)
    for batch in range(4):  # four writer batches of night 60100, one of night 60101; batch 3 repeats batch 2's rows
        ids = range(batch * 10, batch * 10 + 10) if batch < 3 else range(20, 30)
        h.append("detections", 60100, [_detection(i, flux=float(batch)) for i in ids], name=f"b{batch}")
    h.append("detections", 60101, [_detection(100)], name="b9")
    return h


def test_a_nights_files_become_one_sorted_file_one_row_per_key(history: OrderedHistory) -> None:
    report = HistoryCompaction(history).compact(table="detections")
    done = {n.night: n for n in report.nights}
    assert done[60100].files_before == 4 and done[60100].rows == 30 and not done[60100].skipped
    assert done[60101].skipped == "1 file(s), fewer than 2"
    (merged,) = history.files("detections", 60100)
    assert merged.key == done[60100].key and "/night=60100/compacted-" in merged.key
    rows = read_parquet([history.root / merged.key])
    assert sorted(r["diaSourceId"] for r in rows) == list(range(30))
    assert [r["skyPixel"] for r in rows] == sorted(r["skyPixel"] for r in rows)
    assert {r["psfFlux"] for r in rows if 20 <= r["diaSourceId"] < 30} == {3.0}  # the later file's copy is kept
    assert history.log == ["upload", "delete"]  # the new file first, then the old ones
    assert len(history.files("detections", 60101)) == 1


def test_compacting_again_changes_nothing_and_min_files_is_respected(history: OrderedHistory) -> None:
    compaction = HistoryCompaction(history)
    assert compaction.compact(night=60100, min_files=5).compacted == []
    compaction.compact(night=60100)
    keys = [f.key for f in history.files("detections")]
    assert compaction.compact(night=60100).compacted == []
    assert [f.key for f in history.files("detections")] == keys
    with pytest.raises(ValueError, match="min_files must be at least 2"):
        compaction.compact(min_files=1)


def test_status_counts_files_rows_and_bytes_per_night(history: OrderedHistory) -> None:
    status = {(s.table, s.night): s for s in HistoryCompaction(history).status()}
    assert set(status) == {("detections", 60101), ("detections", 60100)}
    night = status[("detections", 60100)]
    assert (night.files, night.rows) == (4, 40)  # before compaction the repeated batch counts twice
    assert night.bytes == sum(f.size for f in history.files("detections", 60100))
