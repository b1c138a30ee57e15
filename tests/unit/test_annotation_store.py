"""AnnotationStore and ContextStore against moto's in-process DynamoDB (no sockets)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from skystream import aws
from skystream.config import settings
from skystream.domain.annotations import AnnotationRecord
from skystream.storage import bulk
from skystream.storage.annotations import AnnotationStore
from skystream.storage.annotators import AnnotatorError, AnnotatorRegistry
from skystream.storage.context import ContextStore, UnknownContextTable


@pytest.fixture
def dynamo(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    for name, value in {"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x", "AWS_REGION": "us-east-1",
                        "ANNOTATIONS_TABLE": "t-annotations", "CONTEXT_TABLE": "t-context",
                        "USERS_TABLE": "t-users"}.items():
        monkeypatch.setenv(name, value)
    settings.cache_clear()
    aws._client.cache_clear()
    aws._resource.cache_clear()
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        for table, range_key in (("t-annotations", "sk"), ("t-context", "table_name")):
            ddb.create_table(
                TableName=table, BillingMode="PAY_PER_REQUEST",
                AttributeDefinitions=[{"AttributeName": "diaObjectId", "AttributeType": "N"},
                                      {"AttributeName": range_key, "AttributeType": "S"}],
                KeySchema=[{"AttributeName": "diaObjectId", "KeyType": "HASH"},
                           {"AttributeName": range_key, "KeyType": "RANGE"}],
            )
        ddb.create_table(TableName="t-users", BillingMode="PAY_PER_REQUEST",
                         AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                         KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])
        yield
    settings.cache_clear()
    aws._client.cache_clear()
    aws._resource.cache_clear()


def _record(object_id: int, annotator: str = "myclassifier", classification: str = "SN", us: int = 1_700_000_000_000_000,
            **extra: object) -> AnnotationRecord:
    return AnnotationRecord(annotator=annotator, dia_object_id=object_id, classification=classification,
                            uploaded_us=us, **extra)  # type: ignore[arg-type]


def _put_all(store: AnnotationStore, records: list[AnnotationRecord]) -> None:
    """Store more records than one transaction holds, 50 (one request's worth) at a time."""
    for start in range(0, len(records), 50):
        store.put_many(records[start : start + 50])


def test_latest_is_the_newest_upload_and_history_keeps_all(dynamo: None) -> None:
    store = AnnotationStore()
    store.put(_record(7, classification="AGN", us=1_000_000, classdict={"prob": 0.25}))
    store.put(_record(7, classification="SN", us=3_000_000, classdict={"prob": 0.9}))
    store.put(_record(7, classification="VS", us=2_000_000))  # late arrival of an older upload
    latest = store.latest([7], ["myclassifier"])
    assert [row["classification"] for row in latest] == ["SN"]
    assert json.loads(latest[0]["classdict"]) == {"prob": 0.9}
    assert latest[0]["diaObjectId"] == 7 and isinstance(latest[0]["diaObjectId"], int)
    assert latest[0]["timestamp"] == "1970-01-01 00:00:03"
    assert [row["classification"] for row in store.history(7)] == ["SN", "VS", "AGN"]
    shown = store.for_object(7)
    assert [row["classification"] for row in shown["annotations"]] == ["SN"]
    assert len(shown["history"]) == 3


def test_latest_reads_only_the_named_annotators_and_more_than_one_chunk(dynamo: None) -> None:
    store = AnnotationStore()
    _put_all(store, [_record(i, us=1_000_000 + i) for i in range(1, 151)] + [_record(5, annotator="other", classification="AGN")])
    rows = store.latest(range(1, 200), ["myclassifier"])
    assert len(rows) == 150 and {r["annotator"] for r in rows} == {"myclassifier"}
    both = store.latest([5, 6], ["myclassifier", "other"])
    assert sorted((r["diaObjectId"], r["annotator"]) for r in both) == [(5, "myclassifier"), (5, "other"), (6, "myclassifier")]
    assert store.latest([], ["myclassifier"]) == [] and store.latest([5], []) == []


def test_batch_get_splits_into_chunks_of_100_and_retries_unprocessed_keys(
    dynamo: None, monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = AnnotationStore()
    _put_all(store, [_record(i) for i in range(250)])
    sizes: list[int] = []
    real = bulk.client
    throttled = [True]

    def spying(service: str):  # type: ignore[no-untyped-def]
        ddb = real(service)

        class Spy:
            def batch_get_item(self, RequestItems):  # type: ignore[no-untyped-def]
                sizes.extend(len(r["Keys"]) for r in RequestItems.values())
                (table, request), = RequestItems.items()
                if throttled[0] and len(request["Keys"]) == 50:  # hand half back, as DynamoDB does when throttled
                    throttled[0] = False
                    served = ddb.batch_get_item(RequestItems={table: {**request, "Keys": request["Keys"][:25]}})
                    served["UnprocessedKeys"] = {table: {**request, "Keys": request["Keys"][25:]}}
                    return served
                return ddb.batch_get_item(RequestItems=RequestItems)

        return Spy()

    monkeypatch.setattr(bulk, "client", spying)
    rows = store.latest([*range(250), 1, 2, 3], ["myclassifier"])
    assert sorted(r["diaObjectId"] for r in rows) == list(range(250))
    assert sorted(sizes) == [25, 50, 100, 100]


def test_context_rows_replace_per_object_and_keep_floats(dynamo: None) -> None:
    store = ContextStore()
    written = store.put_rows("sherlock_classifications", [
        {"diaObjectId": 1, "classification": "SN", "separationArcsec": 0.123456789, "z": float("nan")},
        {"diaObjectId": 2, "classification": "AGN"},
        {"diaObjectId": 1, "classification": "NT", "separationArcsec": 0.5},
    ])
    assert written == 2
    store.put_rows("crossmatch_tns", [{"diaObjectId": 2, "tns_name": "2026abc", "type": "SN Ia"}])
    rows = {r["diaObjectId"]: r for r in store.rows([1, 2, 3], "sherlock_classifications")}
    assert rows[1] == {"diaObjectId": 1, "classification": "NT", "separationArcsec": 0.5}
    both = store.rows_of([2], ["sherlock_classifications", "crossmatch_tns"])
    assert both["crossmatch_tns"][0]["tns_name"] == "2026abc"
    assert set(store.for_object(2)) == {"sherlock_classifications", "crossmatch_tns"}
    store.put_rows("sherlock_classifications", [{"diaObjectId": 4, "z": float("inf")}])
    assert store.rows([4], "sherlock_classifications") == [{"diaObjectId": 4, "z": None}]


def test_context_refuses_unknown_tables_and_bad_ids(dynamo: None) -> None:
    store = ContextStore()
    with pytest.raises(UnknownContextTable, match="sherlock_classifications, crossmatch_tns"):
        store.put_rows("objects", [{"diaObjectId": 1}])
    with pytest.raises(ValueError, match="row 1: diaObjectId must be an integer"):
        store.put_rows("crossmatch_tns", [{"diaObjectId": "12"}])


def test_annotator_registry_add_get_deactivate_list(dynamo: None) -> None:
    registry = AnnotatorRegistry()
    added = registry.add("myclassifier", 3, description="cnn")
    assert registry.get("myclassifier") == added and added.active and added.owner == 3
    with pytest.raises(AnnotatorError, match="already exists"):
        registry.add("myclassifier", 4)
    assert not registry.set_active("myclassifier", False).active
    assert registry.get("myclassifier").active is False  # type: ignore[union-attr]
    registry.add("another", 4)
    assert [a.name for a in registry.all()] == ["another", "myclassifier"]
    assert registry.get("nobody") is None and registry.get("bad name!") is None
    with pytest.raises(AnnotatorError, match="no annotator 'ghost'"):
        registry.set_active("ghost", True)


def test_many_latest_puts_in_parallel_keep_the_newest(dynamo: None) -> None:
    store = AnnotationStore()
    _put_all(store, [_record(i % 40, classification=f"c{i}", us=1_000_000 + i) for i in range(120)])
    latest = {r["diaObjectId"]: r["classification"] for r in store.latest(range(40), ["myclassifier"])}
    assert latest == {i: f"c{80 + i}" for i in range(40)}
    assert len(store.history(5)) == 3
