"""Turn one user's matches of one day into raw MIME email: text, HTML tables, JSON attachment.

Every record goes into the JSON attachment. The text and HTML bodies show each filter's
first ``body_rows_per_filter`` rows (a mail client chokes on a 50,000-row table) and say
how many more the attachment holds. When the attachment would pass
``max_attachment_bytes``, the matches are split over several emails ("part 2 of 3"), so
each stays under SES's 10 MB message limit and no record is dropped.
"""

from __future__ import annotations

import datetime as dt
import html
import json
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid, parseaddr
from typing import Any

from skystream.domain.digest import Match
from skystream.domain.users import Recipient
from skystream.storage.digest import MAX_ITEMS_PER_PART, record_json

# SES v1 SendRawEmail accepts 10 MB after base64 (x 4/3): 4 MB of JSON leaves room for the bodies.
MAX_ATTACHMENT_BYTES = 4_000_000
BODY_ROWS_PER_FILTER = 100
_RECORD_OVERHEAD = 2  # the ",\n" between records in the attachment


@dataclass(frozen=True)
class FilterResults:
    """One filter's records in one email, in match order."""

    filter_id: str
    filter_name: str
    records: list[dict[str, Any]]

    @property
    def columns(self) -> list[str]:
        """Column names in order of first appearance (the filter's SELECT order, ``UTC`` last)."""
        seen: dict[str, None] = {}
        for record in self.records:
            seen.update(dict.fromkeys(record))
        if "UTC" in seen:
            del seen["UTC"]
            seen["UTC"] = None
        return list(seen)


def by_filter(matches: Sequence[Match]) -> list[FilterResults]:
    """Group matches by filter, filters ordered by name then id, records in match (UTC) order."""
    groups: dict[str, FilterResults] = {}
    for match in matches:
        group = groups.get(match.filter_id)
        if group is None:
            group = groups[match.filter_id] = FilterResults(match.filter_id, match.filter_name, [])
        group.records.append(match.record)
    return sorted(groups.values(), key=lambda g: (g.filter_name.lower(), g.filter_id))


def split(matches: Sequence[Match], max_attachment_bytes: int = MAX_ATTACHMENT_BYTES,
          max_items: int = MAX_ITEMS_PER_PART) -> list[list[Match]]:
    """Consecutive chunks whose records fit one attachment, cut only between stored items.

    A part's "sent" marker lists whole stored items (``Match.sk``), at most ``max_items``,
    so a cut never falls inside one; an item (at most 300 KB) larger than the limit still
    gets a part of its own.
    """
    chunks: list[list[Match]] = []
    current: list[Match] = []
    size = 0
    items = 0
    i = 0
    while i < len(matches):
        j = i
        while j < len(matches) and matches[j].sk == matches[i].sk:
            j += 1
        item = matches[i:j]
        cost = sum(len(record_json(m.record).encode()) + _RECORD_OVERHEAD for m in item)
        if current and (size + cost > max_attachment_bytes or items >= max_items):
            chunks.append(current)
            current, size, items = [], 0, 0
        current.extend(item)
        size += cost
        items += 1
        i = j
    if current:
        chunks.append(current)
    return chunks


