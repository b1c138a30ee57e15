"""ObjectStore and AlertArchive against the local DynamoDB/S3 endpoint."""

from __future__ import annotations

import gzip
import json
import zlib

import orjson
from boto3.dynamodb.types import TypeSerializer

from skystream.alerts.lightcurve import full_alert, lite_lightcurve
from skystream.alerts.wire import decode_alert, decode_archived, encode_alert
from skystream.devtools.factory import make_alert
from skystream.devtools.generator import generate_alerts
from skystream.domain.objects import AlertPointer, AlertToArchive
from skystream.features import objects_row
from skystream.local.testing import EphemeralStack
from skystream.storage.archive import AlertArchive, legacy_key
from skystream.storage.dynamo_values import to_dynamo
from skystream.storage.objects import META_ID, ObjectStore


def _put(store: ObjectStore, object_id: int, mjd: float, source_id: int, flux: float = 100.0) -> bool:
    alert = make_alert([(mjd - 1, "g", 50.0), (mjd, "r", flux)], object_id=object_id)
    (pointer,) = AlertArchive().put_batch([AlertToArchive("11.1", full=full_alert(alert))])  # the lite is read from it
    return store.upsert_if_newer(objects_row(alert), lite_lightcurve(alert), schema_version="11.1",
                                 dia_source_id=source_id, pointer=pointer)


def test_newest_wins_ties_go_by_source_id_and_rows_read_back_exactly(stack: EphemeralStack) -> None:
    store = ObjectStore()
    assert _put(store, 7, 60010.5, 100, flux=1.5)
    assert not _put(store, 7, 60009.5, 99)  # older
    assert _put(store, 7, 60010.5, 100, flux=1.5)  # the same alert again: same state
    assert not _put(store, 7, 60010.5, 98)  # same time, lower source id
    stored = store.get(7)
    assert stored is not None and stored.dia_source_id == 100 and stored.schema_version == "11.1"
    alert = make_alert([(60009.5, "g", 50.0), (60010.5, "r", 1.5)], object_id=7)
    assert stored.row == objects_row(alert)  # floats, ints, NULLs all come back as they went in
    assert stored.lite == lite_lightcurve(alert)
    assert store.get(8) is None and store.get(META_ID) is None
    assert set(store.get_many([7, 8, META_ID])) == {7}


def test_recent_walks_nights_newest_first(stack: EphemeralStack) -> None:
    store = ObjectStore()
    for object_id, mjd in [(1, 60000.2), (2, 60003.1), (3, 60003.3), (4, 60001.9), (5, 59990.0)]:
        assert _put(store, object_id, mjd, object_id)
    assert [s.dia_object_id for s in store.recent(3)] == [3, 2, 4]
    assert [s.dia_object_id for s in store.recent(10)] == [3, 2, 4, 1, 5]
    assert store.recent(0) == []


def test_two_writers_each_record_their_nights(stack: EphemeralStack) -> None:
    first, second = ObjectStore(), ObjectStore()
    assert _put(first, 1, 60000.2, 1)
    assert _put(second, 2, 60005.2, 2)
    assert _put(first, 3, 59990.2, 3)  # first never read what second recorded: ADD to the set needs no read
    assert _put(first, 4, 60002.2, 4)
    assert ObjectStore()._nights() == [60005, 60002, 60000, 59990]
    assert [s.dia_object_id for s in ObjectStore().recent(10)] == [2, 4, 1, 3]


def test_a_meta_item_of_the_range_keeping_code_is_still_read(stack: EphemeralStack) -> None:
    store = ObjectStore()
    store._client.put_item(TableName=store.table_name,  # an older writer had set maxNight, not yet minNight
                           Item={"diaObjectId": {"N": str(META_ID)}, "maxNight": {"N": "60003"}})
    assert _put(store, 1, 60000.2, 1)
    assert ObjectStore()._nights() == [60003, 60000]


def test_archive_keeps_the_full_alert_and_its_version(stack: EphemeralStack) -> None:
    archive = AlertArchive()
    alert = make_alert([(60000.0, "g", 10.0), (60001.0, "r", 20.0)], object_id=11)
    other = make_alert([(60002.0, "i", 30.0)], object_id=12)
    wire = decode_alert(encode_alert(generate_alerts(1, seed=9)[0])).without_cutouts
    first, second, third = archive.put_batch([AlertToArchive("10.0", full=full_alert(alert)),
                                              AlertToArchive("11.1", full=full_alert(other)),
                                              AlertToArchive("11.1", wire=wire)])
    assert first.key == second.key and second.offset == first.offset + first.length
    assert archive.get(first) == (full_alert(alert), "10.0")
    assert archive.get(second) == (full_alert(other), "11.1")
    assert archive.get(third) == (json.loads(json.dumps(full_alert(decode_archived(wire).alert))), "11.1")
    assert archive.get(AlertPointer(first.key + ".missing", 0, 10)) is None


def test_an_object_stored_before_batching_reads_back_whole(stack: EphemeralStack) -> None:
    """Items of the earlier layout (native columns, lite_z, no pointer) and their one-object-per-alert archive."""
    store, archive = ObjectStore(), AlertArchive()
    alert = make_alert([(60000.0, "g", 10.0), (60001.0, "r", 20.0)], object_id=13)
    row = objects_row(alert)
    old_item = {k: TypeSerializer().serialize(v) for k, v in to_dynamo(row).items() if v is not None}
    old_item |= {"night": {"N": "60001"}, "schema_version": {"S": "10.0"}, "diaSourceId": {"N": "100"},
                 "lite_z": {"B": zlib.compress(orjson.dumps(lite_lightcurve(alert)))}}
    store._client.put_item(TableName=store.table_name, Item=old_item)
    archive._s3.put_object(Bucket=archive.bucket, Key=legacy_key(13), ContentEncoding="gzip",
                           Body=gzip.compress(orjson.dumps({"schema_version": "10.0", "alert": full_alert(alert)})))
    stored = store.get(13)
    assert stored is not None and stored.row == row and stored.lite == lite_lightcurve(alert)
    assert stored.alert_pointer == AlertPointer(legacy_key(13))
    assert archive.get(stored.alert_pointer) == (full_alert(alert), "10.0")
