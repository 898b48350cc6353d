"""MM2's record formats, checked against byte layouts written out by hand from Kafka's schemas
(connect-mirror-client 4.3's Heartbeat/Checkpoint, connect-mirror's OffsetSync); the
integration test decodes what real MirrorMaker 2 wrote."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mm2plan.runtime.records import Checkpoint, Heartbeat, OffsetSync, RecordFormatError

TS = 1_700_000_000_123


def test_heartbeat_bytes() -> None:
    hb = Heartbeat("dc1", "dc2", TS)
    assert hb.key_bytes() == b"\x00\x03dc1\x00\x03dc2"
    assert hb.value_bytes() == b"\x00\x00" + TS.to_bytes(8, "big")
    assert Heartbeat.parse(hb.key_bytes(), hb.value_bytes()) == hb


def test_checkpoint_bytes() -> None:
    cp = Checkpoint("g1", "dc1.orders", 2, 500, 480, "m")
    assert cp.key_bytes() == b"\x00\x02g1\x00\x0adc1.orders\x00\x00\x00\x02"
    assert cp.value_bytes() == (
        b"\x00\x00" + (500).to_bytes(8, "big") + (480).to_bytes(8, "big") + b"\x00\x01m"
    )
    assert Checkpoint.parse(cp.key_bytes(), cp.value_bytes()) == cp


def test_offset_sync_bytes_have_no_version_header() -> None:
    sync = OffsetSync("orders", 1, 1000, 990)
    assert sync.key_bytes() == b"\x00\x06orders\x00\x00\x00\x01"
    assert sync.value_bytes() == (1000).to_bytes(8, "big") + (990).to_bytes(8, "big")
    assert OffsetSync.parse(sync.key_bytes(), sync.value_bytes()) == sync


def test_strings_are_utf8_with_a_byte_length() -> None:
    cp = Checkpoint("grüppe", "t", 0, 1, 1)
    assert cp.key_bytes().startswith(b"\x00\x07gr\xc3\xbcppe")


def test_unknown_versions_and_truncation_are_refused() -> None:
    hb = Heartbeat("a", "b", 1)
    with pytest.raises(RecordFormatError, match="version 1"):
        Heartbeat.parse(hb.key_bytes(), b"\x00\x01" + hb.value_bytes()[2:])
    with pytest.raises(RecordFormatError, match="truncated"):
        Checkpoint.parse(Checkpoint("g", "t", 0, 1, 1).key_bytes()[:-1], b"")
    with pytest.raises(RecordFormatError, match="longer than Kafka's STRING"):
        Heartbeat("x" * 40_000, "b", 1).key_bytes()


offsets = st.integers(-(2**63), 2**63 - 1)
text = st.text(max_size=40)


@given(text, text, st.integers(-(2**31), 2**31 - 1), offsets, offsets, text)
def test_checkpoints_round_trip(g: str, t: str, p: int, up: int, down: int, meta: str) -> None:
    cp = Checkpoint(g, t, p, up, down, meta)
    assert Checkpoint.parse(cp.key_bytes(), cp.value_bytes()) == cp
