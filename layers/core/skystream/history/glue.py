"""The Glue (Athena) form of the history tables: column names and types as the template declares them.

``infra/template.yaml`` lists each table's columns (``AWS::Glue::Table``); they are generated from
``history.schema`` (``skystream history glue-columns``) and ``tests/unit/test_template_history.py`` checks
they still equal it, in order and type. Glue keeps names in lower case; Athena matches Parquet columns
by name without regard to case, so ``diaObjectId`` in a file is ``diaobjectid`` in SQL.
"""

from __future__ import annotations

from typing import Any

from skystream.history.schema import HistoryTable

GLUE_TYPES = {"BIGINT": "bigint", "INTEGER": "int", "DOUBLE": "double", "TEXT": "string"}
MAX_COMMENT = 255  # Glue's limit on a column comment


def glue_columns(table: HistoryTable) -> list[dict[str, Any]]:
    """``[{"Name", "Type", "Comment"}]`` of ``table`` in column order (the partition column is not one)."""
    return [{"Name": c.name.lower(), "Type": GLUE_TYPES[c.sql_type], "Comment": c.description[:MAX_COMMENT]}
            for c in table.columns]
