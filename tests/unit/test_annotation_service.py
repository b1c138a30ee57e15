"""Upload validation and the service's all-or-nothing store-then-publish, with in-memory fakes."""

from __future__ import annotations

import json

import pytest
from fakes import Caller, MemoryAnnotationWriter, MemoryAnnotators, RecordingPublisher

from skystream.domain.annotations import AnnotationEvent, Annotator
from skystream.domain.errors import BadRequest, Forbidden, NotFound
from skystream.services.annotations import AnnotationService, parse_uploads
from skystream.storage.annotators import AnnotatorError, check_name

GOOD = {"annotator": "myclassifier", "diaObjectId": 170032882292375568, "classification": "SN",
        "version": "1.2", "explanation": "rising fast", "classdict": {"prob": 0.93}, "url": "https://example.org/x"}


def _service() -> tuple[AnnotationService, MemoryAnnotationWriter, RecordingPublisher]:
    store, publisher = MemoryAnnotationWriter(), RecordingPublisher()
    registry = MemoryAnnotators(Annotator("myclassifier", owner=7), Annotator("theirs", owner=8),
                            Annotator("retired", owner=7, active=False))
    return AnnotationService(store=store, registry=registry, publisher=publisher), store, publisher


def test_one_upload_is_stored_and_announced() -> None:
    service, store, publisher = _service()
    records = service.upload(Caller(7), GOOD)
    assert [r.classification for r in store.stored] == ["SN"]
    assert store.stored[0].classdict == {"prob": 0.93} and store.stored[0].user_id == 7
    assert json.loads(records[0].row()["classdict"]) == {"prob": 0.93}
    assert [(e.diaObjectId, e.annotator, e.classification) for e in publisher.events] == [
        (170032882292375568, "myclassifier", "SN")]


def test_a_list_keeps_request_order_as_time_order() -> None:
    service, store, _ = _service()
    service.upload(Caller(7), [{**GOOD, "classification": "AGN"}, {**GOOD, "classification": "SN"}])
    first, second = store.stored
    assert second.uploaded_us > first.uploaded_us


@pytest.mark.parametrize(("body", "message"), [
    ({**GOOD, "classification": "x" * 81}, "classification: String should have at most 80 characters"),
    ({**GOOD, "classdict": [1, 2]}, "classdict: Input should be a valid dictionary"),
    ({**GOOD, "classdict": "{\"prob\": 1}"}, "classdict: Input should be a valid dictionary"),
    ({**GOOD, "diaObjectId": True}, "diaObjectId: diaObjectId must be an integer"),
    ({**GOOD, "diaObjectId": -3}, "diaObjectId: Input should be greater than 0"),
    ({k: v for k, v in GOOD.items() if k != "classification"}, "classification: is required"),
    ({**GOOD, "clasification": "SN"}, "clasification: is not an annotation field"),
    ([], "the list of annotations is empty"),
    ([GOOD, "SN"], "annotation 1: expected a JSON object"),
    ([GOOD, {**GOOD, "classification": ""}], "annotation 1: classification: String should have at least 1"),
])
def test_bad_bodies_are_400_naming_field_and_item(body: object, message: str) -> None:
    service, store, publisher = _service()
    with pytest.raises(BadRequest) as caught:
        service.upload(Caller(7), body)
    assert message in caught.value.detail
    assert store.stored == [] and publisher.events == []


def test_digit_string_ids_and_lasair_field_names_are_accepted() -> None:
    assert parse_uploads({**GOOD, "diaObjectId": "170032882292375568"})[0].diaObjectId == 170032882292375568
    lasair = {k: v for k, v in GOOD.items() if k not in ("annotator", "diaObjectId")}
    upload = parse_uploads({**lasair, "topic": "myclassifier", "objectId": 42})[0]
    assert (upload.annotator, upload.diaObjectId) == ("myclassifier", 42)


@pytest.mark.parametrize(("annotator", "error", "message"), [
    ("theirs", Forbidden, "belongs to another user"),
    ("retired", Forbidden, "is inactive"),
    ("nobody", NotFound, "skystream annotators add nobody --owner USER_ID"),
])
def test_annotator_must_exist_be_owned_and_active_and_nothing_is_kept(annotator: str, error: type, message: str) -> None:
    service, store, publisher = _service()
    with pytest.raises(error, match=message):
        service.upload(Caller(7), [GOOD, {**GOOD, "annotator": annotator}])
    assert store.stored == [] and publisher.events == []


def test_annotator_names_must_be_sql_aliases() -> None:
    assert check_name("my_classifier2") == "my_classifier2"
    for bad in ("2fast", "has-dash", "x" * 65, "objects", "a#b", ""):
        with pytest.raises(AnnotatorError):
            check_name(bad)


def test_event_round_trips() -> None:
    event = AnnotationEvent(diaObjectId=5, annotator="a", classification="SN", uploaded_us=12, user_id=3)
    assert AnnotationEvent.from_bytes(event.to_bytes()) == event
