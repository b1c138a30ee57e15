"""Connections and the server: authenticate each client, answer the admin APIs of users and ACLs, pipe the rest.

One backend connection to tansu per client connection. Requests are answered in the order they
came (Kafka's rule for one connection): a forwarded request's slot waits for tansu's answer,
and a locally answered request queued behind it waits its turn. A Produce with ``acks=0`` gets
no answer from tansu, and so gets no slot.

When an administrator deletes or replaces a user's credential, that user's open connections are
closed (their clients reconnect and must log in again). MSK is laxer: a removed secret's open
connections live on, and a change takes up to 10 minutes to reach the brokers (docs/streams.md).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import struct
import threading
from dataclasses import dataclass

from skystream.local.kafka_front import wire
from skystream.local.kafka_front.acls import LITERAL, Binding, BindingFilter, BindingStore
from skystream.local.kafka_front.join_cap import JOIN_GROUP, cap_session_timeout
from skystream.local.kafka_front.scram import MECHANISM_BY_NUMBER, MECHANISMS, CredentialStore, ScramExchange

log = logging.getLogger(__name__)

PRODUCE, API_VERSIONS, SASL_HANDSHAKE, SASL_AUTHENTICATE = 0, 18, 17, 36
DESCRIBE_ACLS, CREATE_ACLS, DELETE_ACLS = 29, 30, 31
DESCRIBE_SCRAM, ALTER_SCRAM = 50, 51
ANONYMOUS = "ANONYMOUS"
"""Kafka's name for a client that did not log in (let through only by a front door opened with ``anonymous``)."""
BEFORE_LOGIN = {API_VERSIONS, SASL_HANDSHAKE, SASL_AUTHENTICATE}
ANSWERED_HERE = {SASL_HANDSHAKE, SASL_AUTHENTICATE, DESCRIBE_ACLS, CREATE_ACLS, DELETE_ACLS, DESCRIBE_SCRAM, ALTER_SCRAM}
VERSIONS = {SASL_HANDSHAKE: (1, 1), SASL_AUTHENTICATE: (0, 2), DESCRIBE_ACLS: (0, 1), CREATE_ACLS: (0, 1),
            DELETE_ACLS: (0, 1), DESCRIBE_SCRAM: (0, 0), ALTER_SCRAM: (0, 0)}
"""The versions advertised (in tansu's ApiVersions answer) for what the proxy answers itself."""

NONE, CLUSTER_AUTHORIZATION_FAILED, UNSUPPORTED_SASL_MECHANISM, ILLEGAL_SASL_STATE = 0, 31, 33, 34
UNSUPPORTED_VERSION, SASL_AUTHENTICATION_FAILED, INVALID_REQUEST, RESOURCE_NOT_FOUND = 35, 58, 42, 91


@dataclass
class _Slot:
    correlation_id: int
    data: bytes | None = None  # the answer (None: still waiting for tansu)
    forwarded: bool = True
    rewrite_versions: int | None = None  # an ApiVersions answer of this version, to patch
    close_after: bool = False


