"""The history on S3 (moto in process): Parquet written and read back, nights listed, the local mirror kept
exact (new keys downloaded once, changed ones again, deleted ones removed)."""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from moto_tables import template_tables

from skystream import aws
from skystream.history.parquet import read_parquet
from skystream.history.schema import DETECTIONS, OBJECTS_HISTORY
from skystream.local.metering import RequestMeter
from skystream.storage.history_lake import HistoryLake


@pytest.fixture
def lake(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[HistoryLake]:
    with template_tables(monkeypatch) as env:
        yield HistoryLake(env["ALERTS_BUCKET"], str(tmp_path / "cache"))


def _detection(i: int, **values: object) -> dict:
    return {**dict.fromkeys(DETECTIONS.column_names), "diaSourceId": i, "diaObjectId": 1000 + i,
            "midpointMjdTai": 60100.25 + i / 100, "band": "gri"[i % 3], "ra": 10.0 + i, "dec": -5.0,
            "psfFlux": 100.0 * i, "skyPixel": 500 - i, "detector": i % 7, **values}


def test_a_file_reads_back_with_its_types_sorted_by_the_tables_sort_key(lake: HistoryLake, tmp_path: Path) -> None:
    rows = [_detection(i) for i in range(50)]
    rows[3]["psfFlux"] = float("nan")  # NaN is null in the history
    key = lake.append("detections", 60100, rows, name="alerts-enriched-0-0-49")
    assert key == "history/detections/night=60100/alerts-enriched-0-0-49.parquet"
    lake.download(key, str(tmp_path / "back.parquet"))
    back = read_parquet([tmp_path / "back.parquet"])
    assert [r["skyPixel"] for r in back] == sorted(r["skyPixel"] for r in rows)  # sorted by sky pixel
    by_id = {r["diaSourceId"]: r for r in back}
    assert by_id[3]["psfFlux"] is None
    for r in rows:
        expected = {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()}
        assert by_id[r["diaSourceId"]] == expected
    assert type(by_id[5]["detector"]) is int and type(by_id[5]["ra"]) is float and by_id[5]["band"] == "gri"[5 % 3]


def test_nights_are_listed_newest_first_from_the_prefixes(lake: HistoryLake) -> None:
    for night in (60100, 60102, 60101):
        lake.append("detections", night, [_detection(night)], name="b")
    lake.append("objects_history", 60200, [dict.fromkeys(OBJECTS_HISTORY.column_names, None)], name="b")
    assert lake.nights("detections") == [60102, 60101, 60100]
    assert lake.nights("forced_photometry") == []


def test_the_mirror_downloads_new_keys_once_and_drops_keys_gone_from_the_bucket(lake: HistoryLake) -> None:
    lake.append("detections", 60100, [_detection(1)], name="a")
    lake.append("detections", 60101, [_detection(2)], name="b")
    root = Path(lake.local_dir("detections"))
    assert sorted(str(p.relative_to(root)) for p in root.rglob("*.parquet")) == [
        os.path.join("night=60100", "a.parquet"), os.path.join("night=60101", "b.parquet")]
    with RequestMeter([lake._s3]) as meter:
        lake.local_dir("detections")  # nothing new: one listing, no download
    assert meter.usage.count("s3", ["GetObject", "HeadObject"]) == 0 and meter.usage.count("s3", ["ListObjectsV2"]) == 1
    lake.append("detections", 60100, [_detection(1), _detection(3)], name="a")  # rewritten: a new ETag
    lake.delete(["history/detections/night=60101/b.parquet"])
    lake.local_dir("detections")
    assert sorted(str(p.relative_to(root)) for p in root.rglob("*.parquet")) == [os.path.join("night=60100", "a.parquet")]
    assert len(read_parquet([root / "night=60100" / "a.parquet"])) == 2
    assert not (root / "night=60101").exists()


def test_an_unknown_table_is_refused_naming_the_tables(lake: HistoryLake) -> None:
    with pytest.raises(ValueError, match="no history table 'objects'; the tables are objects_history, detections"):
        lake.nights("objects")


def test_listing_follows_pages(lake: HistoryLake) -> None:
    s3 = aws.client("s3")
    for i in range(1005):  # past one ListObjectsV2 page (1000 keys)
        s3.put_object(Bucket=lake.bucket, Key=f"history/detections/night={60000 + i}/x.parquet", Body=b"")
    assert len(lake.nights("detections")) == 1005
    assert len(lake.files("detections")) == 1005
