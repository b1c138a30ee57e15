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


def test_api_tiers_are_kept_per_user_and_set_by_the_cli(monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    from skystream.cli import main as cli

    with template_tables(monkeypatch) as env:
        store = UserStore()
        ada, _ = store.add("Ada", "ada@example.org")
        public, public_token = store.add("Public", "public@example.org", api_tier="anonymous")
        assert ada.api_tier == "user" and store.by_token(public_token).api_tier == "anonymous"
        with pytest.raises(ValueError, match="unknown API tier 'gold'"):
            store.add("Gil", "gil@example.org", api_tier="gold")  # type: ignore[arg-type]
        assert cli(["users", "tier", str(ada.user_id), "power"]) == 0
        assert "user 1 is now in the Lasair API tier power" in capsys.readouterr().out
        assert store.get(ada.user_id).api_tier == "power"
        assert cli(["users", "tier", "99", "power"]) == 1  # no such user: an error, nothing created
        assert store.get(99) is None
        # a user stored before the tiers existed is in the user tier
        client("dynamodb").update_item(TableName=env["USERS_TABLE"], Key={"pk": {"S": f"user#{public.user_id}"}},
                                       UpdateExpression="REMOVE api_tier")
        assert store.get(public.user_id).api_tier == "user"
