"""The ``objects`` row: Lasair-compatible features computed from one alert.

One module per feature group (``diaobject``, ``latest``, ``counts``, ``position``,
``jump``, ``colour``, ``host``); :func:`objects_row` runs them all on one prepared
lightcurve and returns exactly :data:`~skystream.features.columns.OBJECT_COLUMNS`,
with None (SQL NULL) wherever a feature cannot be computed or an input is not a finite
number, and refuses (:class:`~skystream.domain.bounds.OutOfBounds`) a row no store could hold.
"""

from __future__ import annotations

from typing import Any

from skystream.domain.bounds import OutOfBounds, finite_or_none
from skystream.features.colour import colour_features
from skystream.features.columns import OBJECT_COLUMN_NAMES, row_problem
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
    # NaN or infinity from upstream (or an overflow here): NULL, as SQL would have it
    row = {name: finite_or_none(computed.get(name)) for name in OBJECT_COLUMN_NAMES}
    problem = row_problem(row)
    if problem:
        raise OutOfBounds(problem)
    return row


__all__ = ["objects_row"]
