"""Composing digest email: parts, tables, attachment, size split (pure; no AWS)."""

from __future__ import annotations

import datetime as dt
import json
import math
from decimal import Decimal

from skystream.devtools.mailbox import parse
from skystream.domain.digest import Match
from skystream.domain.users import Recipient
from skystream.services.digest.compose import by_filter, compose, split
from skystream.services.digest.event import DigestEvent
from skystream.storage.digest import record_json

DAY = dt.date(2026, 11, 30)
ADA = Recipient(7, "Ada <Lovelace>", "ada@example.org")


def _match(i: int, filter_id: str = "f1", name: str = "SN", **extra) -> Match:
    record = {"diaObjectId": i, "ra": 1.5 + i, **extra, "UTC": f"2026-11-30 00:00:{i % 60:02d}"}
    return Match(sk=f"m#{record['UTC']}#{filter_id}#{i}", filter_id=filter_id, filter_name=name,
                 utc=record["UTC"], record=record)


def test_one_email_has_text_html_and_json_parts_with_every_row() -> None:
    matches = [_match(1), _match(2, "f2", "Bright & blue"), _match(3)]
    raw = compose(DAY, ADA, "skystream@example.org", matches)
    mail = parse(raw)
    assert mail.subject == "skystream digest 2026-11-30: 3 results from 2 filters"
    assert mail.attachment_name == "skystream-digest-2026-11-30.json"
    assert mail.attachment["record_count"] == 3 and mail.attachment["user_id"] == 7
    assert [(f["filter_name"], len(f["records"])) for f in mail.attachment["filters"]] == [("Bright & blue", 1), ("SN", 2)]
    assert "diaObjectId | ra | UTC" in mail.text and "1 | 2.5 | 2026-11-30 00:00:01" in mail.text
    assert "<th>diaObjectId</th><th>ra</th><th>UTC</th>" in mail.html
    assert "Bright &amp; blue" in mail.html and "Ada &lt;Lovelace&gt;" in mail.html
    assert mail.html.count("<table") == 2


def test_body_tables_are_capped_but_the_attachment_holds_everything() -> None:
    matches = [_match(i) for i in range(250)]
    mail = parse(compose(DAY, ADA, "s@example.org", matches, rows_per_filter=100))
    assert mail.html.count("<tr>") == 101  # header + 100 rows
    assert "... and 150 more in skystream-digest-2026-11-30.json" in mail.text
    assert len(mail.records) == 250


def test_split_keeps_order_and_every_record_within_the_limit() -> None:
    matches = [_match(i) for i in range(1000)]
    size = len(record_json(matches[0].record)) + 2
    chunks = split(matches, max_attachment_bytes=size * 100)
    assert [m for c in chunks for m in c] == matches
    assert all(len(c) <= 100 for c in chunks) and len(chunks) >= 10
    packed = [Match(sk=f"item{i // 10}", filter_id="f", filter_name="f", utc="", record=m.record)
              for i, m in enumerate(matches)]
    assert all(len({m.sk for m in c}) * 10 == len(c) for c in split(packed, size * 25))  # never cut inside an item
    assert [len(c) for c in split(packed, 10**9, max_items=40)] == [400, 400, 200]
    assert split(matches[:1], max_attachment_bytes=1) == [matches[:1]]  # a lone big record still goes out
    assert split([], 10) == []


def test_parts_are_labelled_and_attachments_named_per_part() -> None:
    mail = parse(compose(DAY, ADA, "s@example.org", [_match(1)], part=2, parts=3))
    assert mail.subject.endswith("(part 2 of 3)")
    assert mail.attachment_name == "skystream-digest-2026-11-30-part2of3.json"
    assert mail.attachment["part"] == 2 and mail.attachment["parts"] == 3


def test_records_are_strict_json_with_nulls_for_nan_and_numbers_for_decimal() -> None:
    text = record_json({"a": math.nan, "b": Decimal("1.25"), "c": Decimal("3"), "d": math.inf, "e": "x"})
    assert json.loads(text) == {"a": None, "b": 1.25, "c": 3, "d": None, "e": "x"}
    assert "NaN" not in text and "Infinity" not in text


def test_columns_follow_select_order_with_utc_last() -> None:
    [group] = by_filter([_match(1, extra_col=5)])
    assert group.columns == ["diaObjectId", "ra", "extra_col", "UTC"]


def test_event_picks_the_day() -> None:
    assert DigestEvent.model_validate({"date": "2026-01-02"}).day() == dt.date(2026, 1, 2)
    assert DigestEvent.model_validate({"time": "2026-03-01T00:30:00Z", "source": "x"}).day() == dt.date(2026, 2, 28)
    today = dt.datetime.now(dt.UTC).date()
    assert DigestEvent.model_validate({}).day() in {today - dt.timedelta(days=1), today}


def test_non_ascii_names_and_a_display_name_sender_survive_the_round_trip() -> None:
    zoe = Recipient(3, "Zoë Ångström", "zoe@example.org")
    raw = compose(DAY, zoe, "skystream digest <skystream@example.org>", [_match(1, name="Étoiles ☄")])
    raw.decode("ascii")  # 7-bit clean: headers encoded, bodies in quoted-printable or base64
    mail = parse(raw)
    assert mail.to == "Zoë Ångström <zoe@example.org>"
    assert "Étoiles ☄" in mail.text and "Étoiles ☄" in mail.html and "Zoë" in mail.html
    assert mail.attachment["filters"][0]["filter_name"] == "Étoiles ☄"
