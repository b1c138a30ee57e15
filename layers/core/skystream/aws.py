"""boto3 clients, one per service and endpoint per container, pointed wherever the environment says.

boto3 honours ``AWS_ENDPOINT_URL`` itself, so the same code reaches AWS, moto or
LocalStack; nothing here knows which. Clients are cached by (service, region, endpoint),
so a changed environment (after ``settings.cache_clear()``) gets fresh clients.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from botocore.config import Config

from skystream.config import settings

_RETRIES = Config(retries={"max_attempts": 8, "mode": "adaptive"}, connect_timeout=5, read_timeout=30)


@cache
def _client(service: str, region: str, endpoint: str | None) -> Any:
    return boto3.client(service, region_name=region, endpoint_url=endpoint, config=_RETRIES)


@cache
def _resource(service: str, region: str, endpoint: str | None) -> Any:
    return boto3.resource(service, region_name=region, endpoint_url=endpoint, config=_RETRIES)


def client(service: str) -> Any:
    cfg = settings()
    return _client(service, cfg.aws_region, cfg.aws_endpoint_url)


def resource(service: str) -> Any:
    cfg = settings()
    return _resource(service, cfg.aws_region, cfg.aws_endpoint_url)


def reset_clients() -> None:
    """Re-read the environment: the next client, resource or producer uses the new settings."""
    settings.cache_clear()
