"""The SQL functions a filter may call, implemented for SQLite with MySQL's behaviour.

Lasair runs filters on MySQL; skystream runs them on SQLite. Rather than trust whichever
SQLite build the Lambda runtime ships (math functions are a compile-time option, and
SQLite's ``LOG(x)`` is base 10 where MySQL's is natural), every function except the
handful SQLite implements identically (COALESCE, IFNULL, NULLIF, IF) is registered here
as a Python function under its MySQL name. Each one:

- returns NULL (None) where MySQL returns NULL: a NULL argument, a domain error
  (``LOG10(-1)``, ``SQRT(-1)``), division by zero, an overflow;
- never raises: a filter that passed the checker must run on any batch;
- returns NULL instead of text over ``limits.MAX_STRING_BYTES`` (CONCAT checks before it
  builds anything), so what one row costs stays bounded (see ``filters/limits.py``);
- on a connection registered with a :class:`Stop`, returns NULL at once when the running
  filter is past its deadline.

``FUNCTIONS`` is the allow list the checker reads: name -> arity range.
"""

from __future__ import annotations

import json
import math
import re
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from skystream.filters.limits import MAX_STRING_BYTES, utf8_len

MJD_UNIX_EPOCH = 40587.0  # MJD of 1970-01-01T00:00:00


@dataclass(frozen=True)
class FunctionSpec:
    name: str
    min_args: int
    max_args: int  # -1: any number >= min_args
    description: str
    impl: Callable[..., Any] | None  # None: SQLite's own function of the same name
    unsafe: Callable[..., Any] | None = None  # impl before _safe: register() wraps it per connection


_NUMERIC_PREFIX = re.compile(r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")


def _num(value: Any) -> float | int | None:
    """MySQL's implicit conversion to a number: NULL stays NULL, a string uses its numeric
    prefix ('12abc' -> 12, 'abc' -> 0)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            return None
        return value
    if isinstance(value, str):
        match = _NUMERIC_PREFIX.match(value)
        if not match:
            return 0
        try:
            number = float(match.group(0))
        except ValueError:
            return 0
        return number if math.isfinite(number) else None
    return None  # blobs


def _str(value: Any) -> str | None:
    """MySQL's implicit conversion to a string."""
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    return str(value)


def _finite(value: Any) -> Any:
    """A result SQLite can hold and a later step can afford: no inf/NaN, no int past 64 bits,
    no text over MAX_STRING_BYTES (NULL instead, as MySQL gives NULL past max_allowed_packet)."""
    if value is None:
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, int) and not -(2**63) <= value < 2**63:
        return float(value)
    if isinstance(value, str) and len(value) * 4 > MAX_STRING_BYTES and utf8_len(value) > MAX_STRING_BYTES:
        return None
    return value


class Stop:
    """Set (by the engine's watchdog) when the running filter is past its deadline: from then
    on every function returns NULL at once, so the rest of a row (which SQLite cannot
    interrupt) costs nothing, and the engine reports the filter as timed out. One per
    connection, read once per call: cheaper than a clock read on every call."""

    __slots__ = ("stopped",)

    def __init__(self) -> None:
        self.stopped = False


def _safe(func: Callable[..., Any], stop: Stop | None = None) -> Callable[..., Any]:
    """Any Python error becomes NULL: user SQL that passed the check must never fail a batch."""

    if stop is None:
        def wrapper(*args: Any) -> Any:
            try:
                return _finite(func(*args))
            except (ArithmeticError, ValueError, TypeError, OverflowError, RecursionError, MemoryError):
                return None
    else:
        def wrapper(*args: Any) -> Any:
            if stop.stopped:
                return None
            try:
                return _finite(func(*args))
            except (ArithmeticError, ValueError, TypeError, OverflowError, RecursionError, MemoryError):
                return None

    wrapper.__name__ = func.__name__
    return wrapper


def _unary(op: Callable[[float], float], domain: Callable[[float], bool] = lambda x: True) -> Callable[..., Any]:
    def f(x: Any) -> Any:
        n = _num(x)
        if n is None or not domain(n):
            return None
        return op(n)

    return f


def flux2mag(flux: Any) -> float | None:
    """AB magnitude from a flux in nJy: 31.4 - 2.5 log10(flux); NULL for flux <= 0 or NULL."""
    n = _num(flux)
    if n is None or n <= 0:
        return None
    return 31.4 - 2.5 * math.log10(n)


def _log(a: Any, b: Any = None) -> float | None:
    """MySQL LOG(x) is the natural log; LOG(b, x) is log base b."""
    if b is None and a is not None:
        x = _num(a)
        return math.log(x) if x is not None and x > 0 else None
    base, x = _num(a), _num(b)
    if base is None or x is None or base <= 0 or base == 1 or x <= 0:
        return None
    return math.log(x) / math.log(base)


