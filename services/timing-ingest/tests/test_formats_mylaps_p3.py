"""MYLAPS P3 frames. Sources: TIMING-FORMATS.md; the AMBp3client implementation guide (header
layout, escaping, CRC procedure and its example status frame
``8e021f00f3890000020001022800070216000c01760601008104131804008f`` whose CRC bytes are
``f3 89``); AMBp3client ``AmbP3/crc16.py`` (the table-driven CRC the decoders use, reimplemented
below as the reference); the P3 tag list of a Rust client checked against a live ProChip capture
(passing tags 01, 03, 04, 05, 06, 08, 0A, 10, 81)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from copa_timing_ingest.formats import parse
from copa_timing_ingest.formats.mylaps_p3 import (
    ESCAPED,
    F_DECODER_ID,
    F_PASSING_NUMBER,
    F_TRANSPONDER,
    TYPE_PASSING,
    TYPE_STATUS,
    crc16,
    encode_frame,
    encode_passing,
    escape,
    unescape,
)

UTC_ZONE = ZoneInfo("UTC")
GUIDE_STATUS_FRAME = bytes.fromhex("8e021f00f3890000020001022800070216000c01760601008104131804008f")
T0_US = 1_710_660_000_390_000  # 2024-03-17T07:20:00.39Z


def _reference_crc(frame: bytes) -> int:
    """AMBp3client crc16.py, byte for byte: table for poly 0x1021, register 0xFFFF, each byte
    XORed in after the table step; computed with the CRC bytes zeroed."""
    table = []
    for i in range(256):
        crc = i << 8
        for _ in range(8):
            crc = ((crc << 1) & 0xFFFF) ^ (0x1021 if crc & 0x8000 else 0)
        table.append(crc)
    crc = 0xFFFF
    for byte in frame[:4] + b"\x00\x00" + frame[6:]:
        crc = (table[(crc >> 8) & 0xFF] ^ ((crc << 8) & 0xFFFF) ^ byte) & 0xFFFF
    return crc


def _p3(data: bytes):
    return parse("mylaps-p3", data, tz=UTC_ZONE)


def test_the_guides_status_frame_has_a_valid_crc_and_is_skipped_not_a_read():
    assert crc16(GUIDE_STATUS_FRAME) == 0x89F3 == int.from_bytes(GUIDE_STATUS_FRAME[4:6], "little")
    result = _p3(GUIDE_STATUS_FRAME)
    assert result.reads == []
    assert result.rejected == []
    assert result.skipped == 1


@given(st.binary(min_size=11, max_size=200))
def test_crc_matches_the_decoders_table_algorithm(frame):
    assert crc16(frame) == _reference_crc(frame)


def test_a_passing_frame_decodes_to_a_read():
    frame = encode_passing(
        1234,
        102_758_186,
        T0_US,
        strength=120,
        hits=35,
        flags=0,
        text_id=b"FL-94890",
        decoder_id=0x000C00D0,
    )
    result = _p3(frame)
    assert result.rejected == []
    (read,) = result.reads
    assert read.chip == "102758186"
    assert read.at == datetime(2024, 3, 17, 7, 20, 0, 390_000, tzinfo=UTC)
    assert read.seq == 1234
    assert read.rssi == 120
    assert read.hits == 35
    assert read.device == "D0000C00"  # the decoder's id as its bytes go on the wire
    assert read.seq_scope == "D0000C00"
    assert read.line == 1
    assert read.kind == "read"


def test_transponder_and_time_bytes_8a_to_8f_are_escaped_and_read_back():
    transponder = int.from_bytes(bytes([0x8A, 0x8E, 0x8F, 0x0D]), "little")
    time_us = int.from_bytes(bytes([0x8B, 0x8C, 0x8D, 0x8E, 0x8F, 0x16, 0x06, 0x00]), "little")
    frame = encode_passing(0x8F8D, transponder, time_us)
    inner = frame[1:-1]
    assert 0x8E not in inner
    assert 0x8F not in inner
    assert bytes([0x8D, 0xAE]) in inner  # 8E sent as 8D AE
    assert bytes([0x8D, 0xAA]) in inner  # 8A sent as 8D AA
    (read,) = _p3(frame).reads
    assert read.chip == str(transponder)
    assert read.seq == 0x8F8D
    assert read.at == datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=time_us)


def test_an_unescaped_8a_8c_is_data_but_an_unknown_escape_is_refused():
    assert unescape(bytes([0x01, 0x8A, 0x8C])) == bytes([0x01, 0x8A, 0x8C])
    assert unescape(bytes([0x8D, 0xAD, 0x8D, 0xAA])) == bytes([0x8D, 0x8A])
    good = encode_passing(1, 77, T0_US)
    bad = good[:-1] + bytes([0x8D, 0x00]) + good[-1:]
    result = _p3(bad + good)
    assert [r.line for r in result.reads] == [2]
    (rejected,) = result.rejected
    assert rejected.line == 1
    assert "invalid escape 8D 00" in rejected.reason


def test_a_crc_failure_is_refused_and_the_frames_around_are_read():
    frames = [encode_passing(n, 1000 + n, T0_US + n) for n in (1, 2, 3)]
    broken = bytearray(frames[1])
    broken[-3] ^= 0x01  # a data byte inside the last field, not an escape
    assert broken[-4] != 0x8D  # still a plain data byte, not part of an escape
    assert broken[-3] not in ESCAPED
    result = _p3(frames[0] + bytes(broken) + frames[2])
    assert [r.seq for r in result.reads] == [1, 3]
    assert [r.line for r in result.reads] == [1, 3]
    (rejected,) = result.rejected
    assert rejected.line == 2
    assert "CRC" in rejected.reason
    assert rejected.text == bytes(broken).hex()


def test_a_wrong_length_field_is_refused():
    frame = bytearray(encode_frame(TYPE_PASSING, [(F_PASSING_NUMBER, (5).to_bytes(4, "little"))]))
    frame[2] += 1
    frame[4:6] = crc16(bytes(frame)).to_bytes(2, "little")  # consistent CRC, wrong length
    result = _p3(bytes(frame))
    assert "length field" in result.rejected[0].reason


def test_a_passing_without_transponder_is_refused():
    frame = encode_frame(TYPE_PASSING, [(F_PASSING_NUMBER, (5).to_bytes(4, "little"))])
    assert "without transponder" in _p3(frame).rejected[0].reason


def test_a_field_with_the_wrong_width_is_refused():
    frame = encode_frame(
        TYPE_PASSING,
        [
            (F_PASSING_NUMBER, (5).to_bytes(4, "little")),
            (F_TRANSPONDER, (9).to_bytes(2, "little")),
        ],
    )
    assert "field 03 has 2 bytes, not 4" in _p3(frame).rejected[0].reason


def test_cut_off_frames_and_bytes_between_frames_are_refused_by_frame_index():
    one, two, three = (encode_passing(n, n, T0_US) for n in (1, 2, 3))
    data = b"\x00\x01" + one + two[:-4] + three + b"\xff" + two[:6]
    result = _p3(data)
    assert [(r.line, r.seq) for r in result.reads] == [(1, 1), (3, 3)]
    assert [(r.line, r.reason) for r in result.rejected] == [
        (1, "2 bytes outside any frame"),
        (2, "new 8E before the 8F end"),
        (4, "1 bytes outside any frame"),
        (4, "no 8F end: frame cut off"),
    ]


def test_status_frames_are_counted_as_skipped_between_passings():
    status = encode_frame(
        TYPE_STATUS, [(0x01, (40).to_bytes(2, "little")), (F_DECODER_ID, bytes(4))]
    )
    data = encode_passing(1, 5, T0_US) + status + encode_passing(2, 6, T0_US)
    result = _p3(data)
    assert [r.line for r in result.reads] == [1, 3]
    assert result.skipped == 1
    assert result.rejected == []


def test_repeated_frames_are_kept_and_share_a_dedupe_key():
    frame = encode_passing(7, 5, T0_US, decoder_id=1)
    result = _p3(frame + frame)
    assert len(result.reads) == 2
    assert (
        result.reads[0].dedupe_key()
        == result.reads[1].dedupe_key()
        == ("01000000", "seq:01000000:7")
    )


u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 0xFFFF_FFFF)


@given(
    passing_number=u32,
    transponder=u32,
    time_us=st.integers(0, 253_402_214_400_000_000),  # up to 9999-12-31
    strength=st.none() | u16,
    hits=st.none() | u16,
    decoder_id=st.none() | u32,
)
def test_encode_then_decode_gives_back_every_field(
    passing_number, transponder, time_us, strength, hits, decoder_id
):
    frame = encode_passing(
        passing_number, transponder, time_us, strength=strength, hits=hits, decoder_id=decoder_id
    )
    assert 0x8E not in frame[1:-1]
    assert 0x8F not in frame[1:-1]
    result = _p3(frame)
    assert result.rejected == []
    (read,) = result.reads
    assert read.seq == passing_number
    assert read.chip == str(transponder)
    assert read.at == datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=time_us)
    assert read.rssi == strength
    assert read.hits == hits
    if decoder_id is not None:
        assert read.device == decoder_id.to_bytes(4, "little").hex().upper()


@given(st.binary(max_size=64))
def test_escape_then_unescape_is_identity(body):
    escaped = escape(body)
    assert not any(b in (0x8E, 0x8F) for b in escaped)
    assert unescape(escaped) == body
