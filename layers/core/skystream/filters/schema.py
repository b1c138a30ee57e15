"""The tables and columns a filter may use: the one description behind the checker, the
batch database, the API's schema endpoint and docs/filters.md.

``objects`` is ``skystream.features.columns.OBJECT_COLUMNS`` (the feature code fills exactly
those) followed by :data:`MATCH_TIME_COLUMNS`, which the batch builder fills when a batch is
matched (``tns_name``) or which stay NULL for a stated reason. The context tables follow
Lasair-LSST's names (DESIGN.md section 5); each is keyed by ``diaObjectId``, the column every
join uses. Every column Lasair-LSST's schema gives these tables is here under its Lasair name,
computed or loaded with Lasair's meaning, or NULL with the reason in ``null_reason``
(tests/unit/test_lasair_parity.py holds Lasair's lists against this module).

Lasair's other table names: ``objects_ext`` (:data:`SYNONYMS`) is the objects table, as in
Lasair, whose query builder rewrites ``objects_ext`` to ``objects`` (its MySQL objects table
holds the extended columns too); ``watchlist_hits`` is joined by ``watchlist:N`` in ``tables`` (one row per
object and source of watchlist N within the source's radius, docs/watchlists.md); ``area_hits`` by
``watchmap:N`` or ``area:N`` (one row per object and watchmap N whose MOC contains the object's position).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from skystream.features.columns import NULL_REASONS, OBJECT_COLUMNS

JOIN_KEY = "diaObjectId"


@dataclass(frozen=True)
class ColumnSchema:
    name: str
    sql_type: str  # BIGINT | INTEGER | DOUBLE | TEXT
    description: str
    null_reason: str = ""  # always NULL in skystream, and why ("" for a column that has values)


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


def _table(name: str, description: str, columns: list[tuple[str, ...]]) -> TableSchema:
    return TableSchema(name, description, {c[0]: ColumnSchema(*c) for c in columns})


_KEY = (JOIN_KEY, "BIGINT", "Rubin DIA object identifier (joins to objects.diaObjectId)")

MATCH_TIME_COLUMNS: tuple[ColumnSchema, ...] = (
    ColumnSchema("tns_name", "TEXT", "TNS name of this object if it has one, e.g. 2025abc (crossmatch_tns.tns_name, "
                 "joined when the batch is matched); NULL if it is not in TNS"),
    ColumnSchema("timestamp", "TEXT", "Lasair: when its database row of this object was last written",
                 null_reason="a bookkeeping time of Lasair's MySQL row; skystream matches the row as the alert "
                 "delivers it, and the enriched record carries no write time. lastDiaSourceMjdTai says when the "
                 "object last changed, a record's UTC when the filter ran"),
)
"""objects columns the feature code does not compute: filled when a batch is matched, or NULL (why)."""

DERIVED: dict[tuple[str, str], str] = {("objects", "tns_name"): "crossmatch_tns"}
"""(table, column) -> the context table its value is taken from when a batch is built (services/joins.py)."""

TABLES: dict[str, TableSchema] = {
    "objects": TableSchema(
        "objects",
        "One row per object, computed from its latest alert (features, counts, colours, jumps).",
        {c.name: ColumnSchema(c.name, c.sql_type, c.description, NULL_REASONS.get(c.name, "")) for c in OBJECT_COLUMNS}
        | {c.name: c for c in MATCH_TIME_COLUMNS},
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
            ("best_distance_flag", "TEXT", "Kind of best_distance: dd (direct distance), sz (spectroscopic "
             "redshift) or pz (photometric redshift)"),
            ("best_distance_source", "TEXT", "Catalogue best_distance comes from"),
            ("z", "DOUBLE", "Spectroscopic redshift of the matched source"),
            ("photoZ", "DOUBLE", "Photometric redshift of the matched source"),
            ("photoZErr", "DOUBLE", "Uncertainty of photoZ"),
            ("Mag", "DOUBLE", "Magnitude of the matched source"),
            ("MagFilter", "TEXT", "Band of Mag"),
            ("MagErr", "DOUBLE", "Uncertainty of Mag"),
            ("classificationReliability", "INTEGER", "1 (best) to 3: how reliable the classification is"),
            ("major_axis_arcsec", "DOUBLE", "Major axis of the matched galaxy, arcsec"),
            ("annotator", "TEXT", "Information about the Sherlock run that made this row"),
            ("additional_output", "TEXT", "Additional information from that run"),
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
            ("htm16", "BIGINT", "Hierarchical Triangular Mesh index (level 16) of ra, decl; computed when the row "
             "is loaded if not given"),
            ("lasairmodified_date", "TEXT", "When the row was loaded into the broker, 'YYYY-MM-DD HH:MM:SS' UTC "
             "(kept if the loaded row gives it)"),
        ],
    ),
    "annotations": _table(
        "annotations",
        "Annotations by annotators (classifiers). Use `annotator:NAME` in tables to join one "
        "annotator's latest annotation as `NAME`, e.g. NAME.classification.",
        [
            ("annotationID", "INTEGER", "Lasair: its database's counter of annotation rows",
             "Lasair's MySQL auto-increment row number, which identifies nothing outside its database; skystream "
             "keys an annotation by (diaObjectId, annotator)"),
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
    "watchlist_hits": _table(
        "watchlist_hits",
        "One row per object within a source's radius of a watchlist the filter names: write watchlist:N in "
        "tables (several allowed); only objects with a hit remain (an inner join).",
        [
            _KEY,
            ("wl_id", "INTEGER", "Id of the watchlist (the N of watchlist:N)"),
            ("cone_id", "BIGINT", "Number of the source in its watchlist (its line, counting sources from 1)"),
            ("name", "TEXT", "Name of the source, as given in the watchlist"),
            ("arcsec", "DOUBLE", "Angular distance from the source to the object's position, arcsec"),
        ],
    ),
    "area_hits": _table(
        "area_hits",
        "One row per object whose position lies in a watchmap the filter names: write watchmap:N (or Lasair's "
        "area:N) in tables (several allowed); only objects inside remain (an inner join).",
        [
            _KEY,
            ("ar_id", "INTEGER", "Id of the watchmap (the N of watchmap:N)"),
        ],
    ),
}

SYNONYMS: dict[str, str] = {"objects_ext": "objects"}
"""Lasair's other names of a table, in FROM, in ``tables`` and before a column: ``objects_ext.g_psfFluxSigma``
is ``objects.g_psfFluxSigma`` (Lasair's query builder rewrites objects_ext to objects)."""

NOT_BUILT: dict[str, str] = {}
"""Lasair tables a filter may name there but not here yet, with the refusal's words."""


def table_named(name: str) -> str | None:
    """The schema table a name means (case-insensitive; Lasair's synonyms resolved), or None."""
    lowered = name.lower()
    for table in TABLES:
        if table.lower() == lowered:
            return table
    return next((table for alias, table in SYNONYMS.items() if alias == lowered), None)


def not_built(name: str) -> str | None:
    """Why a Lasair table that is not built here is refused (None for any other name)."""
    return NOT_BUILT.get(name.lower())


@dataclass(frozen=True)
class SchemaView:
    """A table as ``/schema`` and the docs show it: the real tables, and objects_ext as Lasair shows it."""

    name: str
    description: str
    columns: tuple[ColumnSchema, ...]


def schema_views() -> list[SchemaView]:
    """Every table a filter may name, objects_ext with the extended columns Lasair lists under that name."""
    views = [SchemaView(t.name, t.description, tuple(t.columns.values())) for t in TABLES.values()]
    extended = tuple(TABLES["objects"].columns[c.name] for c in OBJECT_COLUMNS if c.extended)
    views.insert(1, SchemaView("objects_ext", "Lasair's name for the objects table's extended (diaObject) columns: "
                               "the same row as objects; objects_ext.X and objects.X are the same value, and "
                               "every objects column can be named either way.", extended))
    return views


_SQLITE_AFFINITY = {"BIGINT": "INTEGER", "INTEGER": "INTEGER", "DOUBLE": "REAL", "TEXT": "TEXT"}


def sqlite_type(sql_type: str) -> str:
    return _SQLITE_AFFINITY.get(sql_type.upper(), "")


def column_document(c: ColumnSchema) -> dict[str, str]:
    """One column as JSON-ready data; a column NULL by design says so, and why."""
    doc = {"name": c.name, "type": c.sql_type, "description": c.description}
    if c.null_reason:
        doc["null_reason"] = c.null_reason
    return doc


def schema_document() -> dict[str, list[dict[str, str]]]:
    """Tables and columns as JSON-ready data (API schema endpoint, docs)."""
    return {view.name: [column_document(c) for c in view.columns] for view in schema_views()}
