"""The Lasair API's parameters, read from wherever a client put them, and their models.

Lasair (Django REST framework) takes every parameter from the query string of a GET, or from a
form-encoded or JSON body of a POST; the ``lasair`` client posts forms, except ``annotate_list``,
which posts JSON. So a request's parameters here are its query string's and its body's together
(the same name in both must have the same value: 400 otherwise, rather than one silently winning).
``token`` (the key, read by ``api.auth``) and ``format`` (Lasair's ``format=json``) are not
parameters. Names a route does not know are ignored, as Lasair ignores them, and listed in the
answer's ``X-Skystream-Ignored-Parameters`` header, so a typo is visible without breaking a tool
that sends extras.

Form values are text: numbers and booleans are read from it (``True``/``False`` as Python's
``str()`` writes them, as the client sends them; also true/false, 1/0, yes/no). A JSON string
inside a form value (``classdict``) passes the same shape checks as a JSON body
(``api.body``: nesting, number length) before it is parsed.
"""

from __future__ import annotations

import json
from typing import Any, Literal, TypeVar
from urllib.parse import parse_qsl

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from skystream.api import body as request_body
from skystream.domain.bounds import INT64_MAX
from skystream.domain.errors import BadRequest

NOT_PARAMETERS = frozenset({"token", "format"})
FORM = "application/x-www-form-urlencoded"


def _from_form(text: str) -> dict[str, str]:
    try:
        pairs = parse_qsl(text, keep_blank_values=True, errors="strict")
    except UnicodeDecodeError as exc:
        raise BadRequest(f"the form body is not UTF-8 text once its %-escapes are decoded ({exc.reason}); "
                         "encode the values as UTF-8") from exc
    return _merge("the form body", pairs)