def _pow(a: Any, b: Any) -> float | None:
    x, y = _num(a), _num(b)
    if x is None or y is None:
        return None
    result = math.pow(x, y)
    return result


def _round_half_away(x: float | int, digits: int) -> float | int:
    if isinstance(x, int) and digits >= 0:
        return x
    factor = 10.0 ** digits
    scaled = abs(x) * factor
    rounded = math.floor(scaled + 0.5) / factor
    result = math.copysign(rounded, x)
    return int(result) if isinstance(x, int) else result


def _round(x: Any, d: Any = 0) -> float | int | None:
    n, digits = _num(x), _num(d)
    if n is None or digits is None:
        return None
    digits = max(-30, min(30, int(digits)))
    return _round_half_away(n, digits)


def _truncate(x: Any, d: Any) -> float | int | None:
    n, digits = _num(x), _num(d)
    if n is None or digits is None:
        return None
    digits = max(-30, min(30, int(digits)))
    factor = 10.0 ** digits
    return math.trunc(n * factor) / factor


def _floor(x: Any) -> int | None:
    n = _num(x)
    return None if n is None else math.floor(n)


def _ceil(x: Any) -> int | None:
    n = _num(x)
    return None if n is None else math.ceil(n)


def _sign(x: Any) -> int | None:
    n = _num(x)
    return None if n is None else (n > 0) - (n < 0)


def _abs(x: Any) -> float | int | None:
    n = _num(x)
    return None if n is None else abs(n)


def _mod(a: Any, b: Any) -> float | int | None:
    x, y = _num(a), _num(b)
    if x is None or y is None or y == 0:
        return None
    if isinstance(x, int) and isinstance(y, int):
        return int(math.fmod(x, y))
    return math.fmod(x, y)


def _atan(a: Any, b: Any = None) -> float | None:
    if b is None:
        n = _num(a)
        return None if n is None else math.atan(n)
    y, x = _num(a), _num(b)
    return None if y is None or x is None else math.atan2(y, x)


def _atan2(a: Any, b: Any) -> float | None:
    return _atan(a, b)


def _extreme(pick: Callable[..., Any]) -> Callable[..., Any]:
    """GREATEST/LEAST: NULL if any argument is NULL (MySQL >= 8.0.4); strings compare as strings
    only when all arguments are strings."""

    def f(*args: Any) -> Any:
        if any(a is None for a in args):
            return None
        if all(isinstance(a, str) for a in args):
            return pick(args)
        numbers = [_num(a) for a in args]
        if any(n is None for n in numbers):
            return None
        return pick(numbers)

    return f


def _concat(*args: Any) -> str | None:
    """NULL if any part is NULL, or if the result would be over MAX_STRING_BYTES (checked
    before joining: a thousand 64 KB parts must not build a 64 MB string first)."""
    parts = [_str(a) for a in args]
    if any(p is None for p in parts):
        return None
    if sum(len(p) for p in parts) > MAX_STRING_BYTES:  # type: ignore[arg-type]
        return None  # characters <= bytes: surely over
    return "".join(parts)  # type: ignore[arg-type]


_MISSING = object()


def _substring(s: Any, pos: Any, length: Any = _MISSING) -> str | None:
    """MySQL SUBSTRING: 1-based; negative pos counts from the end; pos 0 gives ''."""
    text, p = _str(s), _num(pos)
    n = len(text or "") if length is _MISSING else _num(length)
    if text is None or p is None or n is None:
        return None
    p, n = int(p), int(n)
    if p == 0 or n <= 0:
        return ""
    start = p - 1 if p > 0 else len(text) + p
    if start < 0 or start >= len(text):
        return ""
    return text[start : start + n]


def _left(s: Any, n: Any) -> str | None:
    text, k = _str(s), _num(n)
    if text is None or k is None:
        return None
    return text[: max(0, int(k))]


def _right(s: Any, n: Any) -> str | None:
    text, k = _str(s), _num(n)
    if text is None or k is None:
        return None
    k = int(k)
    return text[-k:] if k > 0 else ""


def _upper(s: Any) -> str | None:
    text = _str(s)
    return None if text is None else text.upper()


def _lower(s: Any) -> str | None:
    text = _str(s)
    return None if text is None else text.lower()


def _length(s: Any) -> int | None:
    """MySQL LENGTH counts bytes (UTF-8); CHAR_LENGTH counts characters."""
    text = _str(s)
    return None if text is None else len(text.encode("utf-8"))


def _char_length(s: Any) -> int | None:
    text = _str(s)
    return None if text is None else len(text)


def _trim(s: Any) -> str | None:
    text = _str(s)
    return None if text is None else text.strip(" ")