def _cell(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _part_label(part: int, parts: int) -> str:
    return f" (part {part} of {parts})" if parts > 1 else ""


def subject(day: dt.date, groups: Sequence[FilterResults], part: int, parts: int) -> str:
    count = sum(len(g.records) for g in groups)
    return (f"skystream digest {day.isoformat()}: {_plural(count, 'result')} "
            f"from {_plural(len(groups), 'filter')}{_part_label(part, parts)}")


def text_body(day: dt.date, recipient: Recipient, groups: Sequence[FilterResults], part: int, parts: int,
              attachment: str, rows_per_filter: int = BODY_ROWS_PER_FILTER) -> str:
    lines = [
        f"Hello {recipient.name},",
        "",
        f"Your skystream email filters matched these objects on {day.isoformat()} (UTC){_part_label(part, parts)}.",
        f"Every record is in the attached {attachment}.",
    ]
    for group in groups:
        columns = group.columns
        lines += ["", f"== {group.filter_name} ({_plural(len(group.records), 'record')}) ==", " | ".join(columns)]
        for record in group.records[:rows_per_filter]:
            lines.append(" | ".join(_cell(record.get(c)) for c in columns))
        if len(group.records) > rows_per_filter:
            lines.append(f"... and {len(group.records) - rows_per_filter} more in {attachment}")
    lines += ["", "-- ", "skystream: you receive this because you own filters with email output."]
    return "\n".join(lines) + "\n"


def html_body(day: dt.date, recipient: Recipient, groups: Sequence[FilterResults], part: int, parts: int,
              attachment: str, rows_per_filter: int = BODY_ROWS_PER_FILTER) -> str:
    esc = html.escape
    out = [
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>skystream digest</title></head><body>",
        f"<p>Hello {esc(recipient.name)},</p>",
        f"<p>Your skystream email filters matched these objects on {esc(day.isoformat())} (UTC)"
        f"{esc(_part_label(part, parts))}. Every record is in the attached <code>{esc(attachment)}</code>.</p>",
    ]
    for group in groups:
        columns = group.columns
        out.append(f"<h2 data-filter-id=\"{esc(group.filter_id)}\">{esc(group.filter_name)} "
                   f"({_plural(len(group.records), 'record')})</h2>")
        out.append("<table border=\"1\" cellpadding=\"3\" cellspacing=\"0\">")
        out.append("<tr>" + "".join(f"<th>{esc(c)}</th>" for c in columns) + "</tr>")
        for record in group.records[:rows_per_filter]:
            out.append("<tr>" + "".join(f"<td>{esc(_cell(record.get(c)))}</td>" for c in columns) + "</tr>")
        out.append("</table>")
        if len(group.records) > rows_per_filter:
            out.append(f"<p>... and {len(group.records) - rows_per_filter} more in "
                       f"<code>{esc(attachment)}</code>.</p>")
    out.append("<p style=\"color:#666\">skystream: you receive this because you own filters with email output.</p>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def attachment_json(day: dt.date, recipient: Recipient, groups: Sequence[FilterResults], part: int,
                    parts: int) -> bytes:
    """Every record of this email, grouped by filter; one record per line so it greps and diffs well."""
    head = {"day": day.isoformat(), "user_id": recipient.user_id, "part": part, "parts": parts,
            "record_count": sum(len(g.records) for g in groups)}
    chunks = [json.dumps(head)[:-1] + ', "filters": [']
    for i, group in enumerate(groups):
        meta = json.dumps({"filter_id": group.filter_id, "filter_name": group.filter_name,
                           "record_count": len(group.records)})
        records = ",\n".join(record_json(r) for r in group.records)
        chunks.append(("," if i else "") + "\n" + meta[:-1] + ', "records": [\n' + records + "\n]}")
    chunks.append("\n]}\n")
    return "".join(chunks).encode("utf-8")


def attachment_name(day: dt.date, part: int, parts: int) -> str:
    return f"skystream-digest-{day.isoformat()}" + (f"-part{part}of{parts}" if parts > 1 else "") + ".json"


def compose(day: dt.date, recipient: Recipient, sender: str, matches: Sequence[Match], *, part: int = 1,
            parts: int = 1, rows_per_filter: int = BODY_ROWS_PER_FILTER) -> bytes:
    """One email (raw MIME bytes, as SES SendRawEmail takes them) holding ``matches``."""
    groups = by_filter(matches)
    name = attachment_name(day, part, parts)
    message = EmailMessage()
    message["Subject"] = subject(day, groups, part, parts)
    message["From"] = sender
    message["To"] = formataddr((recipient.name, recipient.email))
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = make_msgid(domain=parseaddr(sender)[1].rpartition("@")[2] or None)
    message["X-Skystream-Digest"] = f"{day.isoformat()}; user={recipient.user_id}; part={part}/{parts}"
    # quoted-printable keeps the message 7-bit clean, as SES advises for non-ASCII names
    message.set_content(text_body(day, recipient, groups, part, parts, name, rows_per_filter),
                        cte="quoted-printable")
    message.add_alternative(html_body(day, recipient, groups, part, parts, name, rows_per_filter), subtype="html",
                            cte="quoted-printable")
    message.add_attachment(attachment_json(day, recipient, groups, part, parts),
                           maintype="application", subtype="json", filename=name)
    return message.as_bytes()
