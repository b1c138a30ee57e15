"""Where the object is: galactic latitude, the HTM level-16 index, and (not yet) extinction."""

from __future__ import annotations

import math
from typing import Any

from skystream.features.inputs import Lightcurve

# ICRS position of the north galactic pole (J2000), degrees.
NGP_RA = 192.85948
NGP_DEC = 27.12825
HTM_LEVEL = 16

Vector = tuple[float, float, float]


def galactic_latitude(ra: float, dec: float) -> float:
    """Galactic latitude in degrees: sin b = sin d sin d_p + cos d cos d_p cos(a - a_p)."""
    d, dp = math.radians(dec), math.radians(NGP_DEC)
    sin_b = math.sin(d) * math.sin(dp) + math.cos(d) * math.cos(dp) * math.cos(math.radians(ra - NGP_RA))
    return math.degrees(math.asin(max(-1.0, min(1.0, sin_b))))


def _unit(ra: float, dec: float) -> Vector:
    a, d = math.radians(ra), math.radians(dec)
    return (math.cos(d) * math.cos(a), math.cos(d) * math.sin(a), math.sin(d))


def _mid(a: Vector, b: Vector) -> Vector:
    x, y, z = a[0] + b[0], a[1] + b[1], a[2] + b[2]
    n = math.sqrt(x * x + y * y + z * z)
    return (x / n, y / n, z / n)


def _inside(p: Vector, a: Vector, b: Vector, c: Vector) -> bool:
    def side(u: Vector, v: Vector) -> float:  # (u x v) . p
        return (u[1] * v[2] - u[2] * v[1]) * p[0] + (u[2] * v[0] - u[0] * v[2]) * p[1] + (u[0] * v[1] - u[1] * v[0]) * p[2]

    return side(a, b) >= -1e-15 and side(b, c) >= -1e-15 and side(c, a) >= -1e-15


_V = ((0.0, 0.0, 1.0), (1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (-1.0, 0.0, 0.0), (0.0, -1.0, 0.0), (0.0, 0.0, -1.0))
# The eight root triangles of the Hierarchical Triangular Mesh (Szalay et al. 2007), ids 8..15.
_ROOTS: tuple[tuple[int, tuple[Vector, Vector, Vector]], ...] = (
    (8, (_V[1], _V[5], _V[2])),  # S0
    (9, (_V[2], _V[5], _V[3])),  # S1
    (10, (_V[3], _V[5], _V[4])),  # S2
    (11, (_V[4], _V[5], _V[1])),  # S3
    (12, (_V[1], _V[0], _V[4])),  # N0
    (13, (_V[4], _V[0], _V[3])),  # N1
    (14, (_V[3], _V[0], _V[2])),  # N2
    (15, (_V[2], _V[0], _V[1])),  # N3
)


def htm_index(ra: float, dec: float, level: int = HTM_LEVEL) -> int:
    """HTM trixel id: root id, then two bits per level (children 0-2 at the corners, 3 in the middle)."""
    p = _unit(ra, dec)
    trixel_id, (v0, v1, v2) = next(
        ((i, tri) for i, tri in _ROOTS if _inside(p, *tri)),
        _ROOTS[0],  # numerically outside every root (cannot happen beyond rounding): take the first
    )
    for _ in range(level):
        w0, w1, w2 = _mid(v1, v2), _mid(v0, v2), _mid(v0, v1)
        for child, tri in enumerate(((v0, w2, w1), (v1, w0, w2), (v2, w1, w0), (w0, w1, w2))):
            if child == 3 or _inside(p, *tri):
                break
        trixel_id = trixel_id * 4 + child
        v0, v1, v2 = tri
    return trixel_id


def position_features(lc: Lightcurve) -> dict[str, Any]:
    ra, dec = lc.dia_object.get("ra"), lc.dia_object.get("dec")
    if ra is None or dec is None:
        return {"glat": None, "ebv": None, "htm16": None}
    # ebv needs a dust map (e.g. SFD); NULL until one is configured, never a guess.
    return {"glat": galactic_latitude(ra, dec), "ebv": None, "htm16": htm_index(ra, dec)}
