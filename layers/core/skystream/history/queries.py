"""The statements the history answers, for DuckDB and Trino (Athena): pure text builders, no engine.

A filter's ``objects`` (see :mod:`skystream.history.dialects`) is a CTE over ``objects_history``: exactly the
columns of the filters' objects table (``filters.schema.TABLES["objects"]``: integers as BIGINT, a NaN or
infinite real as NULL as the matcher loads it (``engine.sql_value``), the columns filled only when a batch is
matched as NULL) plus ``diaSourceId`` for the keys. Rows are deduplicated by each table's unique key
(``history.schema``): a redelivered batch or a compaction may leave a row twice.
"""

from __future__ import annotations

import re

from skystream.domain.sky import cone_ranges
from skystream.filters.schema import TABLES
from skystream.history.dialects import Dialect, HistorySql, real_literal
from skystream.history.schema import DETECTIONS, FORCED_PHOTOMETRY, OBJECTS_HISTORY, HistoryTable

_SQL_TYPE = {"BIGINT": "BIGINT", "INTEGER": "BIGINT", "DOUBLE": "DOUBLE", "TEXT": "VARCHAR"}
_TAIL_LIMIT = re.compile(r" LIMIT (\d+)$")


def quote(name: str, dialect: Dialect) -> str:
    """An identifier as both dialects quote it (double quotes; Athena's DML takes them too)."""
    return '"' + name.replace('"', '""') + '"'


def _finite(sql: str, dialect: Dialect) -> str:
    """A stored real as the matcher's SQLite holds it: NaN and infinities NULL (``engine.sql_value``), -0.0 as 0.0
    (SQLite stores an integral real as an integer, which has no sign of zero)."""
    test = f"isfinite({sql})" if dialect == "duckdb" else f"is_finite({sql})"
    return f"CASE WHEN {test} THEN {sql} + 0.0e0 END"


def _objects_select(dialect: Dialect, source: str) -> str:
    """The filter table's columns over ``source`` (an objects_history row set), plus diaSourceId."""
    stored = set(OBJECTS_HISTORY.column_names)
    parts = []
    for column in TABLES["objects"].columns.values():
        name = quote(column.name, dialect)
        sql_type = _SQL_TYPE[column.sql_type]
        if column.name not in stored:
            parts.append(f"CAST(NULL AS {sql_type}) AS {name}")
        elif column.sql_type == "DOUBLE":
            parts.append(f"{_finite(f'CAST(h.{name} AS DOUBLE)', dialect)} AS {name}")
        else:
            parts.append(f"CAST(h.{name} AS {sql_type}) AS {name}")
    parts.append('CAST(h."diaSourceId" AS BIGINT) AS "diaSourceId"')
    return f"SELECT {', '.join(parts)} FROM {source} AS h"


def _ranked(table: HistoryTable, where: str, dialect: Dialect, *, partition: str | None = None,
            ranking: str = 't."night"') -> str:
    """``table``'s rows matching ``where``, numbered (``history_rank``) within each ``partition`` (by default the
    table's unique key, so that rank 1 is each row once) in ``ranking`` order."""
    if partition is None:
        partition = ", ".join(f"t.{quote(c, dialect)}" for c in table.unique_key)
    return (f"(SELECT t.*, row_number() OVER (PARTITION BY {partition} ORDER BY {ranking}) AS \"history_rank\" "
            f"FROM {quote(table.name, dialect)} AS t WHERE {where})")


def _page(rows_sql: str, dialect: Dialect, limit: int, offset: int = 0) -> str:
    """``rows_sql`` cut to ``limit`` rows from ``offset``, within its own LIMIT if it has one."""
    match = _TAIL_LIMIT.search(rows_sql)
    body = rows_sql[: match.start()] if match else rows_sql
    if match:
        limit = max(0, min(limit, int(match.group(1)) - offset))
    if dialect == "trino":
        return body + (f" OFFSET {offset}" if offset else "") + f" LIMIT {limit}"
    return body + f" LIMIT {limit}" + (f" OFFSET {offset}" if offset else "")


def _latest_objects(dialect: Dialect, where: str = "TRUE") -> str:
    ranked = _ranked(OBJECTS_HISTORY, where, dialect, partition='t."diaObjectId"',
                     ranking='t."alertMjdTai" DESC NULLS LAST, t."diaSourceId" DESC')
    return f"(SELECT * FROM {ranked} AS r WHERE r.\"history_rank\" = 1)"


def _night_objects(dialect: Dialect, night: int) -> str:
    ranked = _ranked(OBJECTS_HISTORY, f't."night" = {int(night)}', dialect)
    return f"(SELECT * FROM {ranked} AS r WHERE r.\"history_rank\" = 1)"


def _within(nights: tuple[int, int] | None) -> str:
    """A condition on the partition column: Athena's partition projection then lists only those nights'
    prefixes rather than every night of the projection's range (10,001)."""
    return "TRUE" if nights is None else f't."night" BETWEEN {int(nights[0])} AND {int(nights[1])}'


