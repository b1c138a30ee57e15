"""What one filter may cost: the sizes that bound a single SQLite step, in one place.

A filter's time limit is enforced by interrupting SQLite (``filters.engine``), and SQLite
only notices an interrupt between rows. So the work of one row must itself be bounded,
or one row can run for seconds past the limit (issue 13: a LIKE of a 9,000-character
pattern over a 30 KB string took 0.27 s per row, 40 s per batch). What one row costs is
bounded by these numbers:

- ``LIKE`` costs up to (pattern bytes) x (text bytes) per evaluation: SQLite matches a
  ``%`` by trying every position. The checker caps each literal pattern and the total of
  a filter's patterns (a pattern computed from columns counts as the most it may be);
  SQLite itself refuses a computed pattern over :data:`MAX_LIKE_PATTERN_BYTES`.
- Text reaching a LIKE is a column (the largest is an annotation's ``classdict``, at most
  64 KB), a literal (at most :data:`MAX_STRING_LITERAL_BYTES`), or the result of one of our
  functions, which give NULL instead of a string over :data:`MAX_STRING_BYTES` (as MySQL's
  CONCAT gives NULL past ``max_allowed_packet``).
- SQLite refuses to make any value or row over :data:`MAX_VALUE_BYTES` (a backstop: sorting
  builds rows of the selected columns).

Worst row measured with these numbers: see docs/filters.md ("Limits").
"""

from __future__ import annotations

import sqlite3

MAX_LIKE_PATTERN_BYTES = 200  # one LIKE pattern, UTF-8 bytes (SQLite's own default is 50,000)
MAX_LIKE_PATTERNS_TOTAL_BYTES = 1000  # all LIKE patterns of one filter together
MAX_STRING_LITERAL_BYTES = 1000  # one quoted string in a filter
MAX_STRING_BYTES = 64 * 1024  # the longest text our functions (CONCAT, UPPER, ...) return; longer -> NULL
MAX_VALUE_BYTES = 1024 * 1024  # any value or row SQLite builds while a filter runs


def utf8_len(text: str) -> int:
    """Bytes of ``text`` as SQLite stores it (UTF-8): the unit every limit here is in."""
    return len(text.encode("utf-8", "surrogatepass"))


def apply_sqlite_limits(conn: sqlite3.Connection) -> None:
    """Set SQLite's run-time limits on a loaded batch database (after loading: the rows are in).

    A LIKE whose pattern is computed (not a literal the checker saw) fails its filter with
    "LIKE or GLOB pattern too complex" instead of running for seconds.
    """
    conn.setlimit(sqlite3.SQLITE_LIMIT_LIKE_PATTERN_LENGTH, MAX_LIKE_PATTERN_BYTES)
    conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_VALUE_BYTES)
