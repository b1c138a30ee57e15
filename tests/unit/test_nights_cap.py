"""The objects table's set of nights stops growing at a cap decided by a condition (a code), not by
reading DynamoDB's error message (issue 14: no behaviour chosen from exception text)."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from botocore.exceptions import ClientError
from moto_tables import template_tables

from skystream.storage import objects
from skystream.storage.objects import ObjectStore

pytestmark = pytest.mark.unit


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch) -> Iterator[ObjectStore]:
    with template_tables(monkeypatch):
        yield ObjectStore()


def test_a_full_set_of_nights_is_not_grown_and_the_object_is_still_stored(
        store: ObjectStore, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(objects, "MAX_NIGHTS", 3)
    caplog.set_level(logging.WARNING)
    for night in (60000, 60001, 60002):
        store._note_night(night)
    assert not caplog.records
    store._note_night(60003)  # the set is full: refused by the condition, logged, not raised
    ObjectStore()._note_night(60002)  # a night already in a full set is still fine (another writer)
    assert ObjectStore()._nights() == [60002, 60001, 60000]
    full = [r for r in caplog.records if r.getMessage().startswith("night not recorded")]
    assert [(r.night, r.max_nights) for r in full] == [(60003, 3)]


def test_any_other_refusal_is_raised_whatever_its_message_says(store: ObjectStore,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    class Refusing:
        def update_item(self, **_kwargs: object) -> None:
            raise ClientError({"Error": {"Code": "ValidationException",
                                         "Message": "Item size has exceeded the maximum allowed size"}}, "UpdateItem")

    monkeypatch.setattr(store, "_client", Refusing())
    with pytest.raises(ClientError):  # before, the word "size" in the message made this a warning
        store._note_night(60010)