class _Connection:
    def __init__(self, front: FrontDoor, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.front, self.reader, self.writer = front, reader, writer
        self.user: str | None = None
        self.exchange: ScramExchange | None = None
        self.slots: collections.deque[_Slot] = collections.deque()
        self.backend_writer: asyncio.StreamWriter | None = None
        self.closing = False

    async def run(self) -> None:
        try:
            backend_reader, self.backend_writer = await asyncio.open_connection(*self.front.backend)
        except OSError as exc:
            log.warning("tansu at %s:%d does not answer: %s", *self.front.backend, exc)
            self.writer.close()
            return
        client = asyncio.create_task(self._from_client())
        backend = asyncio.create_task(self._from_backend(backend_reader))
        done, _ = await asyncio.wait({client, backend}, return_when=asyncio.FIRST_COMPLETED)
        if client in done and not self.closing:
            # The client went away: let what it sent last (a LeaveGroup, a commit) reach tansu first.
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._drained(), 2)
        self.close()
        for task in (client, backend):
            task.cancel()
        self.front.forget(self)

    async def _drained(self) -> None:
        while any(s.forwarded and s.data is None for s in self.slots):
            await asyncio.sleep(0.01)

    def close(self) -> None:
        self.closing = True
        for w in (self.writer, self.backend_writer):
            if w is not None:
                with contextlib.suppress(Exception):
                    w.close()

    async def _from_client(self) -> None:
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError, wire.ShortFrame):
            while not self.closing:
                size = struct.unpack(">i", await self.reader.readexactly(4))[0]
                frame = await self.reader.readexactly(size)
                api_key, version, correlation_id = struct.unpack(">hhi", frame[:8])
                if self.user is None and api_key not in BEFORE_LOGIN:
                    if not self.front.anonymous:
                        return  # as Kafka does: an unauthenticated request closes the connection
                    self.user = ANONYMOUS
                if api_key in ANSWERED_HERE:
                    answer, close_after = self._answer(api_key, version, correlation_id, frame)
                    self.slots.append(_Slot(correlation_id, answer, forwarded=False, close_after=close_after))
                    await self._flush()
                    continue
                if api_key != PRODUCE or _expects_answer(version, frame):
                    self.slots.append(_Slot(correlation_id,
                                            rewrite_versions=version if api_key == API_VERSIONS else None))
                if api_key == JOIN_GROUP:
                    capped = bytearray(frame)
                    if cap_session_timeout(capped):
                        frame = bytes(capped)
                assert self.backend_writer is not None
                self.backend_writer.write(struct.pack(">i", size) + frame)
                await self.backend_writer.drain()

    async def _from_backend(self, reader: asyncio.StreamReader) -> None:
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while not self.closing:
                size = struct.unpack(">i", await reader.readexactly(4))[0]
                data = await reader.readexactly(size)
                correlation_id = struct.unpack(">i", data[:4])[0]
                for slot in self.slots:
                    if slot.forwarded and slot.data is None:
                        if slot.correlation_id == correlation_id:
                            slot.data = _patched_versions(data, slot.rewrite_versions) \
                                if slot.rewrite_versions is not None else data
                            break
                        slot.data = b""  # an earlier request tansu did not answer: nothing to send
                await self._flush()

    async def _flush(self) -> None:
        """Send every answer at the head of the queue that is ready, in order."""
        while self.slots and self.slots[0].data is not None:
            slot = self.slots.popleft()
            if slot.data:
                self.writer.write(struct.pack(">i", len(slot.data)) + slot.data)
            if slot.close_after:
                await self.writer.drain()
                await asyncio.sleep(0.05)  # let the client read the refusal before the socket goes
                self.close()
                return
        await self.writer.drain()

    # -- answered here ------------------------------------------------------------------------

    def _answer(self, api_key: int, version: int, correlation_id: int, frame: bytes) -> tuple[bytes, bool]:
        low, high = VERSIONS[api_key]
        flexible = (api_key == SASL_AUTHENTICATE and version >= 2) or api_key in (DESCRIBE_SCRAM, ALTER_SCRAM)
        header = wire.int32(correlation_id) + wire.tags(flexible)
        if not low <= version <= high:
            log.warning("api %d version %d is not supported here (%d-%d)", api_key, version, low, high)
            return header + wire.int16(UNSUPPORTED_VERSION), True
        r = wire.Reader(frame, 8)
        r.string(False)  # client id (never compact)
        r.skip_tags(flexible)
        try:
            if api_key == SASL_HANDSHAKE:
                return header + self._handshake(r), False
            if api_key == SASL_AUTHENTICATE:
                body, close = self._authenticate(r, version, flexible)
                return header + body, close
            if api_key == ALTER_SCRAM:
                return header + self._alter_scram(r), False
            if api_key == DESCRIBE_SCRAM:
                return header + self._describe_scram(r), False
            if api_key == CREATE_ACLS:
                return header + self._create_acls(r, version), False
            if api_key == DESCRIBE_ACLS:
                return header + self._describe_acls(r, version), False
            return header + self._delete_acls(r, version), False
        except (wire.ShortFrame, ValueError, KeyError, UnicodeDecodeError) as exc:
            log.warning("malformed request (api %d v%d): %s; closing the connection", api_key, version, exc)
            return b"", True

    def _handshake(self, r: wire.Reader) -> bytes:
        mechanism = r.string(False)
        names = b"".join(wire.string(m, False) for m in MECHANISMS)
        body = wire.int32(len(MECHANISMS)) + names
        if mechanism not in MECHANISMS:
            return wire.int16(UNSUPPORTED_SASL_MECHANISM) + body
        self.exchange = ScramExchange(self.front.credentials, mechanism)
        return wire.int16(NONE) + body

    def _authenticate(self, r: wire.Reader, version: int, flexible: bool) -> tuple[bytes, bool]:
        token = r.blob(flexible) or b""

        def answer(error: int, message: str | None, data: bytes) -> bytes:
            body = wire.int16(error) + wire.string(message, flexible) + wire.blob(data, flexible)
            if version >= 1:
                body += wire.int64(0)  # session lifetime: no re-authentication asked for
            return body + wire.tags(flexible)

        exchange = self.exchange
        if exchange is None:
            return answer(ILLEGAL_SASL_STATE, "SaslAuthenticate before SaslHandshake", b""), True
        try:
            if exchange.step == 0:
                return answer(NONE, None, exchange.first(token)), False
            final = exchange.final(token)
        except (ValueError, KeyError, UnicodeDecodeError):
            final = None
        self.exchange = None
        if final is None or exchange.user is None:
            log.info("login refused: user %r, %s", exchange._claimed, exchange.mechanism)
            self.user = None
            return answer(SASL_AUTHENTICATION_FAILED,
                          "Authentication failed during authentication due to invalid credentials with SASL "
                          f"mechanism {exchange.mechanism}", b""), True
        self.user = exchange.user
        self.front.remember(self)
        return answer(NONE, None, final), False

    def _admin(self) -> bool:
        return self.user in self.front.admins

    def _alter_scram(self, r: wire.Reader) -> bytes:
        deletions = []
        for _ in range(r.array_length(True)):
            name, mechanism = r.string(True), r.int8()
            r.skip_tags(True)
            deletions.append((name or "", mechanism))
        upsertions = []
        for _ in range(r.array_length(True)):
            name, mechanism, iterations = r.string(True), r.int8(), r.int32()
            salt, salted = r.blob(True) or b"", r.blob(True) or b""
            r.skip_tags(True)
            upsertions.append((name or "", mechanism, iterations, salt, salted))
        results: list[tuple[str, int, str | None]] = []
        changed: set[str] = set()
        for name, mechanism in deletions:
            if not self._admin():
                results.append((name, CLUSTER_AUTHORIZATION_FAILED, "only an administrator may change credentials"))
            elif mechanism not in MECHANISM_BY_NUMBER:
                results.append((name, UNSUPPORTED_SASL_MECHANISM, "unknown SCRAM mechanism"))
            elif not self.front.credentials.delete(name, MECHANISM_BY_NUMBER[mechanism]):
                results.append((name, RESOURCE_NOT_FOUND, "no such credential"))
            else:
                results.append((name, NONE, None))
                changed.add(name)
        for name, mechanism, iterations, salt, salted in upsertions:
            if not self._admin():
                results.append((name, CLUSTER_AUTHORIZATION_FAILED, "only an administrator may change credentials"))
            elif mechanism not in MECHANISM_BY_NUMBER:
                results.append((name, UNSUPPORTED_SASL_MECHANISM, "unknown SCRAM mechanism"))
            elif not name or not salt or not salted or iterations < 4096:
                results.append((name, INVALID_REQUEST, "a credential needs a name, a salt and at least 4096 iterations"))
            else:
                self.front.credentials.upsert_salted(name, MECHANISM_BY_NUMBER[mechanism], iterations, salt, salted)
                results.append((name, NONE, None))
                changed.add(name)
        for name in changed:
            self.front.log_out(name, keep=self)
        body = wire.int32(0) + wire.array_length(len(results), True)
        for name, error, message in results:
            body += wire.string(name, True) + wire.int16(error) + wire.string(message, True) + wire.tags(True)
        return body + wire.tags(True)

    def _describe_scram(self, r: wire.Reader) -> bytes:
        count = r.uvarint() - 1  # -1: null = every user
        names = []
        for _ in range(max(count, 0)):
            names.append(r.string(True) or "")
            r.skip_tags(True)
        users = names or self.front.credentials.users()
        body = wire.int32(0) + wire.int16(NONE) + wire.string(None, True) + wire.array_length(len(users), True)
        for user in users:
            infos = self.front.credentials.mechanisms_of(user)
            if infos:
                body += wire.string(user, True) + wire.int16(NONE) + wire.string(None, True)
                body += wire.array_length(len(infos), True)
                body += b"".join(wire.int8(m) + wire.int32(i) + wire.tags(True) for m, i in infos) + wire.tags(True)
            else:
                body += (wire.string(user, True) + wire.int16(RESOURCE_NOT_FOUND) + wire.string("no credentials", True)
                         + wire.array_length(0, True) + wire.tags(True))
        return body + wire.tags(True)

    @staticmethod
    def _filter(r: wire.Reader, version: int) -> BindingFilter:
        resource_type, name = r.int8(), r.string(False)
        pattern = r.int8() if version >= 1 else LITERAL
        return BindingFilter(resource_type, name, pattern, r.string(False), r.string(False), r.int8(), r.int8())

    def _create_acls(self, r: wire.Reader, version: int) -> bytes:
        results = []
        for _ in range(r.array_length(False)):
            resource_type, name = r.int8(), r.string(False) or ""
            pattern = r.int8() if version >= 1 else LITERAL
            binding = Binding(resource_type, name, pattern, r.string(False) or "", r.string(False) or "*",
                              r.int8(), r.int8())
            if not self._admin():
                results.append((CLUSTER_AUTHORIZATION_FAILED, "only an administrator may change ACLs"))
                continue
            problem = self.front.acls.create(binding)
            results.append((INVALID_REQUEST, problem) if problem else (NONE, None))
        body = wire.int32(0) + wire.array_length(len(results), False)
        return body + b"".join(wire.int16(e) + wire.string(m, False) for e, m in results)

    def _describe_acls(self, r: wire.Reader, version: int) -> bytes:
        f = self._filter(r, version)
        if not self._admin():
            return (wire.int32(0) + wire.int16(CLUSTER_AUTHORIZATION_FAILED)
                    + wire.string("only an administrator may list ACLs", False) + wire.array_length(0, False))
        grouped: dict[tuple[int, str, int], list[Binding]] = {}
        for b in self.front.acls.describe(f):
            grouped.setdefault((b.resource_type, b.name, b.pattern_type), []).append(b)
        body = wire.int32(0) + wire.int16(NONE) + wire.string(None, False) + wire.array_length(len(grouped), False)
        for (resource_type, name, pattern), bindings in grouped.items():
            body += wire.int8(resource_type) + wire.string(name, False) + (wire.int8(pattern) if version >= 1 else b"")
            body += wire.array_length(len(bindings), False)
            body += b"".join(wire.string(b.principal, False) + wire.string(b.host, False) + wire.int8(b.operation)
                             + wire.int8(b.permission) for b in bindings)
        return body

    def _delete_acls(self, r: wire.Reader, version: int) -> bytes:
        filters = [self._filter(r, version) for _ in range(r.array_length(False))]
        body = wire.int32(0) + wire.array_length(len(filters), False)
        for f in filters:
            if not self._admin():
                body += (wire.int16(CLUSTER_AUTHORIZATION_FAILED)
                         + wire.string("only an administrator may change ACLs", False) + wire.array_length(0, False))
                continue
            gone = self.front.acls.delete(f)
            body += wire.int16(NONE) + wire.string(None, False) + wire.array_length(len(gone), False)
            for b in gone:
                body += (wire.int16(NONE) + wire.string(None, False) + wire.int8(b.resource_type)
                         + wire.string(b.name, False) + (wire.int8(b.pattern_type) if version >= 1 else b"")
                         + wire.string(b.principal, False) + wire.string(b.host, False) + wire.int8(b.operation)
                         + wire.int8(b.permission))
        return body