def _ltrim(s: Any) -> str | None:
    text = _str(s)
    return None if text is None else text.lstrip(" ")


def _rtrim(s: Any) -> str | None:
    text = _str(s)
    return None if text is None else text.rstrip(" ")


def _locate(sub: Any, s: Any, pos: Any = 1) -> int | None:
    """MySQL LOCATE(substr, str[, pos]): 1-based position, 0 when absent; case-insensitive."""
    needle, hay, p = _str(sub), _str(s), _num(pos)
    if needle is None or hay is None or p is None:
        return None
    p = int(p)
    if p < 1:
        return 0
    return hay.lower().find(needle.lower(), p - 1) + 1


def _instr(s: Any, sub: Any) -> int | None:
    return _locate(sub, s)


# An unquoted key runs to the next '.', '[' or space: Lasair's own docs write '$.lsst-r.absolute_peak_mag_val'
# (MySQL wants '$."lsst-r"...'), and a key MySQL accepts unquoted reads the same either way.
_PATH_TOKEN = re.compile(r'\.([^."\[\]\s*]+)|\."((?:[^"\\]|\\.)*)"|\[(\d+)\]')


def _parse_json_path(path: str) -> list[str | int] | None:
    """The subset of MySQL JSON paths filters use: $, .key, ."quoted key", [n]; a key with a '-' may go unquoted."""
    if not path.startswith("$"):
        return None
    steps: list[str | int] = []
    rest = path[1:]
    while rest:
        match = _PATH_TOKEN.match(rest)
        if not match:
            return None
        key, quoted, index = match.groups()
        if key is not None:
            steps.append(key)
        elif quoted is not None:
            steps.append(quoted.replace('\\"', '"'))
        else:
            steps.append(int(index))
        rest = rest[match.end() :]
    return steps


def _json_extract(doc: Any, path: Any) -> Any:
    """JSON_EXTRACT(doc, path): NULL for a missing path or invalid JSON (MySQL raises for the
    latter; a filter must not fail a batch). Scalars come back as SQL values, so
    ``JSON_EXTRACT(classdict, '$.class') = 'SN'`` behaves as in MySQL; objects and arrays as
    JSON text."""
    text, p = _str(doc), _str(path)
    if text is None or p is None:
        return None
    steps = _parse_json_path(p.strip())
    if steps is None:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    for step in steps:
        found = (isinstance(step, int) and isinstance(value, list) and step < len(value)) or (
            isinstance(step, str) and isinstance(value, dict) and step in value)
        if not found:
            return None
        value = value[step]
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(", ", ": "))
    if isinstance(value, bool):
        return int(value)
    return value


def make_mjdnow(clock: Callable[[], float] = time.time) -> Callable[[], float]:
    def mjdnow() -> float:
        """The current time as MJD (UTC), as Lasair's mjdnow()."""
        return clock() / 86400.0 + MJD_UNIX_EPOCH

    return mjdnow


def _spec(name: str, lo: int, hi: int, description: str, impl: Callable[..., Any] | None) -> FunctionSpec:
    return FunctionSpec(name, lo, hi, description, None if impl is None else _safe(impl), impl)


