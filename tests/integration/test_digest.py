"""The daily digest against the local stack: real DynamoDB (moto server) and moto's SES sent-mail record."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import time

import pytest

from skystream.alerts.wire import encode_alert
from skystream.cli import main as cli_main
from skystream.devtools.generator import generate_alerts
from skystream.devtools.mailbox import sent_emails
from skystream.domain.filters import FilterSpec
from skystream.features import objects_row
from skystream.local.handlers import LocalLambdaContext, load_handler
from skystream.local.provision import FUNCTIONS_SECRET
from skystream.local.testing import produce
from skystream.storage.digest import DigestStore
from skystream.storage.users import UserStore
from skystream.wiring.api import annotation_service, filter_service
from skystream.wiring.digest import digest_sender

DAY = dt.date(2026, 11, 30)


def digest_context() -> LocalLambdaContext:
    """The digest function's Lambda context: its 900 s timeout (infra/template.yaml)."""
    return LocalLambdaContext("EmailDigestFunction", timeout_s=900)


def _today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def _wait_for(condition, what: str, timeout: float = 45.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"{what} did not happen within {timeout} s")


def test_alerts_through_the_real_matcher_become_one_digest_per_user(stack, tmp_path, monkeypatch, capsys) -> None:
    """Acceptance: generated alerts -> ingest -> matcher (email filters) -> digest -> moto's sent mail."""
    alerts = generate_alerts(12, seed=5)
    rows = {r["diaObjectId"]: r for r in (objects_row(a) for a in alerts)}
    users = UserStore()
    ada, _ = users.add("Ada", "ada@example.org")
    bob, _ = users.add("Bob", "bob@example.org")
    carol, _ = users.add("Carol", "carol@example.org")
    service = filter_service()
    specs = {
        (ada, "southern"): ("objects.diaObjectId, objects.decl", "objects.decl < -20", lambda r: r["decl"] < -20),
        (ada, "well sampled"): ("objects.diaObjectId, objects.nDiaSources, objects.ra", "objects.nDiaSources >= 20",
                                lambda r: r["nDiaSources"] >= 20),
        (bob, "east"): ("objects.diaObjectId, objects.ra", "objects.ra > 200", lambda r: r["ra"] > 200),
        (carol, "impossible"): ("objects.diaObjectId", "objects.decl > 90", lambda r: False),
    }
    expected: dict[str, set[int]] = {}
    for (user, name), (selected, conditions, predicate) in specs.items():
        service.create(user, FilterSpec(name=name, selected=selected, tables="objects", conditions=conditions,
                                        on_alert=True, output="email"))
        expected[name] = {i for i, r in rows.items() if predicate(r)}
    assert all(expected[n] for n in ("southern", "well sampled", "east")), "the seed should match every filter"

    store = DigestStore()

    def stored() -> set[tuple[str, int]]:
        return {(m.filter_name, m.record["diaObjectId"]) for u in (ada, bob, carol)
                for m in store.matches(_today(), u.user_id)}

    wanted = {(name, i) for name, ids in expected.items() for i in ids}
    host = stack.host(only={"ingest_handler", "filter_matcher"}, batching_window_s=0.1).start()
    try:
        produce(stack.bootstrap, os.environ["TOPIC_ALERTS"], [encode_alert(a) for a in alerts])
        _wait_for(lambda: stored() >= wanted, "every expected match reaching the digest table", timeout=60)
    finally:
        host.stop()
    assert stored() == wanted
    # Kafka triggers deliver at least once: a redelivered batch in a later second is a later match, also mailed
    counts = {u.user_id: len(store.matches(_today(), u.user_id)) for u in (ada, bob)}

    handler = load_handler("functions/email_digest")
    report = handler({"date": _today().isoformat()}, digest_context())
    assert report["emails_sent"] == 2 and sorted(report["users_mailed"]) == sorted([ada.user_id, bob.user_id])
    assert report["records_sent"] == sum(counts.values())
    mails = {m.to: m for m in sent_emails(stack.endpoint)}
    assert set(mails) == {"Ada <ada@example.org>", "Bob <bob@example.org>"}  # Carol matched nothing
    for address, names, user in (("Ada <ada@example.org>", ("southern", "well sampled"), ada),
                                 ("Bob <bob@example.org>", ("east",), bob)):
        mail = mails[address]
        assert len(mail.records) == counts[user.user_id]
        got = {name: {r["diaObjectId"] for r in mail.records if r["_filter"] == name} for name in names}
        assert got == {name: expected[name] for name in names}
        assert {r["_filter"] for r in mail.records} == set(names)
        for name in names:
            shown = sum(r["_filter"] == name for r in mail.records)
            assert f"== {name} ({shown} record" in mail.text and f">{name} ({shown} record" in mail.html
            for object_id in expected[name]:
                assert f"\n{object_id} | " in mail.text and f"<td>{object_id}</td>" in mail.html
    southern = [r for r in mails["Ada <ada@example.org>"].records if r["_filter"] == "southern"]
    assert all(set(r) == {"diaObjectId", "decl", "UTC", "_filter", "_filter_id"} for r in southern)
    assert all(r["decl"] == pytest.approx(rows[r["diaObjectId"]]["decl"]) for r in southern)

    assert handler({"date": _today().isoformat()}, digest_context())["emails_sent"] == 0  # running again sends none
    assert len(sent_emails(stack.endpoint)) == 2

    # the command line reads the same mail back from the local stack
    (tmp_path / "stack.json").write_text(json.dumps(
        {"bootstrap": stack.bootstrap, "endpoint": stack.endpoint, "api_url": None, "pids": {},
         "kafka_secret": FUNCTIONS_SECRET}))  # as `skystream up` records it (the broker takes SCRAM logins)
    monkeypatch.setenv("SKYSTREAM_STATE_DIR", str(tmp_path))
    assert cli_main(["digest", "--date", _today().isoformat()]) == 0
    assert "0 email(s)" in capsys.readouterr().out
    assert cli_main(["digest", "--show"]) == 0
    shown = capsys.readouterr().out
    assert shown.count("Subject:    skystream digest") == 2 and "== east (" in shown


