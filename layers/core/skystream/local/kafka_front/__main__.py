"""``python -m skystream.local.kafka_front --listen H:P --backend H:P --admin NAME``: the proxy as a process.

The administrator's password comes from the environment variable :data:`ADMIN_PASSWORD_VARIABLE`
(never the command line, which every local user can read with ``ps``); the proxy keeps only its
salted keys, for SCRAM-SHA-512 and -256. It runs until SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys

from skystream.local.kafka_front.proxy import FrontDoor
from skystream.local.kafka_front.scram import MECHANISMS, CredentialStore

ADMIN_PASSWORD_VARIABLE = "SKYSTREAM_KAFKA_ADMIN_PASSWORD"


def _address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, not {text!r}")
    return host, int(port)


async def _serve(front: FrontDoor) -> None:
    task = asyncio.ensure_future(front.serve())
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, task.cancel)
    with contextlib.suppress(asyncio.CancelledError):
        await task


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--listen", type=_address, required=True, help="where clients connect (tansu advertises it)")
    parser.add_argument("--backend", type=_address, required=True, help="tansu's own, unadvertised listener")
    parser.add_argument("--admin", required=True, help=f"the administrator's user name (password: ${ADMIN_PASSWORD_VARIABLE})")
    parser.add_argument("--anonymous", action="store_true",
                        help="let clients that do not log in through (as ANONYMOUS): for Lasair's own client only")
    args = parser.parse_args(argv)
    password = os.environ.pop(ADMIN_PASSWORD_VARIABLE, "")
    if not password:
        print(f"kafka_front: set {ADMIN_PASSWORD_VARIABLE} to the password of {args.admin}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s kafka_front %(levelname)s %(message)s")
    credentials = CredentialStore()
    for mechanism in MECHANISMS:
        credentials.set_password(args.admin, password, mechanism)
    front = FrontDoor(args.listen, args.backend, credentials=credentials, admins={args.admin},
                      anonymous=args.anonymous)
    logging.info("listening on %s:%d, tansu at %s:%d, administrator %s", *args.listen, *args.backend, args.admin)
    asyncio.run(_serve(front))
    return 0


if __name__ == "__main__":
    sys.exit(main())
