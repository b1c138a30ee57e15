"""The ports: what the services need of the world, one ``Protocol`` per need, defined here once.

Services are written against these; the adapters (``storage/``, ``streams/``) implement them
and :mod:`skystream.wiring` hands real ones to the services; tests hand the fakes in
``tests/fakes.py``. A port names only domain types, so this module sits just above
:mod:`skystream.domain` and imports nothing else of skystream.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Protocol


class RecordProducer(Protocol):
    """A Kafka producer that checks a record's size before queueing it and flushes on demand."""

    def fits(self, value: bytes, key: bytes | None = None) -> bool:
        """Whether a record of this value and key is within the producer's size limit."""

    def produce(self, topic: str, value: bytes, key: bytes | str | None = None,
                headers: Mapping[str, bytes | str] | None = None) -> bool:
        """Queue one record; False (nothing queued) when it is over the size limit."""

    def flush(self, timeout: float = 30.0) -> int:
        """Wait for every queued record; raises when the broker refused or lost one."""


class QuotaCounter(Protocol):
    """Bytes each filter has put on its topic per UTC day."""

    def used(self, filter_id: str, day: dt.date) -> int: ...

    def add(self, filter_id: str, day: dt.date, nbytes: int) -> int: ...