def latest_rows(h: HistorySql, dialect: Dialect, *, limit: int, offset: int,
                nights: tuple[int, int] | None = None) -> str:
    """The filter over the latest row of every object (newest alertMjdTai, then diaSourceId), paged in the
    filter's own order (then by diaObjectId, so pages neither overlap nor skip). ``nights`` (first, last):
    the nights the history holds, to bound what the engine lists."""
    objects = _objects_select(dialect, _latest_objects(dialect, _within(nights)))
    return f'WITH "objects" AS ({objects}) {_page(h.rows_sql, dialect, limit, offset)}'


def night_counts(h: HistorySql, dialect: Dialect, night: int) -> str:
    """One row: ``alerts`` (that night's objects_history rows the filter's conditions hold for), ``objects``
    (distinct diaObjectId among them), ``total`` (all of that night's alerts)."""
    objects = _objects_select(dialect, _night_objects(dialect, night))
    return (f'WITH "objects" AS ({objects}), "matched" AS ({h.keys_sql}) '
            'SELECT (SELECT count(*) FROM "matched") AS "alerts", '
            '(SELECT count(DISTINCT "diaObjectId") FROM "matched") AS "objects", '
            '(SELECT count(*) FROM "objects") AS "total"')


def night_sample(h: HistorySql, dialect: Dialect, night: int, sample: int) -> str:
    """The filter's own rows over that night's rows (each alert's objects row), at most ``sample``."""
    objects = _objects_select(dialect, _night_objects(dialect, night))
    return f'WITH "objects" AS ({objects}) {_page(h.rows_sql, dialect, sample)}'


def _table_rows(table: HistoryTable, dialect: Dialect, dia_object_id: int, nights: tuple[int, int] | None) -> str:
    columns = ", ".join(f"r.{quote(c, dialect)}" for c in table.column_names)
    ranked = _ranked(table, f't."diaObjectId" = CAST({int(dia_object_id)} AS BIGINT) AND {_within(nights)}', dialect)
    key = ", ".join(f"r.{quote(c, dialect)}" for c in table.unique_key)
    return (f"SELECT {columns} FROM {ranked} AS r WHERE r.\"history_rank\" = 1 "
            f"ORDER BY r.\"midpointMjdTai\", {key}")


def lightcurve(dialect: Dialect, dia_object_id: int, nights: tuple[int, int] | None = None) -> tuple[str, str]:
    """(detections, forced photometry) of one object, each row once, oldest first (``nights``: as for
    :func:`latest_rows`)."""
    return (_table_rows(DETECTIONS, dialect, dia_object_id, nights),
            _table_rows(FORCED_PHOTOMETRY, dialect, dia_object_id, nights))


def _separation_sql(ra: float, decl: float, dialect: Dialect) -> str:
    """``skystream.domain.sky.separation_arcsec`` (Vincenty on the sphere) from (ra, decl) to each row, arcsec."""
    d1 = f"radians({real_literal(decl)})"
    d2, dra = 'radians(o."decl")', f'radians(o."ra" - {real_literal(ra)})'
    across = (f"sqrt(power(cos({d2}) * sin({dra}), 2) + "
              f"power(cos({d1}) * sin({d2}) - sin({d1}) * cos({d2}) * cos({dra}), 2))")
    along = f"sin({d1}) * sin({d2}) + cos({d1}) * cos({d2}) * cos({dra})"
    return f"degrees(atan2({across}, {along})) * 3600.0e0"


def cone(dialect: Dialect, ra: float, decl: float, radius_arcsec: float, *, limit: int) -> str:
    """The latest rows of objects within ``radius_arcsec`` of (ra, decl), nearest first, with ``arcsec``.

    The files are sorted by ``skyPixel``, so the pixel ranges of the cone's cover
    (``domain.sky.cone_ranges``) let the engine skip row groups; the exact separation decides. An object's
    latest row is looked for among its rows in the cover (a position moves by far less than a cover cell)."""
    ranges = cone_ranges(ra, decl, radius_arcsec)
    prune = " OR ".join(f't."skyPixel" BETWEEN {r.first} AND {r.last}' for r in ranges) or "FALSE"
    objects = _objects_select(dialect, _latest_objects(dialect, f"({prune})"))
    columns = ", ".join(f"o.{quote(c, dialect)}" for c in TABLES["objects"].columns)
    separation = _separation_sql(ra, decl, dialect)
    return (f'WITH "objects" AS ({objects}), "near" AS (SELECT {columns}, {separation} AS "arcsec" FROM "objects" AS o) '
            f'SELECT * FROM "near" WHERE "arcsec" <= {real_literal(radius_arcsec)} ORDER BY "arcsec", "diaObjectId" '
            f"LIMIT {int(limit)}")
