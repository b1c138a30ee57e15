"""Output ``email``: a filter's matching rows wait in the digest table for the owner's daily email.

Only the selected attributes are kept (no lightcurve); :mod:`skystream.services.digest.send`
sends them once a day. Writing is idempotent (a retried batch rewrites the same items), so
there is nothing to flush.
"""

from __future__ import annotations

from typing import Any

from skystream.domain.filters import StoredFilter
from skystream.domain.matches import FilterResult
from skystream.outputs.base import MatchedBatch
from skystream.ports import DigestSink


class EmailOutput:
    def __init__(self, digest: DigestSink):
        self.digest = digest

    def start(self, batch: MatchedBatch) -> EmailRun:
        return EmailRun(self.digest, batch)


class EmailRun:
    def __init__(self, digest: DigestSink, batch: MatchedBatch):
        self._digest = digest
        self._batch = batch

    def deliver(self, f: StoredFilter, rows: list[dict[str, Any]]) -> FilterResult:
        emailed = self._digest.add_matches(self._batch.day, f.owner, f.filter_id, f.name, [dict(r) for r in rows],
                                           self._batch.utc)
        return FilterResult(matched=len(rows), emailed=emailed)

    def finish(self) -> None:
        return None
