"""Columns that need a host distance (sherlock) or a Blackbody-Bazin fit: NULL until those exist."""

from __future__ import annotations

from typing import Any

from skystream.features.columns import OBJECT_COLUMNS
from skystream.features.inputs import Lightcurve

HOST_COLUMNS: tuple[str, ...] = tuple(c.name for c in OBJECT_COLUMNS if c.source == "host")


def host_features(lc: Lightcurve) -> dict[str, Any]:
    # absMag needs a distance from the host-galaxy association, which ingest does not have;
    # a BBB fit is not computed yet. Honest NULLs rather than guesses.
    return dict.fromkeys(HOST_COLUMNS)