def _expects_answer(version: int, frame: bytes) -> bool:
    """Whether a Produce request wants an answer (``acks`` other than 0)."""
    try:
        r = wire.Reader(frame, 8)
        r.string(False)
        flexible = version >= 9
        r.skip_tags(flexible)
        if version >= 3:
            r.string(flexible)  # transactional id
        return r.int16() != 0
    except wire.ShortFrame:
        return True


def _patched_versions(data: bytes, version: int) -> bytes:
    """tansu's ApiVersions answer with the versions of what the proxy answers itself put in.

    tansu lists DescribeAcls and CreateAcls (as stubs whose answers make librdkafka abort) and not
    DeleteAcls; the proxy answers all three, and the SCRAM APIs, itself.
    """
    r = wire.Reader(data, 4)  # the answer header of ApiVersions is never flexible
    error = r.int16()
    if error != NONE:
        return data
    flexible = version >= 3
    keys: dict[int, tuple[int, int]] = {}
    for _ in range(r.array_length(flexible)):
        key, low, high = r.int16(), r.int16(), r.int16()
        r.skip_tags(flexible)
        keys[key] = (low, high)
    keys.update(VERSIONS)
    out = data[:4] + wire.int16(error) + wire.array_length(len(keys), flexible)
    for key in sorted(keys):
        low, high = keys[key]
        out += wire.int16(key) + wire.int16(low) + wire.int16(high) + wire.tags(flexible)
    return out + r.rest()


