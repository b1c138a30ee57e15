"""Columns copied from Rubin's diaObject summary (the pipeline computes them; we rename ``dec``)."""

from __future__ import annotations

from typing import Any

from skystream.features.columns import OBJECT_COLUMNS
from skystream.features.inputs import Lightcurve

RENAMED = {"decl": "dec"}
DIAOBJECT_COLUMNS: tuple[str, ...] = tuple(c.name for c in OBJECT_COLUMNS if c.source == "diaObject")


def diaobject_features(lc: Lightcurve) -> dict[str, Any]:
    obj = lc.dia_object
    return {name: obj.get(RENAMED.get(name, name)) for name in DIAOBJECT_COLUMNS}