def test_both_triggers_feed_the_digest(stack) -> None:
    """An on-alert + on-annotation email filter: the annotation-time and the alert-time match both arrive."""
    from skystream.storage.annotators import AnnotatorRegistry
    from skystream.storage.objects import ObjectStore

    owner, _ = UserStore().add("Ada", "ada@example.org")
    AnnotatorRegistry().add("mycls", owner.user_id)
    filter_service().create(owner, FilterSpec(
        name="classified SN", selected="objects.diaObjectId, mycls.classification",
        tables="objects, annotator:mycls", conditions="mycls.classification = 'SN'",
        on_alert=True, on_annotation=True, output="email"))
    first, second = generate_alerts(2, seed=6, alerts_per_object=2, kinds=["supernova"])
    x = first["diaObject"]["diaObjectId"]
    assert second["diaObject"]["diaObjectId"] == x
    store = DigestStore()
    host = stack.host(only={"ingest_handler", "filter_matcher", "annotation_handler"}, batching_window_s=0.1).start()
    try:
        produce(stack.bootstrap, os.environ["TOPIC_ALERTS"], [encode_alert(first)])
        _wait_for(lambda: ObjectStore().get(x) is not None, "the ingest of the first alert")
        assert store.users(_today()) == []  # no annotation yet: the alert-time run matched nothing
        annotation_service().upload(owner, {"annotator": "mycls", "diaObjectId": x, "classification": "SN"})
        _wait_for(lambda: len(store.matches(_today(), owner.user_id)) >= 1, "the annotation-time match")
        time.sleep(1.1)  # a match is identified by (filter, object, UTC second): make the next one distinct
        boundary = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
        produce(stack.bootstrap, os.environ["TOPIC_ALERTS"], [encode_alert(second)])
        # >=: the alert-time match may land in the boundary's own second (the annotation-time one is >= 1.1 s before)
        _wait_for(lambda: any(m.utc >= boundary for m in store.matches(_today(), owner.user_id)),
                  "the alert-time match")
    finally:
        host.stop()

    stored = store.matches(_today(), owner.user_id)
    report = digest_sender().send(_today())
    assert report.emails_sent == 1 and report.records_sent == len(stored) >= 2
    [mail] = sent_emails(stack.endpoint)
    assert {(r["diaObjectId"], r["classification"]) for r in mail.records} == {(x, "SN")}
    assert min(r["UTC"] for r in mail.records) < boundary <= max(r["UTC"] for r in mail.records)
    assert len({r["UTC"] for r in mail.records}) == len(stored)
    assert f"== classified SN ({len(stored)} records) ==" in mail.text


def _rows(start: int, count: int) -> list[dict]:
    return [{"diaObjectId": start + i, "ra": 150.0 + i / 1000, "decl": -30.5, "gmag": None} for i in range(count)]


