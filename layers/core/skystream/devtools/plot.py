"""A lightcurve plot (PNG) from a kafka_lite or kafka_full record, like Lasair's consume_kafka_plot notebook.

Detections (``diaSourcesList``) are filled markers with error bars, forced photometry
(``diaForcedSourcesList``) hollow; one colour per band; flux in nJy against MJD (TAI).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

BAND_COLOURS = {"u": "#56b4e9", "g": "#009e73", "r": "#e69f00", "i": "#d55e00", "z": "#cc79a7", "y": "#444444"}


class NoLightcurve(ValueError):
    """The record carries no lightcurve (a kafka_plain record, or an empty one)."""


def _points(sources: list[Mapping[str, Any]]) -> dict[str, tuple[list[float], list[float], list[float]]]:
    by_band: dict[str, tuple[list[float], list[float], list[float]]] = {}
    for s in sources:
        mjd, flux = s.get("midpointMjdTai"), s.get("psfFlux")
        if mjd is None or flux is None:
            continue
        xs, ys, es = by_band.setdefault(str(s.get("band") or "?"), ([], [], []))
        xs.append(float(mjd))
        ys.append(float(flux))
        es.append(float(s.get("psfFluxErr") or 0.0))
    return by_band


def plot_lightcurve(record: Mapping[str, Any], out_dir: str | Path) -> Path:
    """Write ``<diaObjectId>.png`` in ``out_dir`` and return its path."""
    alert = record.get("alert") or {}
    detections = list(alert.get("diaSourcesList") or [])
    forced = list(alert.get("diaForcedSourcesList") or [])
    if not detections and not forced:
        raise NoLightcurve("this record has no lightcurve: plots need a kafka_lite or kafka_full filter")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    object_id = record.get("diaObjectId") or (alert.get("diaObject") or {}).get("diaObjectId") or "object"
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=100)
    try:
        for band, (xs, ys, es) in sorted(_points(forced).items()):
            colour = BAND_COLOURS.get(band, "black")
            ax.errorbar(xs, ys, yerr=es, fmt="o", mfc="none", mec=colour, ecolor=colour, alpha=0.5, ms=4,
                        label=f"{band} forced")
        for band, (xs, ys, es) in sorted(_points(detections).items()):
            colour = BAND_COLOURS.get(band, "black")
            ax.errorbar(xs, ys, yerr=es, fmt="o", color=colour, ms=5, label=f"{band} detected")
        ax.axhline(0.0, color="grey", lw=0.5)
        ax.set_xlabel("MJD (TAI)")
        ax.set_ylabel("PSF flux (nJy)")
        ax.set_title(f"diaObjectId {object_id}")
        ax.legend(fontsize="small", ncol=2)
        fig.tight_layout()
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        path = out / f"{object_id}.png"
        fig.savefig(path)
    finally:
        plt.close(fig)
    return path
