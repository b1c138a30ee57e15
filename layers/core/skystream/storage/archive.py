"""The latest full alert of each object (no cutouts), in S3 as gzip JSON.

``kafka_full`` outputs after the fact (a filter saved later, an annotation trigger)
need the whole alert; DynamoDB's 400 KB item limit is too small for 12 months of
history, S3 is not. One key per object, overwritten by newer alerts only (ingest
writes it after the conditional objects upsert succeeded).
"""

from __future__ import annotations

import gzip
from typing import Any

import orjson

from skystream.aws import client
from skystream.config import settings


def archive_key(dia_object_id: int) -> str:
    return f"alerts/latest/{int(dia_object_id)}.json.gz"


class AlertArchive:
    def __init__(self, bucket: str | None = None):
        self.bucket = bucket or settings().alerts_bucket
        self._s3 = client("s3")

    def put(self, dia_object_id: int, full_alert: dict[str, Any], schema_version: str) -> None:
        body = gzip.compress(
            orjson.dumps({"schema_version": schema_version, "alert": full_alert}),
            compresslevel=5,
        )
        self._s3.put_object(
            Bucket=self.bucket,
            Key=archive_key(dia_object_id),
            Body=body,
            ContentType="application/json",
            ContentEncoding="gzip",
            Metadata={"schema-version": schema_version},
        )

    def get(self, dia_object_id: int) -> tuple[dict[str, Any], str] | None:
        try:
            response = self._s3.get_object(Bucket=self.bucket, Key=archive_key(dia_object_id))
        except self._s3.exceptions.NoSuchKey:
            return None
        body = orjson.loads(gzip.decompress(response["Body"].read()))
        return body["alert"], body["schema_version"]