def test_two_users_three_filters_one_email_each_and_never_twice(stack) -> None:
    users = UserStore()
    ada, _ = users.add("Ada", "ada@example.org")
    bob, _ = users.add("Bob", "bob@example.org")
    carol, _ = users.add("Carol", "carol@example.org")  # owns no email filter: gets nothing
    store = DigestStore()
    assert store.add_matches(DAY, ada.user_id, "f-sn", "SN candidates", _rows(100, 3), "2026-11-30 01:00:00") == 3
    assert store.add_matches(DAY, ada.user_id, "f-agn", "AGN flares <&>", _rows(200, 2), "2026-11-30 02:00:00") == 2
    # a retried batch (same filter, objects, time) does not duplicate
    assert store.add_matches(DAY, ada.user_id, "f-sn", "SN candidates", _rows(100, 3), "2026-11-30 01:00:00") == 3
    assert store.add_matches(DAY, bob.user_id, "f-bob", "Bright", _rows(300, 1), "2026-11-30 03:00:00") == 1
    store.add_matches(DAY + dt.timedelta(days=1), bob.user_id, "f-bob", "Bright", _rows(400, 1), "2026-12-01 00:00:01")

    handler = load_handler("functions/email_digest")
    report = handler({"date": DAY.isoformat()}, digest_context())
    assert report["emails_sent"] == 2 and report["records_sent"] == 6
    mails = {m.to: m for m in sent_emails(stack.endpoint)}
    assert set(mails) == {"Ada <ada@example.org>", "Bob <bob@example.org>"}
    assert carol.user_id not in report["users_mailed"]

    ada_mail = mails["Ada <ada@example.org>"]
    assert "5 results from 2 filters" in ada_mail.subject
    assert {r["_filter"]: 0 for r in ada_mail.records} == {"SN candidates": 0, "AGN flares <&>": 0}
    assert sorted(r["diaObjectId"] for r in ada_mail.records) == [100, 101, 102, 200, 201]
    assert all(r["UTC"].startswith("2026-11-30 0") for r in ada_mail.records)
    assert ada_mail.records[0]["gmag"] is None
    for object_id in (100, 101, 102, 200, 201):
        assert f"{object_id} |" in ada_mail.text and f"<td>{object_id}</td>" in ada_mail.html
    assert "== SN candidates (3 records) ==" in ada_mail.text
    assert "AGN flares &lt;&amp;&gt;" in ada_mail.html and ada_mail.html.count("<table") == 2
    bob_mail = mails["Bob <bob@example.org>"]
    assert [r["diaObjectId"] for r in bob_mail.records] == [300]  # not the next day's match
    assert "<td>300</td>" in bob_mail.html and "400" not in bob_mail.text

    again = handler({"date": DAY.isoformat()}, digest_context())
    assert again["emails_sent"] == 0 and again["users_up_to_date"] == 2
    assert len(sent_emails(stack.endpoint)) == 2


def test_failed_send_is_retried_by_the_next_run_and_nothing_marked(stack) -> None:
    user, _ = UserStore().add("Ada", "ada@example.org")
    store = DigestStore()
    store.add_matches(DAY, user.user_id, "f1", "one", _rows(1, 4), "2026-11-30 10:00:00")

    class Refusing:
        def send(self, raw: bytes, sender: str) -> str:
            raise RuntimeError("SES throttled")

    failed = dataclasses.replace(digest_sender(), mailer=Refusing()).send(DAY)
    assert failed.failures and failed.emails_sent == 0 and not failed.complete
    assert store.sent_parts(DAY, user.user_id) == [] and sent_emails(stack.endpoint) == []

    next_day = digest_sender().send(DAY + dt.timedelta(days=1))  # the next daily run catches up
    assert next_day.emails_sent == 1 and next_day.records_sent == 4
    [mail] = sent_emails(stack.endpoint)
    assert len(mail.records) == 4
    # a match recorded after the day was sent goes out in a new part, not lost
    store.add_matches(DAY, user.user_id, "f1", "one", _rows(9, 1), "2026-11-30 23:59:59")
    late = digest_sender().send(DAY, catch_up_days=0)
    assert late.emails_sent == 1 and late.records_sent == 1
    assert [r["diaObjectId"] for r in sent_emails(stack.endpoint)[-1].records] == [9]


def test_fifty_thousand_matches_in_a_day_are_all_delivered(stack) -> None:
    user, _ = UserStore().add("Busy", "busy@example.org")
    store = DigestStore()
    started = time.monotonic()
    total = 50_000
    for batch in range(total // 1000):  # as the matcher writes them: up to 1000 rows per filter per batch
        filter_id = f"f{batch % 3}"
        rows = [{"diaObjectId": batch * 1000 + i, "ra": 10.0 + i * 1e-4, "decl": -5.25, "latestR": 0.9,
                 "nDiaSources": i % 40, "class": "SN"} for i in range(1000)]
        second = f"2026-11-30 {batch // 60:02d}:{batch % 60:02d}:00"
        store.add_matches(DAY, user.user_id, filter_id, f"filter {filter_id}", rows, second)
    written = time.monotonic() - started

    report = digest_sender().send(DAY, catch_up_days=0)  # the production size limit
    mails = sent_emails(stack.endpoint)
    elapsed = time.monotonic() - started
    assert report.records_sent == total and report.emails_sent == len(mails) >= 2
    assert all(m.size < 10 * 1024 * 1024 for m in mails)  # SES's limit for a raw message
    ids = [r["diaObjectId"] for m in mails for r in m.records]
    assert len(ids) == total and len(set(ids)) == total
    assert sum(m.attachment["record_count"] for m in mails) == total
    assert all(f"of {len(mails)})" in m.subject for m in mails)
    assert all(len(m.html) < 200_000 for m in mails)  # bodies stay small; the attachments carry the rows
    assert digest_sender().send(DAY, catch_up_days=0).emails_sent == 0
    print(f"50k matches: written in {written:.1f} s, all in {elapsed:.1f} s, {len(mails)} emails")
    assert elapsed < 40
