"""The Kafka protocol's primitive encodings, as the proxy needs them (read and write).

Classic encodings (int16-length strings, int32-length arrays) and the "flexible" ones of newer
versions (unsigned-varint lengths + 1, tagged fields) side by side; a :class:`Reader` raises
:class:`ShortFrame` when a frame ends early, which the proxy answers by closing the connection.
"""

from __future__ import annotations

import struct


class ShortFrame(ValueError):
    """The frame ended before the field being read."""


def uvarint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def int8(n: int) -> bytes:
    return struct.pack(">b", n)


def int16(n: int) -> bytes:
    return struct.pack(">h", n)


def int32(n: int) -> bytes:
    return struct.pack(">i", n)


def int64(n: int) -> bytes:
    return struct.pack(">q", n)


def string(s: str | None, flexible: bool) -> bytes:
    """A (nullable) string: compact (flexible versions) or int16-length."""
    if s is None:
        return b"\x00" if flexible else int16(-1)
    data = s.encode()
    return (uvarint(len(data) + 1) if flexible else int16(len(data))) + data


def blob(b: bytes | None, flexible: bool) -> bytes:
    """(Nullable) bytes: compact or int32-length."""
    if b is None:
        return b"\x00" if flexible else int32(-1)
    return (uvarint(len(b) + 1) if flexible else int32(len(b))) + b


def array_length(n: int, flexible: bool) -> bytes:
    return uvarint(n + 1) if flexible else int32(n)


def tags(flexible: bool) -> bytes:
    """An empty tagged-field section (flexible versions only)."""
    return b"\x00" if flexible else b""


class Reader:
    """Reads one frame front to back."""

    def __init__(self, data: bytes, offset: int = 0):
        self.data, self.offset = data, offset

    def take(self, n: int) -> bytes:
        end = self.offset + n
        if n < 0 or end > len(self.data):
            raise ShortFrame(f"frame ends at {len(self.data)}, wanted {end}")
        chunk = self.data[self.offset:end]
        self.offset = end
        return chunk

    def int8(self) -> int:
        return struct.unpack(">b", self.take(1))[0]

    def int16(self) -> int:
        return struct.unpack(">h", self.take(2))[0]

    def int32(self) -> int:
        return struct.unpack(">i", self.take(4))[0]

    def uvarint(self) -> int:
        shift = value = 0
        while True:
            byte = self.take(1)[0]
            value |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                return value

    def string(self, flexible: bool) -> str | None:
        n = self.uvarint() - 1 if flexible else self.int16()
        return None if n < 0 else self.take(n).decode()

    def blob(self, flexible: bool) -> bytes | None:
        n = self.uvarint() - 1 if flexible else self.int32()
        return None if n < 0 else self.take(n)

    def array_length(self, flexible: bool) -> int:
        n = self.uvarint() - 1 if flexible else self.int32()
        return max(n, 0)

    def skip_tags(self, flexible: bool) -> None:
        if not flexible:
            return
        for _ in range(self.uvarint()):
            self.uvarint()
            self.take(self.uvarint())

    def rest(self) -> bytes:
        return self.data[self.offset:]
