"""The rows one batch run sees: objects plus the joined context for those objects.

Filled by ``skystream.services.joins.Joins.build`` (annotations and context only when some filter
needs them); loaded by ``SqliteEngine`` into a fresh database per batch. Keys of each row
dict are column names of ``skystream.filters.schema.TABLES``; a missing key is NULL.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from skystream.filters.schema import TABLES


@dataclass
class BatchRows:
    objects: list[dict[str, Any]] = field(default_factory=list)
    sherlock_classifications: list[dict[str, Any]] = field(default_factory=list)
    crossmatch_tns: list[dict[str, Any]] = field(default_factory=list)
    # each: annotator, diaObjectId, classification, version, explanation, classdict (JSON text), url, timestamp
    annotations: list[dict[str, Any]] = field(default_factory=list)
    # each: diaObjectId, wl_id, cone_id, name, arcsec (services/watchlists.py)
    watchlist_hits: list[dict[str, Any]] = field(default_factory=list)
    # each: diaObjectId, ar_id (services/watchmaps.py)
    area_hits: list[dict[str, Any]] = field(default_factory=list)

    def table(self, name: str) -> list[dict[str, Any]]:
        """Rows of one table by its SQL name."""
        if name not in TABLES:
            raise KeyError(f"no batch table {name!r}")
        rows: list[dict[str, Any]] = getattr(self, name)
        return rows
