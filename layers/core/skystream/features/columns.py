"""The ``objects`` table's columns: Lasair-LSST names, SQL types and what each means.

This is the one list. The feature code fills exactly these keys, the filter checker
allows exactly these columns, and the API's schema endpoint and the docs print them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from skystream.domain.bounds import fits_int64, id_problem, is_integer, is_number

BANDS: tuple[str, ...] = ("u", "g", "r", "i", "z", "y")


@dataclass(frozen=True)
class Column:
    name: str
    sql_type: str  # BIGINT | INTEGER | DOUBLE | TEXT
    description: str
    source: str  # diaObject | latest | counts | position | jump | colour | host
    extended: bool = False  # one of Lasair's "extended" diaObject columns, which it also shows as objects_ext


def _per_band(template: str, sql_type: str, description: str, source: str, *, extended: bool = False) -> list[Column]:
    return [Column(template.format(b=b), sql_type, description.format(b=b), source, extended) for b in BANDS]


OBJECT_COLUMNS: tuple[Column, ...] = tuple(
    [
        Column("diaObjectId", "BIGINT", "Rubin DIA object identifier", "diaObject"),
        Column("ra", "DOUBLE", "Right ascension of the object, degrees (ICRS)", "diaObject"),
        Column("decl", "DOUBLE", "Declination of the object, degrees (ICRS); Rubin calls it dec", "diaObject"),
        Column("raErr", "DOUBLE", "Uncertainty of ra, degrees", "diaObject", extended=True),
        Column("decErr", "DOUBLE", "Uncertainty of decl, degrees", "diaObject", extended=True),
        Column("ra_dec_Cov", "DOUBLE", "Covariance of ra and decl", "diaObject", extended=True),
        Column("validityStartMjdTai", "DOUBLE", "Start of validity of this diaObject version, MJD TAI", "diaObject",
               extended=True),
        Column("nDiaSources", "INTEGER", "Number of DIA sources associated with the object", "diaObject"),
    ]
    + _per_band("{b}_psfFluxMean", "DOUBLE", "Weighted mean {b}-band PSF flux of the difference image, nJy", "diaObject")
    + _per_band("{b}_psfFluxMeanErr", "DOUBLE", "Uncertainty of {b}_psfFluxMean, nJy", "diaObject")
    + _per_band("{b}_psfFluxSigma", "DOUBLE", "Standard deviation of {b}-band PSF fluxes, nJy", "diaObject", extended=True)
    + _per_band("{b}_psfFluxNdata", "INTEGER", "Number of {b}-band points used for the PSF flux statistics", "diaObject", extended=True)
    + _per_band("{b}_fpFluxMean", "DOUBLE", "Weighted mean {b}-band forced-photometry flux, nJy", "diaObject", extended=True)
    + _per_band("{b}_fpFluxMeanErr", "DOUBLE", "Uncertainty of {b}_fpFluxMean, nJy", "diaObject", extended=True)
    + _per_band("{b}_scienceFluxMean", "DOUBLE", "Mean {b}-band flux on the direct (science) image, nJy", "diaObject", extended=True)
    + _per_band("{b}_scienceFluxMeanErr", "DOUBLE", "Uncertainty of {b}_scienceFluxMean, nJy", "diaObject", extended=True)
    + _per_band("{b}_psfFluxMin", "DOUBLE", "Minimum {b}-band PSF flux, nJy", "diaObject", extended=True)
    + _per_band("{b}_psfFluxMax", "DOUBLE", "Maximum {b}-band PSF flux, nJy", "diaObject", extended=True)
    + _per_band("{b}_psfFluxMaxSlope", "DOUBLE", "Largest {b}-band flux slope between consecutive points, nJy/day", "diaObject", extended=True)
    + _per_band("{b}_psfFluxErrMean", "DOUBLE", "Mean {b}-band PSF flux uncertainty, nJy", "diaObject", extended=True)
    + _per_band("{b}_psfFlux", "DOUBLE", "Latest {b}-band difference-image PSF flux, nJy", "latest")
    + _per_band("{b}_latestMJD", "DOUBLE", "Time of the latest {b}-band detection, MJD TAI", "latest")
    + [Column("latest_psfFlux", "DOUBLE", "PSF flux of the triggering detection, any band, nJy", "latest")]
    + [
        Column("medianR", "DOUBLE", "Median reliability of the detections", "counts"),
        Column("latestR", "DOUBLE", "Reliability of the triggering detection", "counts"),
        Column("nSourcesGood", "INTEGER", "Number of detections with reliability > 0.5", "counts"),
        Column("nPosDiaSources", "INTEGER", "Number of detections with positive difference flux", "counts"),
        Column("nPosDiaSourcesNights", "INTEGER", "Distinct nights, int(mjd + 0.5), with a positive detection", "counts"),
    ]
    + _per_band("n{b}Sources", "INTEGER", "Number of {b}-band detections", "counts")
    + [
        Column("firstDiaSourceMjdTai", "DOUBLE", "Time of the first detection, MJD TAI", "counts"),
        Column("lastDiaSourceMjdTai", "DOUBLE", "Time of the latest detection, MJD TAI", "counts"),
        Column("glat", "DOUBLE", "Galactic latitude, degrees", "position"),
        Column("ebv", "DOUBLE", "Galactic extinction E(B-V); NULL until a dust map is configured", "position"),
        Column("htm16", "BIGINT", "Hierarchical Triangular Mesh index at level 16", "position"),
        Column("jump1", "DOUBLE", "Largest per-band jump score: |f - mean| / sd of the last 10 days "
               "against days 10-70 before the last detection", "jump"),
        Column("jump2", "DOUBLE", "Second largest per-band jump score", "jump"),
    ]
    + [
        Column(f"{which}Pair{part}", sql_type, f"{which} colour pair (two detections < 40 min apart in "
               f"different bands): {what}", "colour")
        for which in ("latest", "penultimate")
        for part, sql_type, what in (
            ("MJD", "DOUBLE", "mean time of the pair, MJD TAI"),
            ("ColourMag", "DOUBLE", "colour in magnitudes, bluer band minus redder band"),
            ("ColourBands", "TEXT", "the two bands, bluer first, e.g. 'gr'"),
            ("ColourTemp", "DOUBLE", "blackbody temperature implied by the colour, kK"),
        )
    ]
    + [
        Column("absMag", "DOUBLE", "Peak absolute magnitude; needs a host distance (sherlock), else NULL", "host"),
        Column("absMagMJD", "DOUBLE", "Time of absMag, MJD TAI; NULL without a host distance", "host"),
        Column("BBBRiseRate", "DOUBLE", "Blackbody-Bazin fit rise rate; NULL without a fit", "host"),
        Column("BBBFallRate", "DOUBLE", "Blackbody-Bazin fit fall rate; NULL without a fit", "host"),
        Column("BBBTemp", "DOUBLE", "Blackbody-Bazin fit temperature, kK; NULL without a fit", "host"),
        Column("BBBPeakFlux", "DOUBLE", "Blackbody-Bazin fit peak flux, nJy; NULL without a fit", "host"),
        Column("BBBPeakMJD", "DOUBLE", "Blackbody-Bazin fit peak time, MJD TAI; NULL without a fit", "host"),
        Column("BBBPeakAbsMag", "DOUBLE", "Blackbody-Bazin fit peak absolute magnitude; NULL without a fit", "host"),
    ]
)

OBJECT_COLUMN_NAMES: tuple[str, ...] = tuple(c.name for c in OBJECT_COLUMNS)

_NO_DISTANCE = ("needs the distance of the host galaxy Sherlock associates; skystream computes the objects row "
                "from the alert alone, at ingest, where no sherlock_classifications row is at hand")
_NO_BBB = ("needs Lasair's Bazin-blackbody lightcurve fit (BBBEngine), which skystream does not compute yet; "
           "a filter on it matches nothing rather than a guess")
NULL_REASONS: dict[str, str] = {
    "ebv": "needs a Galactic dust map (Schlegel, Finkbeiner & Davis 1998), which skystream does not ship",
    "absMag": _NO_DISTANCE,
    "absMagMJD": _NO_DISTANCE,
    **dict.fromkeys(("BBBRiseRate", "BBBFallRate", "BBBTemp", "BBBPeakFlux", "BBBPeakMJD"), _NO_BBB),
    "BBBPeakAbsMag": _NO_BBB + "; it needs a host distance too",
}
"""Columns NULL by design until their inputs exist, and why (docs/filters.md prints these)."""

NULL_BY_DESIGN: frozenset[str] = frozenset(NULL_REASONS)

_COLUMN_TYPES: dict[str, str] = {c.name: c.sql_type for c in OBJECT_COLUMNS}


def row_problem(row: Mapping[str, Any]) -> str | None:
    """Why an objects row cannot be stored and filtered (None when it can).

    The row goes into DynamoDB and into every batch's SQLite database, so each column
    holds NULL or a value both can hold: a number in a numeric column (an integer of at
    most 64 bits: a larger one cannot be bound in SQLite), text in a TEXT column.
    ``diaObjectId`` is the key everywhere: a positive 64-bit integer. Checked where a row
    enters (ingest, and the matcher for rows written by an older version) so that one
    bad row is refused alone instead of failing its batch.
    """
    if not isinstance(row, Mapping):
        return f"the objects row is a {type(row).__name__}, not a record"
    problem = id_problem("objects.diaObjectId", row.get("diaObjectId"), positive=True)
    if problem:
        return problem
    for name, value in row.items():
        sql_type = _COLUMN_TYPES.get(name)
        if value is None or sql_type is None:  # not a column: no table holds it
            continue
        if sql_type == "TEXT":
            if not isinstance(value, str):
                return f"objects.{name} must be text, not {type(value).__name__}"
        elif not is_number(value):
            return f"objects.{name} must be a number, not {type(value).__name__}"
        elif is_integer(value) and not fits_int64(value):
            return id_problem(f"objects.{name}", value)
    return None