FUNCTIONS: dict[str, FunctionSpec] = {
    s.name: s
    for s in [
        _spec("MJDNOW", 0, 0, "current time as MJD (UTC)", None),  # registered per engine: needs the clock
        _spec("FLUX2MAG", 1, 1, "AB magnitude from a flux in nJy: 31.4 - 2.5 log10(flux); NULL if flux <= 0", flux2mag),
        _spec("ABS", 1, 1, "absolute value", _abs),
        _spec("SIGN", 1, 1, "-1, 0 or 1", _sign),
        _spec("SQRT", 1, 1, "square root; NULL for negative numbers", _unary(math.sqrt, lambda x: x >= 0)),
        _spec("LOG10", 1, 1, "base-10 logarithm; NULL for x <= 0", _unary(math.log10, lambda x: x > 0)),
        _spec("LOG2", 1, 1, "base-2 logarithm; NULL for x <= 0", _unary(math.log2, lambda x: x > 0)),
        _spec("LN", 1, 1, "natural logarithm; NULL for x <= 0", _unary(math.log, lambda x: x > 0)),
        _spec("LOG", 1, 2, "LOG(x) natural logarithm, LOG(b, x) base b", _log),
        _spec("EXP", 1, 1, "e to the power x", _unary(math.exp)),
        _spec("POW", 2, 2, "x to the power y", _pow),
        _spec("POWER", 2, 2, "x to the power y", _pow),
        _spec("FLOOR", 1, 1, "largest integer <= x", _floor),
        _spec("CEIL", 1, 1, "smallest integer >= x", _ceil),
        _spec("CEILING", 1, 1, "smallest integer >= x", _ceil),
        _spec("ROUND", 1, 2, "round half away from zero to d decimals", _round),
        _spec("TRUNCATE", 2, 2, "truncate to d decimals", _truncate),
        _spec("MOD", 2, 2, "remainder, sign of the dividend; NULL for a zero divisor", _mod),
        _spec("PI", 0, 0, "pi", lambda: math.pi),
        _spec("SIN", 1, 1, "sine (radians)", _unary(math.sin)),
        _spec("COS", 1, 1, "cosine (radians)", _unary(math.cos)),
        _spec("TAN", 1, 1, "tangent (radians)", _unary(math.tan)),
        _spec("ASIN", 1, 1, "arc sine; NULL outside [-1, 1]", _unary(math.asin, lambda x: -1 <= x <= 1)),
        _spec("ACOS", 1, 1, "arc cosine; NULL outside [-1, 1]", _unary(math.acos, lambda x: -1 <= x <= 1)),
        _spec("ATAN", 1, 2, "arc tangent; ATAN(y, x) as ATAN2", _atan),
        _spec("ATAN2", 2, 2, "arc tangent of y/x", _atan2),
        _spec("DEGREES", 1, 1, "radians to degrees", _unary(math.degrees)),
        _spec("RADIANS", 1, 1, "degrees to radians", _unary(math.radians)),
        _spec("GREATEST", 2, -1, "largest argument; NULL if any is NULL", _extreme(max)),
        _spec("LEAST", 2, -1, "smallest argument; NULL if any is NULL", _extreme(min)),
        _spec("IF", 3, 3, "IF(condition, then, else)", None),
        _spec("IFNULL", 2, 2, "first argument unless NULL, else the second", None),
        _spec("COALESCE", 1, -1, "first non-NULL argument", None),
        _spec("NULLIF", 2, 2, "NULL if the arguments are equal, else the first", None),
        _spec("CONCAT", 1, -1, "string concatenation; NULL if any argument is NULL", _concat),
        _spec("SUBSTRING", 2, 3, "SUBSTRING(s, pos[, len]), 1-based, negative pos from the end", _substring),
        _spec("SUBSTR", 2, 3, "as SUBSTRING", _substring),
        _spec("MID", 3, 3, "as SUBSTRING", _substring),
        _spec("LEFT", 2, 2, "leftmost n characters", _left),
        _spec("RIGHT", 2, 2, "rightmost n characters", _right),
        _spec("UPPER", 1, 1, "upper case", _upper),
        _spec("UCASE", 1, 1, "upper case", _upper),
        _spec("LOWER", 1, 1, "lower case", _lower),
        _spec("LCASE", 1, 1, "lower case", _lower),
        _spec("LENGTH", 1, 1, "length in bytes (UTF-8)", _length),
        _spec("CHAR_LENGTH", 1, 1, "length in characters", _char_length),
        _spec("TRIM", 1, 1, "remove leading and trailing spaces", _trim),
        _spec("LTRIM", 1, 1, "remove leading spaces", _ltrim),
        _spec("RTRIM", 1, 1, "remove trailing spaces", _rtrim),
        _spec("LOCATE", 2, 3, "LOCATE(substr, str[, pos]): 1-based position, 0 if absent", _locate),
        _spec("INSTR", 2, 2, "INSTR(str, substr): 1-based position, 0 if absent", _instr),
        _spec("JSON_EXTRACT", 2, 2, "value at a JSON path ('$.key', '$.list[0]'); NULL if absent", _json_extract),
    ]
}

NATIVE: frozenset[str] = frozenset(name for name, spec in FUNCTIONS.items() if spec.impl is None)

# The name each is registered under in SQLite. Prefixed so that nothing a filter names can
# reach a SQLite built-in by accident, and so SQLite's differing built-ins are never used.
UDF_PREFIX = "ss_"


def udf_name(name: str) -> str:
    return UDF_PREFIX + name.lower()


def register(conn: sqlite3.Connection, clock: Callable[[], float] = time.time, stop: Stop | None = None) -> None:
    """Install every allowed function on a SQLite connection (deterministic where it is);
    with ``stop``, each returns NULL at once while ``stop.stopped`` is set.

    ``mjdnow()`` is read once, here: constant for the whole batch as MySQL's NOW() is within
    a statement, so SQLite can evaluate it once instead of per row."""
    for name, spec in FUNCTIONS.items():
        if spec.impl is None or spec.unsafe is None:
            continue
        n_args = -1 if spec.max_args != spec.min_args else spec.min_args
        impl = spec.impl if stop is None else _safe(spec.unsafe, stop)
        conn.create_function(udf_name(name), n_args, impl, deterministic=True)
    now = make_mjdnow(clock)()
    conn.create_function(udf_name("MJDNOW"), 0, lambda: now, deterministic=True)
