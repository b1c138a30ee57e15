"""The daily byte counter in DynamoDB: atomic additions per filter per UTC day, expiring after two days."""

from __future__ import annotations

import datetime as dt

import pytest
from moto_tables import template_tables

from skystream.aws import client
from skystream.domain.filters import DEFAULT_BYTE_QUOTA, StoredFilter
from skystream.storage.quota import QuotaStore

DAY = dt.date(2026, 12, 1)


def test_counts_add_up_per_filter_and_day(monkeypatch: pytest.MonkeyPatch) -> None:
    with template_tables(monkeypatch) as env:
        quota = QuotaStore()
        assert quota.used("f1", DAY) == 0
        assert quota.add("f1", DAY, 100) == 100
        assert quota.add("f1", DAY, 23) == 123
        assert quota.add("f1", DAY, 0) == 123
        assert quota.used("f2", DAY) == 0
        assert quota.used("f1", DAY + dt.timedelta(days=1)) == 0
        item = client("dynamodb").get_item(TableName=env["QUOTA_TABLE"], Key={"pk": {"S": "bytes#f1#2026-12-01"}})
        expires = dt.datetime.fromtimestamp(int(item["Item"]["expires_at"]["N"]), dt.UTC)
        assert expires == dt.datetime(2026, 12, 3, tzinfo=dt.UTC)


def test_default_quota_is_100_megabytes() -> None:
    assert DEFAULT_BYTE_QUOTA == 100 * 1024 * 1024
    saved = StoredFilter(filter_id="f", owner=1, name="f", selected="objects.diaObjectId", tables="objects",
                         output="kafka_plain", created="t", modified="t")
    assert saved.byte_quota == 100 * 1024 * 1024  # what a filter saved without a quota gets