class FrontDoor:
    """The proxy: listens on ``listen`` and pipes to tansu at ``backend``.

    ``admins`` may change credentials and ACLs. ``anonymous`` lets a client that does not log in
    through as ``ANONYMOUS`` (clients that log in are still checked): only for a program that
    cannot present credentials, such as Lasair's own ``lasair_consumer``; never the default.
    :meth:`start` runs it on a thread of its own (tests); ``python -m skystream.local.kafka_front``
    runs it as a process (the local stack). Every JoinGroup passing through has its session
    timeout capped (:mod:`skystream.local.kafka_front.join_cap`).
    """

    def __init__(self, listen: tuple[str, int], backend: tuple[str, int], *,
                 credentials: CredentialStore | None = None, admins: set[str] | frozenset[str] = frozenset(),
                 anonymous: bool = False):
        self.listen, self.backend = listen, backend
        self.anonymous = anonymous
        self.credentials = credentials or CredentialStore()
        self.acls = BindingStore()
        self.admins = set(admins)
        self._logged_in: dict[str, set[_Connection]] = {}
        self._connections: set[_Connection] = set()
        self._server: asyncio.base_events.Server | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def remember(self, connection: _Connection) -> None:
        if connection.user is not None:
            self._logged_in.setdefault(connection.user, set()).add(connection)

    def forget(self, connection: _Connection) -> None:
        self._connections.discard(connection)
        for connections in self._logged_in.values():
            connections.discard(connection)

    def log_out(self, user: str, *, keep: _Connection | None = None) -> None:
        """Close every open connection logged in as ``user`` (its credential changed)."""
        for connection in list(self._logged_in.get(user, ())):
            if connection is not keep:
                connection.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connection = _Connection(self, reader, writer)
        self._connections.add(connection)
        try:
            await connection.run()
        except asyncio.CancelledError:  # the proxy is stopping
            connection.close()

    async def serve(self, ready: threading.Event | None = None) -> None:
        self._server = await asyncio.start_server(self._handle, *self.listen)
        if ready is not None:
            ready.set()
        try:
            async with self._server:
                await self._server.serve_forever()
        finally:
            for connection in list(self._connections):
                connection.close()

    def start(self) -> FrontDoor:
        """Serve on a daemon thread; returns once listening."""
        ready = threading.Event()

        def run() -> None:
            self._loop = asyncio.new_event_loop()
            with contextlib.suppress(asyncio.CancelledError):
                self._loop.run_until_complete(self.serve(ready))

        self._thread = threading.Thread(target=run, name="kafka-front", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise TimeoutError(f"the Kafka front door did not listen on {self.listen[0]}:{self.listen[1]}")
        return self

    def stop(self) -> None:
        if self._loop is None or self._server is None:
            return

        def shutdown() -> None:
            assert self._server is not None
            self._server.close()
            for connection in list(self._connections):
                connection.close()
            for task in asyncio.all_tasks(self._loop):
                task.cancel()

        self._loop.call_soon_threadsafe(shutdown)
        if self._thread is not None:
            self._thread.join(5)

