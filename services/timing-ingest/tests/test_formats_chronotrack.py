"""ChronoTrack CTP01 lines. Sources: TIMING-FORMATS.md; the CTP01 integration description
published with PointCam (tag line ``CT01_33~1~finish~1234~14:02:15.31~0~POINTCAM~0``, time
formats normal/iso/unix/msecs, greeting ``RunScore~Version 6.5~CTP01``, ``PointCam~1.0.0~4``,
settings ``stream-mode=push``, ``ack~ping``, ``start~finish``); racemap's timing forwarder
(``CT01_33~4~start~guntime~07:45:01.01~0~DF239A~0``, ``CT01_33~2038~30k~newlocation~...``,
``CT01_13,24,START,50101,15:54:48.90,1,117F37,8``, antenna port 0 = gun start)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from copa_timing_ingest.formats import parse

UTC_ZONE = ZoneInfo("UTC")
ALMATY = ZoneInfo("Asia/Almaty")
DAY = date(2026, 2, 1)
AT = datetime(2026, 2, 1, 14, 2, 15, 310_000, tzinfo=UTC)


def _ct(data: str, tz: ZoneInfo = UTC_ZONE, day: date | None = DAY):
    return parse("chronotrack", data, tz=tz, day=day)


@pytest.mark.parametrize(
    ("time_field", "expected"),
    [
        ("14:02:15.31", AT),  # normal
        ("2026-02-01T14:02:15.31", AT),  # iso, zone-less
        ("2026-02-01T19:02:15.31+05:00", AT),  # iso with an offset
        ("50535310", AT),  # msecs since midnight
        ("1738418535.31", datetime(2025, 2, 1, 14, 2, 15, 310_000, tzinfo=UTC)),  # unix
        ("1738418535", datetime(2025, 2, 1, 14, 2, 15, tzinfo=UTC)),
    ],
)
def test_every_time_format_of_the_pointcam_examples(time_field, expected):
    (read,) = _ct(f"CT01_33~1~finish~1234~{time_field}~0~POINTCAM~0").reads
    assert read.at == expected
    assert read.chip == "1234"
    assert read.location == "finish"
    assert read.seq == 1
    assert read.antenna == 0
    assert read.device == "POINTCAM"


def test_guntime_is_the_start_signal():
    (gun,) = _ct("CT01_33~4~start~guntime~07:45:01.01~0~DF239A~0").reads
    assert gun.kind == "gun"
    assert gun.chip == "guntime"
    assert gun.location == "start"


def test_ct01_13_line_and_its_antenna_port_0_gun():
    data = (
        "CT01_13,24,START,50101,15:54:48.90,1,117F37,8\nCT01_13,25,START,0,07:45:01.01,1,117F37,0"
    )
    read, gun = _ct(data).reads
    assert (read.kind, read.chip, read.seq, read.antenna, read.location) == (
        "read",
        "50101",
        24,
        8,
        "START",
    )
    assert read.at == datetime(2026, 2, 1, 15, 54, 48, 900_000, tzinfo=UTC)
    assert read.device == "117F37"
    assert gun.kind == "gun"
    assert gun.antenna == 0


def test_session_lines_are_skipped_only_when_clearly_protocol():
    data = "\n".join(
        [
            "RunScore~Version 6.5~CTP01",
            "PointCam~1.0.0~4",
            "SimpleClient~2.1~CT01_33",
            "stream-mode=push",
            "time-format=normal",
            "ack~ping",
            "ping",
            "start~finish",
            "ack~getlocations~finish~split-1",
            "err~start~invalid location",
            "CT01_33~2038~30k~newlocation~09:15:21.00~0~ED932A~0",
            "CT01_33~1~finish~1234~14:02:15.31~0~POINTCAM~0",
            "hello world",
            "finish~1234~14:02:15.31",
        ]
    )
    result = _ct(data)
    assert result.skipped == 11
    assert [r.line for r in result.reads] == [12]
    assert [r.line for r in result.rejected] == [13, 14]


def test_impossible_values_and_wrong_field_counts_are_refused():
    lines = [
        "CT01_33~1~finish~1234~25:02:15.31~0~ED932A~1",  # hour 25
        "CT01_33~2~finish~1234~14:60:15.31~0~ED932A~1",  # minute 60
        "CT01_33~3~finish~1234~2026-13-01T14:02:15.31~0~ED932A~1",  # month 13
        "CT01_33~4~finish~1234~14:02:15.31~0~ED932A",  # 7 fields
        "CT01_33~x~finish~1234~14:02:15.31~0~ED932A~1",  # seq not a number
        "CT01_33~6~finish~1234~99999999~0~ED932A~1",  # msecs past midnight
        "CT01_13,7,START,50101,15:54:48.90,1,117F37",  # 7 fields
        "CT01_33~8~finish~1234~14:02:15.31~0~ED932A~1",
    ]
    result = _ct("\n".join(lines))
    assert [r.line for r in result.reads] == [8]
    reasons = [r.reason for r in result.rejected]
    assert "hour 25" in reasons[0]
    assert "minute 60" in reasons[1]
    assert "month 13" in reasons[2]
    assert "8 '~' fields, not 7" in reasons[3]
    assert "not a number" in reasons[4]
    assert "past midnight" in reasons[5]
    assert "8 ',' fields, not 7" in reasons[6]


def test_time_of_day_needs_the_race_day():
    result = _ct("CT01_33~1~finish~1234~14:02:15.31~0~ED932A~1", day=None)
    assert result.reads == []
    assert "race day" in result.rejected[0].reason


def test_time_of_day_is_the_readers_local_clock():
    (read,) = _ct(
        "CT01_33~1~finish~1234~08:30:00.39~0~ED932A~1", tz=ALMATY, day=date(2024, 3, 17)
    ).reads
    assert read.at == datetime(2024, 3, 17, 3, 30, 0, 390_000, tzinfo=UTC)


def test_out_of_order_and_repeated_lines_are_kept_as_sent():
    lines = [
        "CT01_33~3~finish~1~14:02:17.00~0~ED932A~1",
        "CT01_33~1~finish~2~14:02:15.00~0~ED932A~1",
        "CT01_33~3~finish~1~14:02:17.00~0~ED932A~1",
    ]
    result = _ct("\r\n".join(lines) + "\r\n")
    assert [r.seq for r in result.reads] == [3, 1, 3]
    assert (
        result.reads[0].dedupe_key() == result.reads[2].dedupe_key() == ("ED932A", "seq:ED932A:3")
    )
