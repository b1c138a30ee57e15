"""Kafka trigger on ``annotations``: re-run on-annotation filters for the annotated objects."""

from __future__ import annotations

from typing import Any


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    raise NotImplementedError("annotation_handler is built in the annotations issue (#6)")
