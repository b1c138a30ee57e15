"""Users and tokens: ids handed out in order, tokens shown once and stored only as hashes."""

from __future__ import annotations

import pytest
from moto_tables import template_tables

from skystream.aws import client
from skystream.storage.users import UserStore, token_hash


def test_add_gives_increasing_ids_and_a_token_that_finds_the_user(monkeypatch: pytest.MonkeyPatch) -> None:
    with template_tables(monkeypatch) as env:
        store = UserStore()
        ada, ada_token = store.add("Ada", "ada@example.org")
        bob, bob_token = store.add("Bob", "bob@example.org", is_admin=True)
        assert (ada.user_id, bob.user_id) == (1, 2)
        assert store.by_token(ada_token) == ada
        assert store.by_token(bob_token).is_admin is True
        assert store.by_token("not-a-token") is None
        assert store.by_token("") is None
        assert store.get(2) == bob and store.get(99) is None
        items = client("dynamodb").scan(TableName=env["USERS_TABLE"])["Items"]
        stored_text = repr(items)
        assert ada_token not in stored_text and bob_token not in stored_text
        assert {"pk": {"S": f"token#{token_hash(ada_token)}"}, "user_id": {"N": "1"}} in items


def test_a_second_token_works_alongside_the_first(monkeypatch: pytest.MonkeyPatch) -> None:
    with template_tables(monkeypatch):
        store = UserStore()
        ada, first = store.add("Ada", "ada@example.org")
        second = store.new_token(ada.user_id)
        assert second != first
        assert store.by_token(first) == store.by_token(second) == ada
