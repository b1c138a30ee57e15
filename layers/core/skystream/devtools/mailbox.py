"""Read back the mail a local (moto) SES endpoint accepted, parsed into its parts.

moto keeps every ``SendRawEmail`` message and exposes it at ``GET /moto-api/data.json``
(``ses.RawMessage``). ``skystream digest --show`` and the tests read the digest from
there exactly as a recipient's mail client would: by parsing the MIME.
"""

from __future__ import annotations

import email
import email.policy
import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any


@dataclass(frozen=True)
class SentEmail:
    message_id: str
    source: str
    to: str
    subject: str
    text: str
    html: str
    attachment_name: str | None
    attachment: dict[str, Any] | None  # the parsed JSON attachment
    size: int = 0  # bytes of the raw message, as SES counted them against its 10 MB limit

    @property
    def records(self) -> list[dict[str, Any]]:
        """Every record of the attachment, each with its filter's id and name added under ``_filter``."""
        if not self.attachment:
            return []
        return [{**r, "_filter": f["filter_name"], "_filter_id": f["filter_id"]}
                for f in self.attachment["filters"] for r in f["records"]]


def parse(raw: str | bytes, message_id: str = "", source: str = "") -> SentEmail:
    if isinstance(raw, str):
        raw = raw.encode("utf-8", "surrogateescape")
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    text = html = ""
    attachment_name: str | None = None
    attachment: dict[str, Any] | None = None
    for part in message.walk():
        if part.is_multipart():
            continue
        if part.get_filename():
            attachment_name = part.get_filename()
            attachment = json.loads(part.get_payload(decode=True))
        elif part.get_content_type() == "text/plain":
            text = part.get_content()
        elif part.get_content_type() == "text/html":
            html = part.get_content()
    return SentEmail(message_id=message_id, source=source, to=str(message["To"] or ""),
                     subject=str(message["Subject"] or ""), text=text, html=html,
                     attachment_name=attachment_name, attachment=attachment, size=len(raw))


def sent_emails(endpoint: str) -> list[SentEmail]:
    """Every raw email the moto endpoint at ``endpoint`` has accepted, oldest first."""
    url = f"{endpoint.rstrip('/')}/moto-api/data.json"
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            data = json.load(response)
    except urllib.error.HTTPError as exc:
        raise RuntimeError(
            f"{url} answered {exc.code}: reading sent mail back needs moto's server as the AWS endpoint "
            "(a LocalStack keeps its mail at /_aws/ses instead)"
        ) from exc
    return [parse(m["raw_data"], m.get("id", ""), m.get("source", "")) for m in data.get("ses", {}).get("RawMessage", [])]
