"""The ``objects`` row: Lasair-compatible features computed from one alert.

One module per feature group (``diaobject``, ``latest``, ``counts``, ``position``,
``jump``, ``colour``, ``host``); :func:`objects_row` runs them all on one prepared
lightcurve and returns exactly :data:`~skystream.features.columns.OBJECT_COLUMNS`,
with None (SQL NULL) wherever a feature cannot be computed.
"""

from __future__ import annotations

import math
from typing import Any

from skystream.features.colour import colour_features
from skystream.features.columns import OBJECT_COLUMN_NAMES
from skystream.features.counts import counts_features
from skystream.features.diaobject import diaobject_features
from skystream.features.host import host_features
from skystream.features.inputs import Lightcurve
from skystream.features.jump import jump_features
from skystream.features.latest import latest_features
from skystream.features.position import position_features

FEATURE_GROUPS = (
    diaobject_features,
    latest_features,
    counts_features,
    position_features,
    jump_features,
    colour_features,
    host_features,
)


def objects_row(alert: dict[str, Any]) -> dict[str, Any]:
    """The objects row for an alert with a diaObject (solar-system alerts have no row)."""
    if not alert.get("diaObject"):
        raise ValueError("a solar-system alert (diaObject null) has no objects row")
    lc = Lightcurve.from_alert(alert)
    computed: dict[str, Any] = {}
    for group in FEATURE_GROUPS:
        computed |= group(lc)
    row = {}
    for name in OBJECT_COLUMN_NAMES:
        value = computed.get(name)
        if isinstance(value, float) and not math.isfinite(value):
            value = None  # NaN or infinity from upstream: NULL, as SQL would have it
        row[name] = value
    return row


__all__ = ["objects_row"]