def _merge(where: str, pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for name, value in pairs:
        if name in merged and merged[name] != value:
            raise BadRequest(f"parameter {name!r} is given twice in {where} with different values; give it once")
        merged[name] = value
    return merged


def _from_json(text: str) -> dict[str, Any]:
    try:
        parsed = request_body.loads(text)
    except json.JSONDecodeError as exc:
        raise BadRequest(f"the body is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}); "
                         f"send a JSON object or a form ({FORM})") from exc
    if not isinstance(parsed, dict):
        raise BadRequest(f"the JSON body must be an object of parameters, not a {type(parsed).__name__}")
    return parsed


def request_params(query: dict[str, str] | None, content_type: str, body_text: str | None) -> dict[str, Any]:
    """Every parameter of a request: the query string's and the body's (form or JSON), merged."""
    params = _merge("the query string", [(k, v) for k, v in (query or {}).items()])
    kind = content_type.split(";", 1)[0].strip().lower()
    text = body_text or ""
    if text.strip():
        if kind == FORM:
            found = _from_form(text)
        elif kind in ("application/json", "") or kind.endswith("+json"):
            found = _from_json(text)
        else:
            raise BadRequest(f"a body of type {kind!r} cannot be read; send the parameters form-encoded "
                             f"({FORM}), as JSON (application/json), or in the query string")
        for name, value in found.items():
            if name in params and params[name] != value and str(params[name]) != str(value):
                raise BadRequest(f"parameter {name!r} is given in the query string and in the body with different "
                                 "values; give it once")
            params[name] = value
    return {k: v for k, v in params.items() if k not in NOT_PARAMETERS}


def json_object(name: str, value: Any) -> dict[str, Any]:
    """A parameter that is a JSON object, given as one or as JSON text (``classdict``); "" is {}."""
    if isinstance(value, dict):
        return value
    if isinstance(value, str):
        if not value.strip():
            return {}
        try:
            parsed = request_body.loads(value)
        except json.JSONDecodeError as exc:
            raise BadRequest(f"{name} is not valid JSON ({exc.msg} at column {exc.colno}); send a JSON object "
                             "such as {\"prob\": 0.9}") from exc
        if isinstance(parsed, dict):
            return parsed
    raise BadRequest(f"{name} must be a JSON object (or its JSON text), such as {{\"prob\": 0.9}}")


# -- the models ------------------------------------------------------------------------------------


class LasairParams(BaseModel):
    """Parameters of one Lasair API call; names it does not declare are ignored (and reported)."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


ObjectIdField = Field(ge=1, le=INT64_MAX, description="The Rubin diaObjectId")


class ConeParams(LasairParams):
    ra: float = Field(description="Right ascension, degrees, 0 to 360")
    dec: float = Field(description="Declination, degrees, -90 to 90")
    radius: float = Field(description="Radius, arcsec, more than 0 and at most 1000")
    requestType: Literal["nearest", "all", "count"] = Field(
        default="all", description="nearest: the nearest object; all: every object; count: how many")


class QueryParams(LasairParams):
    selected: str = Field(min_length=1, max_length=4096, description="The SELECT list (Lasair: at most 4096 chars)")
    tables: str = Field(min_length=1, max_length=1024, description="The FROM list (at most 1024 chars)")
    conditions: str = Field(default="", max_length=4096, description="The WHERE clause, may be empty")
    limit: int = Field(default=1000, ge=1, le=1_000_000, description="Most rows (capped by the token's tier)")
    offset: int = Field(default=0, ge=0, le=1_000_000, description="Rows to skip")


class ObjectParams(LasairParams):
    objectId: int = ObjectIdField
    lite: bool = Field(default=False, description="Lite lightcurve (the client sends True) or the full detections")
    lasair_added: bool = Field(default=True, description="Add the object's features, Sherlock, TNS, annotations")
    reliabilityThreshold: float = Field(default=0.0, description="Accepted for Lasair's sake; not applied")


class SherlockObjectParams(LasairParams):
    objectId: int = ObjectIdField
    lite: bool = Field(default=False, description="Accepted; skystream holds one (top-ranked) match either way")


class SherlockPositionParams(LasairParams):
    ra: float = Field(description="Right ascension, degrees, 0 to 360")
    dec: float = Field(description="Declination, degrees, -90 to 90")
    lite: bool = Field(default=False, description="Accepted; skystream holds one (top-ranked) match per object")
    radius: float = Field(default=2.0, description="skystream only: how far (arcsec, at most 60) an object may be")


class AnnotateParams(LasairParams):
    topic: str = Field(description="The annotator's name (yours, active)")
    objectId: int = ObjectIdField
    classification: str = Field(description="Short class label, at most 80 characters")
    version: str = Field(default="", description="Version of the annotator, at most 80 characters")
    explanation: str = Field(default="", description="Free text, at most 4000 characters")
    classdict: dict[str, Any] | str = Field(default_factory=dict,
                                            description="A JSON object, or its JSON text as the client sends it")
    url: str = Field(default="", description="A link to more, at most 2000 characters")

    def upload(self) -> dict[str, Any]:
        """The item ``POST /annotations`` takes (Lasair's names are its aliases)."""
        return {**self.model_dump(exclude={"classdict"}), "classdict": json_object("classdict", self.classdict)}


class AnnotateListParams(LasairParams):
    annotations: list[Any] | str = Field(description="A list of annotate/'s parameter sets (JSON), or its JSON text")


M = TypeVar("M", bound=LasairParams)


def parsed(model: type[M], params: dict[str, Any]) -> M:
    """``params`` as ``model``; every problem in one 400 naming the parameter."""
    try:
        return model.model_validate(params)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            where = ".".join(str(p) for p in error["loc"]) or "parameters"
            problems.append(f"{where}: {'is required' if error['type'] == 'missing' else error['msg']}")
        raise BadRequest("; ".join(problems), problems=problems) from exc


def ignored(model: type[LasairParams], params: dict[str, Any]) -> list[str]:
    """The names in ``params`` that ``model`` does not use."""
    return sorted(set(params) - set(model.model_fields))
