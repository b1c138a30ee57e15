"""DigestStore and the send procedure over an in-process moto DynamoDB, with a fake mailer."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from fakes import RecordingMailer
from moto import mock_aws

from skystream import aws
from skystream.devtools.mailbox import parse
from skystream.domain.users import Recipient
from skystream.services.digest.send import DigestIncomplete, send_digest
from skystream.storage.digest import DigestStore

DAY = dt.date(2026, 11, 30)
TABLE = "unit-digest"


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch) -> Iterator[DigestStore]:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    for name, value in {"AWS_ACCESS_KEY_ID": "t", "AWS_SECRET_ACCESS_KEY": "t", "AWS_REGION": "us-east-1",
                        "DIGEST_TABLE": TABLE}.items():
        monkeypatch.setenv(name, value)
    aws.reset_clients()
    aws._client.cache_clear()
    with mock_aws():
        aws.client("dynamodb").create_table(
            TableName=TABLE, BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                  {"AttributeName": "sk", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        )
        yield DigestStore()
    aws._client.cache_clear()
    aws.reset_clients()


PEOPLE = {1: Recipient(1, "Ada", "ada@example.org"), 2: Recipient(2, "Bob", "bob@example.org")}


def test_add_matches_is_idempotent_and_keyed_by_filter_object_and_time(store: DigestStore) -> None:
    rows = [{"diaObjectId": 5, "ra": 1.0}, {"diaObjectId": 6, "ra": 2.0}, {"diaObjectId": 5, "ra": 1.0}]
    assert store.add_matches(DAY, 1, "f1", "SN", rows, "2026-11-30 10:00:00") == 2
    assert store.add_matches(DAY, 1, "f1", "SN", rows, "2026-11-30 10:00:00") == 2
    assert store.add_matches(DAY, 1, "f2", "other", rows[:1], "2026-11-30 10:00:00") == 1
    assert store.add_matches(DAY, 1, "f1", "SN", rows[:1], "2026-11-30 11:00:00") == 1  # later match: kept
    assert store.add_matches(DAY, 1, "f1", "SN", [], "2026-11-30 11:00:00") == 0
    matches = store.matches(DAY, 1)
    assert len(matches) == 4
    assert [m.utc for m in matches] == sorted(m.utc for m in matches)
    assert matches[0].record == {"diaObjectId": 5, "ra": 1.0, "UTC": "2026-11-30 10:00:00"}
    assert store.users(DAY) == [1] and store.users(DAY + dt.timedelta(days=1)) == []


def test_rows_without_an_object_id_are_told_apart_by_content(store: DigestStore) -> None:
    rows = [{"ra": 1.0}, {"ra": 2.0}, {"ra": 1.0}]
    assert store.add_matches(DAY, 1, "f1", "SN", rows, "2026-11-30 10:00:00") == 2


def test_pending_is_what_no_sent_part_covers(store: DigestStore) -> None:
    for second in range(3):
        store.add_matches(DAY, 1, "f1", "SN", [{"diaObjectId": second}], f"2026-11-30 10:00:0{second}")
    first = store.matches(DAY, 1)
    store.mark_sent(DAY, 1, 1, first[:2], "m1")
    pending, sent = store.pending(DAY, 1)
    assert [m.sk for m in pending] == [first[2].sk]
    assert sent[0].part == 1 and sent[0].count == 2 and sent[0].message_id == "m1"


def test_a_match_written_after_sending_is_sent_next_even_with_an_earlier_time(store: DigestStore) -> None:
    store.add_matches(DAY, 1, "f1", "SN", [{"diaObjectId": 1}, {"diaObjectId": 2}], "2026-11-30 10:00:00")
    mailer = RecordingMailer()
    assert send_digest(DAY, store=store, recipients=PEOPLE.get, mailer=mailer, sender="s").records_sent == 2
    # written late (a slow retry of an earlier batch): an earlier UTC than what was sent, and a repeat of object 2
    store.add_matches(DAY, 1, "f1", "SN", [{"diaObjectId": 0}], "2026-11-30 09:00:00")
    store.add_matches(DAY, 1, "f1", "SN", [{"diaObjectId": 2}, {"diaObjectId": 3}], "2026-11-30 10:00:00")
    pending, sent = store.pending(DAY, 1)
    assert sorted(m.record["diaObjectId"] for m in pending) == [0, 3] and len(sent) == 1
    report = send_digest(DAY, store=store, recipients=PEOPLE.get, mailer=mailer, sender="s")
    assert report.records_sent == 2 and parse(mailer.sent[-1]).attachment["part"] == 2
    assert store.pending(DAY, 1)[0] == []


def test_matches_are_packed_into_items_and_repeats_across_retries_dropped(store: DigestStore) -> None:
    rows = [{"diaObjectId": i, "ra": i / 3} for i in range(250)]
    assert store.add_matches(DAY, 1, "f1", "SN", rows, "2026-11-30 10:00:00") == 250
    items = aws.client("dynamodb").scan(TableName=TABLE)["Items"]
    assert len([i for i in items if i["sk"]["S"].startswith("m#")]) == 3  # 100 + 100 + 50
    # a retry holding a different subset packs into other items; each match is still read once
    assert store.add_matches(DAY, 1, "f1", "SN", rows[5:120], "2026-11-30 10:00:00") == 115
    matches = store.matches(DAY, 1)
    assert sorted(m.record["diaObjectId"] for m in matches) == list(range(250))
    assert {m.object_key for m in matches} == {str(i) for i in range(250)}


def test_lease_keeps_a_second_run_out_until_released(store: DigestStore) -> None:
    assert store.claim(DAY, 1, "run-a")
    assert not store.claim(DAY, 1, "run-b")
    assert store.claim(DAY, 1, "run-a")  # the holder may re-enter
    store.release(DAY, 1, "run-b")  # not the holder: no effect
    assert not store.claim(DAY, 1, "run-b")
    store.release(DAY, 1, "run-a")
    assert store.claim(DAY, 1, "run-b")
    assert store.claim(DAY, 2, "run-a", lease_s=-1) and store.claim(DAY, 2, "run-b")  # expired lease is taken over


def test_send_mails_each_user_once_and_marks_only_accepted_parts(store: DigestStore) -> None:
    store.add_matches(DAY, 1, "f1", "SN", [{"diaObjectId": 1}], "2026-11-30 10:00:00")
    store.add_matches(DAY, 2, "f2", "AGN", [{"diaObjectId": 2}], "2026-11-30 10:00:00")
    store.add_matches(DAY, 3, "f3", "ghost", [{"diaObjectId": 3}], "2026-11-30 10:00:00")  # user 3 was deleted
    mailer = RecordingMailer(fail_for={"bob@"})
    report = send_digest(DAY, store=store, recipients=PEOPLE.get, mailer=mailer, sender="s@example.org")
    assert report.emails_sent == 1 and report.users_mailed == [1]
    assert list(report.failures) == ["2026-11-30/2"] and report.users_without_address == [3]
    assert store.sent_parts(DAY, 2) == [] and len(store.sent_parts(DAY, 1)) == 1

    mailer.fail_for.clear()
    retry = send_digest(DAY, store=store, recipients=PEOPLE.get, mailer=mailer, sender="s@example.org")
    assert retry.users_mailed == [2] and retry.users_up_to_date == 1 and len(mailer.sent) == 2


def test_a_user_held_by_another_run_is_skipped(store: DigestStore) -> None:
    store.add_matches(DAY, 1, "f1", "SN", [{"diaObjectId": 1}], "2026-11-30 10:00:00")
    assert store.claim(DAY, 1, "someone-else")
    mailer = RecordingMailer()
    report = send_digest(DAY, store=store, recipients=PEOPLE.get, mailer=mailer, sender="s@example.org")
    assert report.users_busy == [1] and mailer.sent == [] and not report.complete


def test_split_parts_are_numbered_and_a_failed_later_part_resumes_there(store: DigestStore) -> None:
    for second in range(30):  # one stored item per second: parts are cut between items
        rows = [{"diaObjectId": second, "payload": "x" * 200}]
        store.add_matches(DAY, 1, "f1", "SN", rows, f"2026-11-30 10:00:{second:02d}")

    class FailThird(RecordingMailer):
        def send(self, raw: bytes, sender: str) -> str:
            if len(self.sent) == 2:
                raise RuntimeError("throttled")
            return super().send(raw, sender)

    first = FailThird()
    report = send_digest(DAY, store=store, recipients=PEOPLE.get, mailer=first, sender="s@example.org",
                         max_attachment_bytes=2500)
    assert report.emails_sent == 2 and report.failures
    second = RecordingMailer()
    report = send_digest(DAY, store=store, recipients=PEOPLE.get, mailer=second, sender="s@example.org",
                         max_attachment_bytes=2500)
    mails = [parse(raw) for raw in first.sent + second.sent]
    ids = [r["diaObjectId"] for m in mails for r in m.records]
    assert sorted(ids) == list(range(30)) and len(ids) == 30
    assert mails[2].attachment["part"] == 3


def test_out_of_time_defers_users_and_a_failure_raises_for_a_retry(store: DigestStore) -> None:
    store.add_matches(DAY, 1, "f1", "SN", [{"diaObjectId": 1}], "2026-11-30 10:00:00")
    store.add_matches(DAY, 2, "f2", "AGN", [{"diaObjectId": 2}], "2026-11-30 10:00:00")
    mailer = RecordingMailer()
    calls = iter([False, True])
    report = send_digest(DAY, store=store, recipients=PEOPLE.get, mailer=mailer, sender="s", catch_up_days=0,
                         out_of_time=lambda: next(calls))
    assert report.users_mailed == [1] and report.users_deferred == 1 and not report.complete
    with pytest.raises(DigestIncomplete, match="1 user\\(s\\) deferred; 1 email\\(s\\) were sent"):
        report.raise_for_failures()
    rest = send_digest(DAY, store=store, recipients=PEOPLE.get, mailer=mailer, sender="s", catch_up_days=0)
    assert rest.users_mailed == [2] and rest.complete
    rest.raise_for_failures()


def test_handler_with_no_time_left_defers_everyone_and_raises_for_a_retry(store: DigestStore) -> None:
    from skystream.local.handlers import LocalLambdaContext, load_handler

    store.add_matches(DAY, 1, "f1", "SN", [{"diaObjectId": 1}], "2026-11-30 10:00:00")
    handler = load_handler("functions/email_digest")
    with pytest.raises(DigestIncomplete, match="1 user\\(s\\) deferred"):
        handler({"date": "2026-11-30"}, LocalLambdaContext("EmailDigestFunction", timeout_s=30))
    assert store.sent_parts(DAY, 1) == []


def test_one_users_broken_lookup_does_not_stop_the_others(store: DigestStore) -> None:
    store.add_matches(DAY, 1, "f1", "SN", [{"diaObjectId": 1}], "2026-11-30 10:00:00")
    store.add_matches(DAY, 2, "f2", "AGN", [{"diaObjectId": 2}], "2026-11-30 10:00:00")

    def lookup(user_id: int) -> Recipient | None:
        if user_id == 1:
            raise ConnectionError("users table unreachable")
        return PEOPLE[user_id]

    mailer = RecordingMailer()
    report = send_digest(DAY, store=store, recipients=lookup, mailer=mailer, sender="s", catch_up_days=0)
    assert report.users_mailed == [2] and "ConnectionError" in report.failures["2026-11-30/1"]
    assert store.claim(DAY, 1, "next-run")  # the lease was released despite the error
