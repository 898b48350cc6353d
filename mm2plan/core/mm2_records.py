"""MM2's record formats, byte for byte: heartbeats, checkpoints and offset-syncs.

MirrorMaker 2 writes these with Kafka's protocol types (`org.apache.kafka.common.protocol.types`):
big-endian integers and STRING as an int16 length then UTF-8. Heartbeat and checkpoint values
start with an int16 version header (0); offset-sync values have none. The bundled runtime writes
them so that MM2's own tools (RemoteClusterUtils, MirrorCheckpointTask, a failover taking over
from real MM2) read them, and failover reads the ones real MM2 wrote.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

VERSION = 0
"""The only version of heartbeat and checkpoint values that Kafka (to 4.3) writes or reads."""
_MAX_STRING = 32767
"""Kafka's STRING carries an int16 length."""


class RecordFormatError(ValueError):
    """Bytes that are not an MM2 record of the expected kind (truncated, another version)."""


class _Writer:
    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def int16(self, v: int) -> _Writer:
        self.parts.append(struct.pack(">h", v))
        return self

    def int32(self, v: int) -> _Writer:
        self.parts.append(struct.pack(">i", v))
        return self

    def int64(self, v: int) -> _Writer:
        self.parts.append(struct.pack(">q", v))
        return self

    def string(self, s: str) -> _Writer:
        data = s.encode()
        if len(data) > _MAX_STRING:
            raise RecordFormatError(f"string of {len(data)} bytes is longer than Kafka's STRING")
        self.parts.append(struct.pack(">h", len(data)) + data)
        return self

    def bytes(self) -> bytes:
        return b"".join(self.parts)


class _Reader:
    def __init__(self, data: bytes, what: str) -> None:
        self.data, self.pos, self.what = data, 0, what

    def _take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise RecordFormatError(f"{self.what}: truncated at byte {self.pos}")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def int16(self) -> int:
        return int(struct.unpack(">h", self._take(2))[0])

    def int32(self) -> int:
        return int(struct.unpack(">i", self._take(4))[0])

    def int64(self) -> int:
        return int(struct.unpack(">q", self._take(8))[0])

    def string(self) -> str:
        n = self.int16()
        if n < 0:
            raise RecordFormatError(f"{self.what}: a null STRING")
        try:
            return self._take(n).decode()
        except UnicodeDecodeError:
            raise RecordFormatError(f"{self.what}: a STRING that is not UTF-8") from None

    def version(self) -> None:
        v = self.int16()
        if v != VERSION:
            raise RecordFormatError(f"{self.what}: version {v}, this mm2plan reads {VERSION}")


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """Written by MirrorHeartbeatConnector to `heartbeats` on the target, once per interval."""

    source: str
    target: str
    timestamp_ms: int

    def key_bytes(self) -> bytes:
        return _Writer().string(self.source).string(self.target).bytes()

    def value_bytes(self) -> bytes:
        return _Writer().int16(VERSION).int64(self.timestamp_ms).bytes()

    @classmethod
    def parse(cls, key: bytes, value: bytes) -> Heartbeat:
        k, v = _Reader(key, "heartbeat key"), _Reader(value, "heartbeat value")
        source, target = k.string(), k.string()
        v.version()
        return cls(source, target, v.int64())


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """Written by MirrorCheckpointConnector to `<source>.checkpoints.internal` on the target: a
    group's committed offset upstream and its translation downstream. `topic` is the remote
    (downstream) name, as MM2 writes it."""

    group: str
    topic: str
    partition: int
    upstream_offset: int
    downstream_offset: int
    metadata: str = ""

    def key_bytes(self) -> bytes:
        return _Writer().string(self.group).string(self.topic).int32(self.partition).bytes()

    def value_bytes(self) -> bytes:
        w = _Writer().int16(VERSION).int64(self.upstream_offset).int64(self.downstream_offset)
        return w.string(self.metadata).bytes()

    @classmethod
    def parse(cls, key: bytes, value: bytes) -> Checkpoint:
        k, v = _Reader(key, "checkpoint key"), _Reader(value, "checkpoint value")
        group, topic, partition = k.string(), k.string(), k.int32()
        v.version()
        return cls(group, topic, partition, v.int64(), v.int64(), v.string())


@dataclass(frozen=True, slots=True)
class OffsetSync:
    """Written by MirrorSourceConnector to `mm2-offset-syncs.<target>.internal` (on the source
    by default): an upstream offset and the downstream offset its record got."""

    topic: str
    partition: int
    upstream_offset: int
    downstream_offset: int

    def key_bytes(self) -> bytes:
        return _Writer().string(self.topic).int32(self.partition).bytes()

    def value_bytes(self) -> bytes:
        return _Writer().int64(self.upstream_offset).int64(self.downstream_offset).bytes()

    @classmethod
    def parse(cls, key: bytes, value: bytes) -> OffsetSync:
        k, v = _Reader(key, "offset-sync key"), _Reader(value, "offset-sync value")
        return cls(k.string(), k.int32(), v.int64(), v.int64())
