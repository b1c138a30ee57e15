"""Accepting annotation uploads: validate everything, store latest + history, announce each one.

An upload (one annotation or a list) is all or nothing: every item is checked (fields,
ids within signed 64 bits, annotator registered, owned by the caller, active) before anything
is stored, and the store writes the whole request in one DynamoDB transaction, so a client
that gets an error knows nothing of its request was kept (checks alone cannot promise that: a
write can still fail half way, which is why the transaction). Accepted annotations are
stored first and published to topic ``annotations`` after, so the annotation handler
always finds what it was told about.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from skystream.domain.annotations import (
    MAX_UPLOADS_PER_REQUEST,
    AnnotationEvent,
    AnnotationRecord,
    AnnotationUpload,
)
from skystream.domain.errors import BadRequest, Forbidden, NotFound
from skystream.ports import AnnotationWriter, AnnotatorLookup, Caller, EventPublisher, RecordProducer


class KafkaEventPublisher:
    """Produces each event to topic ``annotations`` keyed by diaObjectId, so per-object order holds."""

    def __init__(self, producer: RecordProducer, topic: str):
        self._producer = producer
        self._topic = topic

    def publish(self, events: Sequence[AnnotationEvent]) -> None:
        for event in events:
            if not self._producer.produce(self._topic, event.to_bytes(), key=str(event.diaObjectId)):
                raise RuntimeError(f"annotation event for {event.diaObjectId} is over the producer's size limit")
        self._producer.flush()


def parse_uploads(body: Any) -> list[AnnotationUpload]:
    """The request body (one JSON object or a list of them) as uploads; every problem in one 400."""
    items = body if isinstance(body, list) else [body]
    if isinstance(body, list) and not body:
        raise BadRequest("the list of annotations is empty; send one annotation object or a non-empty list")
    if len(items) > MAX_UPLOADS_PER_REQUEST:
        raise BadRequest(f"{len(items)} annotations in one request; send at most {MAX_UPLOADS_PER_REQUEST} at a time")
    uploads: list[AnnotationUpload] = []
    problems: list[str] = []
    for n, item in enumerate(items):
        where = f"annotation {n}: " if isinstance(body, list) else ""
        if not isinstance(item, dict):
            problems.append(f"{where}expected a JSON object with annotator, diaObjectId, classification, ...")
            continue
        try:
            uploads.append(AnnotationUpload.model_validate(item))
        except ValidationError as exc:
            for error in exc.errors():
                field = ".".join(str(p) for p in error["loc"]) or "body"
                message = error["msg"].removeprefix("Value error, ")
                if error["type"] == "extra_forbidden":
                    message = "is not an annotation field (use annotator, diaObjectId, classification, version, " \
                              "explanation, classdict, url)"
                elif error["type"] == "missing":
                    message = "is required"
                problems.append(f"{where}{field}: {message}")
    if problems:
        shown = problems[:20] + ([f"... and {len(problems) - 20} more"] if len(problems) > 20 else [])
        raise BadRequest("; ".join(shown), problems=shown)
    return uploads


def check_annotators(uploads: Sequence[AnnotationUpload], caller: Caller, registry: AnnotatorLookup) -> None:
    """Each named annotator exists, belongs to the caller and is active; else 404 / 403 naming it."""
    for name in dict.fromkeys(u.annotator for u in uploads):
        annotator = registry.get(name)
        if annotator is None:
            raise NotFound(f"no annotator named {name!r}; an administrator registers one with "
                           f"`skystream annotators add {name} --owner USER_ID`")
        if annotator.owner != caller.user_id:
            raise Forbidden(f"annotator {name!r} belongs to another user; only its owner may upload with it")
        if not annotator.active:
            raise Forbidden(f"annotator {name!r} is inactive; ask an administrator to reactivate it")


class AnnotationService:
    """Upload path used by the API (and by anything else that annotates on a user's behalf)."""

    def __init__(self, store: AnnotationWriter, registry: AnnotatorLookup, publisher: EventPublisher):
        self.store = store
        self.registry = registry
        self.publisher = publisher

    def upload(self, caller: Caller, body: Any) -> list[AnnotationRecord]:
        """Validate, store and announce; returns the stored records in request order."""
        uploads = parse_uploads(body)
        check_annotators(uploads, caller, self.registry)
        start = time.time_ns() // 1000
        # One microsecond apart in request order: a later item for the same (object, annotator) is the newer.
        records = [
            AnnotationRecord(
                annotator=u.annotator, dia_object_id=u.diaObjectId, classification=u.classification,
                version=u.version, explanation=u.explanation, classdict=u.classdict, url=u.url,
                user_id=caller.user_id, uploaded_us=start + n,
            )
            for n, u in enumerate(uploads)
        ]
        self.store.put_many(records)  # all or nothing: AnnotationBatchTooLarge (400) when they do not fit
        self.publisher.publish([
            AnnotationEvent(diaObjectId=r.dia_object_id, annotator=r.annotator, classification=r.classification,
                            uploaded_us=r.uploaded_us, user_id=r.user_id)
            for r in records
        ])
        return records
