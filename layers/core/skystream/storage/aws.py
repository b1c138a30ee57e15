"""boto3 clients, one per service per container, pointed wherever the environment says.

boto3 honours ``AWS_ENDPOINT_URL`` itself, so the same code reaches AWS, moto or
LocalStack; nothing here knows which.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from botocore.config import Config

from skystream.config import settings

_RETRIES = Config(retries={"max_attempts": 8, "mode": "adaptive"}, connect_timeout=5, read_timeout=30)


@cache
def client(service: str) -> Any:
    cfg = settings()
    return boto3.client(service, region_name=cfg.aws_region, endpoint_url=cfg.aws_endpoint_url, config=_RETRIES)


@cache
def resource(service: str) -> Any:
    cfg = settings()
    return boto3.resource(service, region_name=cfg.aws_region, endpoint_url=cfg.aws_endpoint_url, config=_RETRIES)


def reset_clients() -> None:
    """Forget cached clients (tests and the local stack call this after changing the environment)."""
    client.cache_clear()
    resource.cache_clear()
    settings.cache_clear()
