"""What a request body may be before anything parses it: bounded nesting, bounded numbers.

Python's ``json`` recurses once per ``[``/``{`` (a body nested 1,000 deep raised RecursionError,
a 500, before the caller was even authenticated) and refuses integers over 4,300 digits with a
ValueError (another 500). No request of this API needs either: filters nest two levels, an
annotation's ``classdict`` a few, and every number fits a double or a signed 64-bit id. So the
text is scanned first, in linear time and without recursion, and refused with 400 saying what
and where; only a body within :data:`MAX_BODY_DEPTH` and :data:`MAX_NUMBER_CHARS` is parsed.
"""

from __future__ import annotations

import json
import re
from typing import Any

from skystream.domain.errors import BadRequest

MAX_BODY_DEPTH = 64
"""Deepest nesting of JSON arrays and objects a body may have (a filter body has 1, an annotation list 3)."""
MAX_NUMBER_CHARS = 100
"""Longest JSON number, in characters (an int64 id has at most 20; a double's shortest form at most 24)."""

# A string (to its closing quote, or to the end when it has none: every quote starts at most one
# match, so the scan stays linear), an opening or closing bracket, or a number that is too long.
_TOKENS = re.compile(
    r'"(?:[^"\\]++|\\.)*+(?:"|\\?\Z)|([\[{])|([\]}])|(-?[0-9][-+0-9.eE]{' + str(MAX_NUMBER_CHARS) + ",})",
    re.DOTALL,
)


def _where(text: str, offset: int) -> str:
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return f"at line {line}, column {column} of the body"


def check_json_text(text: str) -> None:
    """Refuse (400) a body nested deeper than :data:`MAX_BODY_DEPTH` or holding an over-long number."""
    depth = 0
    for match in _TOKENS.finditer(text):
        opening, closing, number = match.groups()
        if opening:
            depth += 1
            if depth > MAX_BODY_DEPTH:
                raise BadRequest(f"the body nests arrays and objects more than {MAX_BODY_DEPTH} levels deep "
                                 f"({_where(text, match.start())}); flatten it")
        elif closing:
            depth = max(0, depth - 1)
        elif number:
            raise BadRequest(f"a number of {len(number)} characters {_where(text, match.start())}; numbers may "
                             f"have at most {MAX_NUMBER_CHARS} (ids are signed 64-bit integers, at most "
                             f"{2**63 - 1})")


def loads(text: str) -> Any:
    """``json.loads`` after :func:`check_json_text` (powertools parses bodies with this)."""
    check_json_text(text)
    return json.loads(text)
