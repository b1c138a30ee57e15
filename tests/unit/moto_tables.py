"""In-process moto DynamoDB holding the template's tables, for unit tests of the stores (no sockets)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from moto import mock_aws

from skystream import aws
from skystream.local.stack import local_template
from skystream.storage.filters import forget_active_cache


@contextmanager
def template_tables(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """Every DynamoDB table and S3 bucket of infra/template.yaml, empty, with the environment naming them."""
    template = local_template("127.0.0.1:1")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    env = {"AWS_ACCESS_KEY_ID": "t", "AWS_SECRET_ACCESS_KEY": "t", "AWS_REGION": "us-east-1",
           **{k: v for k, v in template.environment.items() if k.endswith(("_TABLE", "_BUCKET"))}}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    aws.reset_clients()
    aws._client.cache_clear()
    forget_active_cache()
    with mock_aws():
        dynamodb = aws.client("dynamodb")
        for kwargs in template.tables.values():
            dynamodb.create_table(**kwargs)
        s3 = aws.client("s3")
        for name, value in env.items():
            if name.endswith("_BUCKET"):
                s3.create_bucket(Bucket=value)
        yield env
    forget_active_cache()
    aws._client.cache_clear()
    aws.reset_clients()
