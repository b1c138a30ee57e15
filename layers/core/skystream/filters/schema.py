"""The tables and columns a filter may use: the one description behind the checker, the
batch database, the API's schema endpoint and docs/filters.md.

``objects`` comes from ``skystream.features.columns.OBJECT_COLUMNS`` (the feature code fills
exactly those). The context tables follow Lasair-LSST's names (DESIGN.md section 5); each
is keyed by ``diaObjectId``, the column every join uses.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from skystream.features.columns import OBJECT_COLUMNS

JOIN_KEY = "diaObjectId"


@dataclass(frozen=True)
class ColumnSchema:
    name: str
    sql_type: str  # BIGINT | INTEGER | DOUBLE | TEXT
    description: str


@dataclass(frozen=True)
class TableSchema:
    name: str
    description: str
    columns: dict[str, ColumnSchema] = field(default_factory=dict)

    def column(self, name: str) -> ColumnSchema | None:
        """Case-insensitive lookup, as MySQL resolves column names."""
        found = self.columns.get(name)
        if found is not None:
            return found
        lowered = name.lower()
        for column in self.columns.values():
            if column.name.lower() == lowered:
                return column
        return None


def _table(name: str, description: str, columns: list[tuple[str, str, str]]) -> TableSchema:
    return TableSchema(name, description, {n: ColumnSchema(n, t, d) for n, t, d in columns})


_KEY = (JOIN_KEY, "BIGINT", "Rubin DIA object identifier (joins to objects.diaObjectId)")

TABLES: dict[str, TableSchema] = {
    "objects": TableSchema(
        "objects",
        "One row per object, computed from its latest alert (features, counts, colours, jumps).",
        {c.name: ColumnSchema(c.name, c.sql_type, c.description) for c in OBJECT_COLUMNS},
    ),
    "sherlock_classifications": _table(
        "sherlock_classifications",
        "Sherlock's contextual classification of the object against galaxy and star catalogues.",
        [
            _KEY,
            ("classification", "TEXT", "Sherlock class: SN, NT, AGN, CV, VS, BS, ORPHAN, UNCLEAR"),
            ("association_type", "TEXT", "How the object relates to the matched source (e.g. SN, NT, VS)"),
            ("catalogue_table_name", "TEXT", "Catalogue(s) of the matched source"),
            ("catalogue_object_id", "TEXT", "Identifier of the matched source in its catalogue"),
            ("catalogue_object_type", "TEXT", "Type of the matched source: galaxy, star, qso, ..."),
            ("raDeg", "DOUBLE", "Right ascension of the matched source, degrees"),
            ("decDeg", "DOUBLE", "Declination of the matched source, degrees"),
            ("separationArcsec", "DOUBLE", "Angular separation from the matched source, arcsec"),
            ("northSeparationArcsec", "DOUBLE", "North component of the separation, arcsec"),
            ("eastSeparationArcsec", "DOUBLE", "East component of the separation, arcsec"),
            ("physical_separation_kpc", "DOUBLE", "Projected separation from the matched source, kpc"),
            ("direct_distance", "DOUBLE", "Redshift-independent distance of the matched source, Mpc"),
            ("distance", "DOUBLE", "Distance of the matched source, Mpc"),
            ("best_distance", "DOUBLE", "Best available distance of the matched source, Mpc"),
            ("z", "DOUBLE", "Spectroscopic redshift of the matched source"),
            ("photoZ", "DOUBLE", "Photometric redshift of the matched source"),
            ("photoZErr", "DOUBLE", "Uncertainty of photoZ"),
            ("Mag", "DOUBLE", "Magnitude of the matched source"),
            ("MagFilter", "TEXT", "Band of Mag"),
            ("MagErr", "DOUBLE", "Uncertainty of Mag"),
            ("classificationReliability", "INTEGER", "1 (best) to 3: how reliable the classification is"),
            ("major_axis_arcsec", "DOUBLE", "Major axis of the matched galaxy, arcsec"),
            ("description", "TEXT", "Sentence describing the match"),
            ("summary", "TEXT", "Short summary of the match"),
        ],
    ),
    "crossmatch_tns": _table(
        "crossmatch_tns",
        "The Transient Name Server entry at the object's position, if any.",
        [
            _KEY,
            ("tns_name", "TEXT", "TNS name without prefix, e.g. 2025abc"),
            ("tns_prefix", "TEXT", "TNS prefix: SN, AT, TDE, ..."),
            ("ra", "DOUBLE", "Right ascension of the TNS entry, degrees"),
            ("decl", "DOUBLE", "Declination of the TNS entry, degrees"),
            ("type", "TEXT", "TNS classification, e.g. 'SN Ia'; NULL if unclassified"),
            ("z", "DOUBLE", "Redshift of the transient"),
            ("hostz", "DOUBLE", "Redshift of the host"),
            ("host_name", "TEXT", "Name of the host galaxy"),
            ("disc_mag", "DOUBLE", "Discovery magnitude"),
            ("disc_mag_filter", "TEXT", "Band of the discovery magnitude"),
            ("disc_int_name", "TEXT", "Discoverer's internal name"),
            ("disc_date", "TEXT", "Discovery date, 'YYYY-MM-DD HH:MM:SS' UTC"),
            ("lastmodified_date", "TEXT", "Last change of the TNS entry, 'YYYY-MM-DD HH:MM:SS' UTC"),
            ("sender", "TEXT", "Who sent the report"),
            ("reporters", "TEXT", "Who reported the transient"),
            ("source_group", "TEXT", "Reporting group"),
            ("ext_catalogs", "TEXT", "External catalogues listing the transient"),
        ],
    ),
    "annotations": _table(
        "annotations",
        "Annotations by annotators (classifiers). Use `annotator:NAME` in tables to join one "
        "annotator's latest annotation as `NAME`, e.g. NAME.classification.",
        [
            _KEY,
            ("annotator", "TEXT", "Annotator name (Lasair calls it topic)"),
            ("topic", "TEXT", "Same as annotator, Lasair's name for it"),
            ("classification", "TEXT", "The annotator's class for the object"),
            ("version", "TEXT", "Version of the annotator"),
            ("explanation", "TEXT", "Why, in words"),
            ("classdict", "TEXT", "JSON document of details; read it with JSON_EXTRACT(NAME.classdict, '$.key')"),
            ("url", "TEXT", "Link to more information"),
            ("timestamp", "TEXT", "When the annotation was made, 'YYYY-MM-DD HH:MM:SS' UTC"),
        ],
    ),
}

_SQLITE_AFFINITY = {"BIGINT": "INTEGER", "INTEGER": "INTEGER", "DOUBLE": "REAL", "TEXT": "TEXT"}


def sqlite_type(sql_type: str) -> str:
    return _SQLITE_AFFINITY.get(sql_type.upper(), "")


def schema_document() -> dict[str, list[dict[str, str]]]:
    """Tables and columns as JSON-ready data (API schema endpoint, docs)."""
    return {
        name: [{"name": c.name, "type": c.sql_type, "description": c.description} for c in t.columns.values()]
        for name, t in TABLES.items()
    }
