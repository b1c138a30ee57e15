"""The Rubin alert schemas shipped as package data: which versions exist, their ids, their parsed form.

The ``.avsc`` files under ``schemas/<major.minor>/`` are verbatim GPL-3.0 data files
(licence beside them); this module only finds and parses them, once per process.
A Confluent schema id is ``major * 100 + minor`` (10.0 -> 1000, 11.1 -> 1101).
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from functools import cache
from pathlib import Path
from typing import Any

import fastavro.schema

SCHEMA_ROOT = Path(__file__).parent / "schemas"
SCHEMA_VERSIONS: tuple[str, ...] = ("10.0", "11.0", "11.1")
LATEST_VERSION = "11.1"


class UnknownSchema(LookupError):
    """A schema version or id this package does not ship."""


def schema_id(version: str) -> int:
    """``"11.1"`` -> ``1101``."""
    major, minor = (int(p) for p in version.split("."))
    return major * 100 + minor


def version_for_id(identifier: int) -> str:
    """``1101`` -> ``"11.1"``; raises :class:`UnknownSchema` for an id we do not ship."""
    version = f"{identifier // 100}.{identifier % 100}"
    if version not in SCHEMA_VERSIONS:
        raise UnknownSchema(
            f"unknown alert schema id {identifier}; shipped: "
            + ", ".join(f"{v} (id {schema_id(v)})" for v in SCHEMA_VERSIONS)
        )
    return version


def schema_dir(version: str) -> Path:
    if version not in SCHEMA_VERSIONS:
        raise UnknownSchema(f"unknown alert schema version {version!r}; use one of {', '.join(SCHEMA_VERSIONS)}")
    return SCHEMA_ROOT / version


def alert_schema_path(version: str) -> Path:
    major, minor = version.split(".")
    return schema_dir(version) / f"lsst.v{major}_{minor}.alert.avsc"


def sample_alert_path(version: str) -> Path:
    """The upstream ``sample_data/fakeAlert.avro`` (an Avro object container file with one alert)."""
    return schema_dir(version) / "sample_data" / "fakeAlert.avro"


@cache
def parsed_schema(version: str) -> Any:
    """The parsed alert schema (sibling record files resolved), cached: parsing costs milliseconds."""
    return fastavro.schema.load_schema(str(alert_schema_path(version)))


def record_fields(version: str, record: str) -> tuple[str, ...]:
    """Field names of ``record`` (``diaSource``, ``diaObject``, ``diaForcedSource``...) in schema order."""
    return tuple(record_field_types(version, record))


@cache
def record_field_types(version: str, record: str) -> dict[str, Any]:
    """Field name -> declared Avro type (``"float"``, ``["null", "int"]``...) of ``record``."""
    major, minor = version.split(".")
    path = schema_dir(version) / f"lsst.v{major}_{minor}.{record}.avsc"
    return {f["name"]: f["type"] for f in json.loads(path.read_text())["fields"]}


# --- schemas this package does not ship, from a Confluent schema registry -------------------------
REGISTRY_ENV = "SCHEMA_REGISTRY_URL"
_REGISTRY_CACHE: dict[tuple[str, int], tuple[Any, str] | None] = {}


class RegistryUnavailable(RuntimeError):
    """The schema registry could not be asked (network, 5xx): retry the batch, the record is not bad."""


def registry_schema(identifier: int) -> tuple[Any, str] | None:
    """(parsed schema, version label) for an id unknown here, from ``$SCHEMA_REGISTRY_URL``; None if
    no registry is configured or it does not know the id. Answers are cached per process.

    The label is ``"<major>.<minor>"`` when the schema's namespace is Rubin's (``lsst.v12_0``),
    else ``"id:<identifier>"``.
    """
    base = os.environ.get(REGISTRY_ENV, "").rstrip("/")
    if not base:
        return None
    key = (base, identifier)
    if key in _REGISTRY_CACHE:
        return _REGISTRY_CACHE[key]
    try:
        with urllib.request.urlopen(f"{base}/schemas/ids/{identifier}", timeout=10) as response:
            body = json.load(response)
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            _REGISTRY_CACHE[key] = None
            return None
        raise RegistryUnavailable(f"schema registry {base} answered {exc.code} for id {identifier}") from exc
    except (OSError, ValueError) as exc:
        raise RegistryUnavailable(f"schema registry {base} unreachable for id {identifier}: {exc}") from exc
    raw = json.loads(body["schema"]) if isinstance(body.get("schema"), str) else body.get("schema")
    schema = fastavro.parse_schema(raw)
    name = str(raw.get("namespace") or raw.get("name") or "") if isinstance(raw, dict) else ""
    label = f"id:{identifier}"
    if name.startswith("lsst.v"):
        label = name.removeprefix("lsst.v").split(".")[0].replace("_", ".")
    _REGISTRY_CACHE[key] = (schema, label)
    return schema, label
