"""What a user-chosen name (a filter's, an annotator's) may hold: printable characters only.

A name is shown to people (filter lists, digests, the CLI) and becomes part of a topic name or
an SQL alias. A NUL, a newline or a bidirectional override (U+202E turns ``gpj.exe`` into what
reads as ``exe.jpg``) makes what is shown differ from what is stored, so control, format,
surrogate, private-use, unassigned and line/paragraph-separator characters are refused, naming
the first one and where it is. Letters of any script, digits, punctuation, symbols and the
ordinary space are printable and kept.
"""

from __future__ import annotations

import unicodedata
from typing import Annotated

from pydantic import AfterValidator

_NOT_PRINTABLE = {
    "Cc": "a control character",
    "Cf": "an invisible formatting character (e.g. a bidirectional override)",
    "Cs": "a lone surrogate",
    "Co": "a private-use character",
    "Cn": "an unassigned character",
    "Zl": "a line separator",
    "Zp": "a paragraph separator",
}


def check_printable(value: str, what: str = "the name") -> str:
    """``value`` unchanged, or ValueError naming the first character that is not printable and its position."""
    for index, char in enumerate(value):
        kind = _NOT_PRINTABLE.get(unicodedata.category(char))
        if kind is not None:
            name = unicodedata.name(char, "")
            raise ValueError(
                f"{what} holds {kind} at character {index + 1}: U+{ord(char):04X}{' ' + name if name else ''}; "
                "names may hold printable characters only"
            )
    return value


PrintableName = Annotated[str, AfterValidator(check_printable)]
"""A ``str`` field whose value must be printable (pydantic reports the error with the field's place)."""
