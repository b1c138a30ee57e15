"""``skystream users add | token | revoke-token | show | kafka-credentials``: accounts, API tokens and stream
credentials (administrators, straight to the users table and the Kafka cluster)."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict

from skystream import wiring
from skystream.cli.common import connect
from skystream.domain.users import API_TIERS
from skystream.wiring import api as services


def _add(args: argparse.Namespace) -> int:
    connect()

    user, token = wiring.users().add(args.name, args.email, is_admin=args.admin, api_tier=args.tier)
    if args.json:
        print(json.dumps({**asdict(user), "token": token}))
        return 0
    print(f"user {user.user_id} ({user.name} <{user.email}>){' administrator' if user.is_admin else ''}")
    print(f"token {token}")
    print("keep the token: it is shown once. Use it as the header 'Authorization: Token <token>', "
          "or export SKYSTREAM_TOKEN for `skystream filter ...`")
    return 0


def _token(args: argparse.Namespace) -> int:
    connect()

    store = wiring.users()
    if store.get(args.user_id) is None:
        raise RuntimeError(f"no user {args.user_id} (`skystream users add NAME EMAIL` creates one)")
    print(store.new_token(args.user_id))
    return 0


def _revoke(args: argparse.Namespace) -> int:
    connect()

    store = wiring.users()
    if store.get(args.user_id) is None:
        raise RuntimeError(f"no user {args.user_id} (`skystream users show USER_ID` checks an id)")
    if args.token:
        if not store.revoke_token(args.user_id, args.token):
            raise RuntimeError(f"user {args.user_id} holds no such token; nothing was revoked "
                               f"(`skystream users revoke-token {args.user_id}` revokes all of theirs)")
        print(f"revoked 1 token of user {args.user_id}")
        return 0
    count = store.revoke_tokens(args.user_id)
    print(f"revoked {count} token(s) of user {args.user_id}; `skystream users token {args.user_id}` issues a new one")
    return 0


def _tier(args: argparse.Namespace) -> int:
    connect()

    try:
        user = wiring.users().set_tier(args.user_id, args.tier)
    except KeyError:
        raise RuntimeError(f"no user {args.user_id} (`skystream users show USER_ID` checks an id)") from None
    print(f"user {user.user_id} is now in the Lasair API tier {user.api_tier}")
    return 0


def _show(args: argparse.Namespace) -> int:
    connect()

    user = wiring.users().get(args.user_id)
    if user is None:
        raise RuntimeError(f"no user {args.user_id}")
    print(json.dumps(asdict(user), indent=2))
    return 0


def _kafka_credentials(args: argparse.Namespace) -> int:
    connect()

    user = wiring.users().get(args.user_id)
    if user is None:
        raise RuntimeError(f"no user {args.user_id} (`skystream users show USER_ID` checks an id)")
    access = services.stream_access()
    if args.revoke:
        username = access.withdraw(user.user_id)
        print(f"revoked the Kafka credentials of user {user.user_id} ({username}): their ACLs are gone and the "
              "password no longer logs in")
        return 0
    credentials = access.issue(user)
    endpoint = services.stream_endpoint()
    shown = {"username": credentials.username, "password": credentials.password,
             "mechanism": credentials.mechanism, "security_protocol": endpoint.security_protocol,
             "bootstrap_servers": endpoint.bootstrap_servers,
             "consumer_group_prefix": credentials.consumer_group_prefix}
    if args.json:
        print(json.dumps(shown))
        return 0
    for key, value in shown.items():
        print(f"{key:22} {value}")
    print("keep the password: it is shown once (issuing again replaces it; --revoke withdraws it). "
          "Consumer group ids must start with the prefix above (lasair_consumer adds it)")
    return 0


def _user_id(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"a user id is a number, not {text!r}")
    return int(text)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("users", help="create users and API tokens (administrators)",
                                   description="Users own filters; their numeric id is part of their topic names.")
    commands = parser.add_subparsers(dest="users_command", metavar="COMMAND", required=True)
    add = commands.add_parser("add", help="create a user and print its API token (shown once)")
    add.add_argument("name")
    add.add_argument("email", help="where the daily digest of email filters goes")
    add.add_argument("--admin", action="store_true", help="make the user an administrator")
    add.add_argument("--json", action="store_true", help="print {user_id, name, email, is_admin, api_tier, token}")
    add.add_argument("--tier", choices=API_TIERS, default="user",
                     help="the Lasair API tier: hourly calls and query rows (docs/api.md); default user")
    add.set_defaults(func=_add)
    tier = commands.add_parser("tier", help="put a user in a Lasair API tier (anonymous, user, power)")
    tier.add_argument("user_id", type=_user_id)
    tier.add_argument("tier", choices=API_TIERS)
    tier.set_defaults(func=_tier)
    token = commands.add_parser("token", help="issue another API token for a user")
    token.add_argument("user_id", type=_user_id)
    token.set_defaults(func=_token)
    revoke = commands.add_parser("revoke-token", help="revoke a user's API tokens (all of them, or one)",
                                 description="A revoked token is refused (401) from the next request on.")
    revoke.add_argument("user_id", type=_user_id)
    revoke.add_argument("--token", help="revoke only this token (default: every token of the user)")
    revoke.set_defaults(func=_revoke)
    kafka = commands.add_parser(
        "kafka-credentials", help="issue (or replace, or --revoke) a user's Kafka stream credentials",
        description="Prints a SASL/SCRAM-SHA-512 username and a new password, once: what POST /streams/credentials "
        "gives the user. Issuing again replaces the password (the old one stops working); --revoke removes the "
        "user's ACLs and credential.")
    kafka.add_argument("user_id", type=_user_id)
    kafka.add_argument("--revoke", action="store_true", help="withdraw the credentials instead")
    kafka.add_argument("--json", action="store_true", help="print them as one JSON object")
    kafka.set_defaults(func=_kafka_credentials)
    show = commands.add_parser("show", help="show one user")
    show.add_argument("user_id", type=_user_id)
    show.set_defaults(func=_show)
