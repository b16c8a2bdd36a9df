"""IPICO lines: layout and example from TIMING-FORMATS.md and from the public parser tests of
iwismer/rusty-timer (``crates/ipico-core/src/read.rs``: ``simple_chip``, ``invalid_checksum``,
``wrong_length``, ``fsls_suffixes``, ``centisecond_bounds``, ``tto_enabled_read...``)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from copa_timing_ingest.formats import parse
from copa_timing_ingest.formats.ipico import build_line, checksum

UTC_ZONE = ZoneInfo("UTC")
ALMATY = ZoneInfo("Asia/Almaty")
DOC_LINE = "aa400000000123450a2a01123018455927a7"  # tag 000000012345 at 2001-12-30 18:45:59.39


def test_documented_line_is_tag_000000012345_at_18_45_59_39():
    result = parse("ipico", DOC_LINE, tz=UTC_ZONE)
    assert result.rejected == []
    (read,) = result.reads
    assert read.chip == "000000012345"
    assert read.at == datetime(2001, 12, 30, 18, 45, 59, 390_000, tzinfo=UTC)
    assert read.kind == "read"
    assert read.seq is None
    assert read.line == 1


def test_checksum_is_the_ascii_sum_of_bytes_2_to_34_in_lowercase_hex():
    assert checksum(DOC_LINE[2:34]) == "a7"
    assert build_line("000000012345", datetime(2001, 12, 30, 18, 45, 59, 390_000)) == DOC_LINE


def test_bad_checksum_is_refused_and_the_good_lines_around_are_kept():
    data = "\n".join([DOC_LINE, DOC_LINE[:-2] + "a8", DOC_LINE[:-2] + "ff", DOC_LINE])
    result = parse("ipico", data, tz=UTC_ZONE)
    assert [r.line for r in result.reads] == [1, 4]
    assert [r.line for r in result.rejected] == [2, 3]
    assert all("checksum" in r.reason for r in result.rejected)
    assert result.rejected[0].text == DOC_LINE[:-2] + "a8"


def test_uppercase_checksum_is_refused():
    result = parse("ipico", DOC_LINE[:-2] + "A7", tz=UTC_ZONE)
    assert result.reads == []
    assert "checksum" in result.rejected[0].reason


def test_wrong_length_and_prefix_are_refused():
    result = parse(
        "ipico", "\n".join([DOC_LINE + "a", DOC_LINE[:-1], "ab" + DOC_LINE[2:]]), tz=UTC_ZONE
    )
    assert result.reads == []
    reasons = [r.reason for r in result.rejected]
    assert "44 characters" in reasons[0]
    assert "44 characters" in reasons[1]
    assert "'aa'" in reasons[2]


def test_fs_and_ls_suffixes_mark_first_and_last_seen():
    result = parse("ipico", f"{DOC_LINE}FS\n{DOC_LINE}LS\n{DOC_LINE}ZZ\n{DOC_LINE}fs", tz=UTC_ZONE)
    assert [r.kind for r in result.reads] == ["first_seen", "last_seen"]
    assert [r.line for r in result.rejected] == [3, 4]


def test_hundredths_are_hex_00_to_63_and_64_is_impossible():
    at = datetime(2001, 12, 30, 18, 45, 59)
    low = build_line("000000012345", at)
    high = build_line("000000012345", at.replace(microsecond=990_000))
    assert low[32:34] == "00"
    assert high[32:34] == "63"
    body = low[2:32] + "64"
    too_high = f"aa{body}{checksum(body)}"
    result = parse("ipico", "\n".join([low, high, too_high]), tz=UTC_ZONE)
    assert [r.at.microsecond for r in result.reads] == [0, 990_000]
    (rejected,) = result.rejected
    assert rejected.line == 3
    assert "above 99" in rejected.reason


def _with_datetime(digits12: str) -> str:
    body = "400000000123450a2a" + digits12 + "27"
    return f"aa{body}{checksum(body)}"


def test_impossible_dates_and_times_are_refused_with_their_reason():
    lines = [
        _with_datetime("011330184559"),  # month 13
        _with_datetime("010230184559"),  # 30 February
        _with_datetime("011230254559"),  # hour 25
        _with_datetime("011230186059"),  # minute 60
        _with_datetime("0112301845x9"),  # not a number
    ]
    result = parse("ipico", "\n".join(lines), tz=UTC_ZONE)
    assert result.reads == []
    reasons = [r.reason for r in result.rejected]
    assert "month 13" in reasons[0]
    assert "day 30" in reasons[1]
    assert "hour 25" in reasons[2]
    assert "minute 60" in reasons[3]
    assert "not a number" in reasons[4]


def test_long_variant_flags_byte_gives_first_or_last_seen():
    at = datetime(2001, 12, 30, 18, 45, 59, 390_000)
    first = build_line("000000012345", at, tto=(0x12, 0x00, 0x80))
    last = build_line("000000012345", at, tto=(0x12, 0x00, 0x40))
    tamper = build_line("000000012345", at, tto=(0x12, 0x00, 0xFF))
    both = build_line("000000012345", at, tto=(0x12, 0x00, 0xC0))
    contradicted = build_line("000000012345", at, tto=(0x12, 0x00, 0x80), suffix="LS")
    agreeing = build_line("000000012345", at, tto=(0x12, 0x00, 0x40), suffix="LS")
    assert len(first) == 42
    assert len(agreeing) == 44
    result = parse(
        "ipico", "\n".join([first, last, tamper, both, contradicted, agreeing]), tz=UTC_ZONE
    )
    assert [(r.line, r.kind) for r in result.reads] == [
        (1, "first_seen"),
        (2, "last_seen"),
        (3, "read"),
        (6, "last_seen"),
    ]
    assert [r.line for r in result.rejected] == [4, 5]


def test_repeated_and_out_of_order_lines_are_kept_as_they_came():
    early = build_line("000000000001", datetime(2024, 3, 17, 8, 0, 0))
    late = build_line("000000000002", datetime(2024, 3, 17, 9, 0, 0))
    result = parse("ipico", "\n".join([late, early, late]), tz=UTC_ZONE)
    assert [r.chip for r in result.reads] == ["000000000002", "000000000001", "000000000002"]
    assert result.reads[0].dedupe_key() == result.reads[2].dedupe_key()
    assert result.reads[0].dedupe_key() != result.reads[1].dedupe_key()


def test_crlf_and_lf_give_the_same_reads():
    lines = [DOC_LINE, build_line("000000000002", datetime(2024, 3, 17, 9, 0, 0))]
    lf = parse("ipico", "\n".join(lines) + "\n", tz=UTC_ZONE)
    crlf = parse("ipico", ("\r\n".join(lines) + "\r\n").encode(), tz=UTC_ZONE)
    assert lf.reads == crlf.reads
    assert lf.rejected == crlf.rejected == []


def test_reader_local_time_is_read_in_the_device_zone():
    # Asia/Almaty was UTC+6 in December 2001.
    (read,) = parse("ipico", DOC_LINE, tz=ALMATY, device="finish-1").reads
    assert read.at == datetime(2001, 12, 30, 12, 45, 59, 390_000, tzinfo=UTC)
    assert read.device == "finish-1"


tags = st.text(alphabet="0123456789abcdef", min_size=12, max_size=12)
wall_clock = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31, 23, 59, 59)
).map(lambda d: d.replace(microsecond=d.microsecond // 10_000 * 10_000))


@given(
    tag=tags,
    when=wall_clock,
    reader=st.sampled_from(["40", "0a", "ff"]),
    suffix=st.sampled_from(["", "FS", "LS"]),
)
def test_any_constructed_line_reads_back_as_built(tag, when, reader, suffix):
    line = build_line(tag, when, reader=reader, suffix=suffix)
    result = parse("ipico", line, tz=UTC_ZONE)
    assert result.rejected == []
    (read,) = result.reads
    assert read.chip == tag
    assert read.at == when.replace(tzinfo=UTC)
    assert read.kind == {"": "read", "FS": "first_seen", "LS": "last_seen"}[suffix]
    assert read.device == reader


@given(tag=tags, when=wall_clock, position=st.integers(2, 33), data=st.data())
def test_changing_any_one_character_breaks_the_checksum(tag, when, position, data):
    line = build_line(tag, when)
    replacement = data.draw(st.sampled_from([c for c in "0123456789abcdef" if c != line[position]]))
    broken = line[:position] + replacement + line[position + 1 :]
    result = parse("ipico", broken, tz=UTC_ZONE)
    assert result.reads == []
    assert "checksum" in result.rejected[0].reason
