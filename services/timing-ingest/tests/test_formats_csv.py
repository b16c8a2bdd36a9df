"""Generic CSV (TIMING-FORMATS.md: a header names the columns; at least chip or bib, and
time; used by file-logging readers and judges' backup timing)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from copa_timing_ingest.formats import parse

ALMATY = ZoneInfo("Asia/Almaty")


def _csv(data: str | bytes, day: date | None = date(2024, 3, 17), device: str | None = None):
    return parse("csv", data, tz=ALMATY, day=day, device=device)


def test_all_columns():
    data = (
        "Chip, Time ,location,antenna,seq,rssi,device,ignored\n"
        "E2001,2024-03-17T08:30:00.39,finish,2,17,-61,reader-A,x\n"
        "E2002,2024-03-17 03:30:01.5Z,finish,1,18,-70,reader-A,y\n"
    )
    first, second = _csv(data).reads
    assert first.chip == "E2001"
    assert first.at == datetime(2024, 3, 17, 3, 30, 0, 390_000, tzinfo=UTC)
    assert (first.location, first.antenna, first.seq, first.rssi) == ("finish", 2, 17, -61)
    assert first.device == "reader-A"
    assert first.dedupe_key() == ("reader-A", "seq:reader-A:17")
    assert second.at == datetime(2024, 3, 17, 3, 30, 1, 500_000, tzinfo=UTC)


def test_judges_backup_sheet_with_bibs_and_times_of_day():
    data = "bib,time\r\n101,08:30:00.39\r\n102,08:30:01.02\r\n"
    first, second = _csv(data, device="judge-1").reads
    assert (first.chip, first.bib, first.device) == ("101", "101", "judge-1")
    assert first.at == datetime(2024, 3, 17, 3, 30, 0, 390_000, tzinfo=UTC)
    assert second.seq is None
    assert first.dedupe_key() != second.dedupe_key()


def test_a_header_without_time_refuses_every_row():
    result = _csv("chip,location\nE1,finish\nE2,finish\n")
    assert result.reads == []
    assert [r.line for r in result.rejected] == [1, 2, 3]
    assert "no 'time' column" in result.rejected[0].reason
    assert "no usable header" in result.rejected[1].reason


def test_a_header_without_chip_or_bib_is_refused():
    result = _csv("time,location\n08:30:00,finish\n")
    assert "neither a 'chip' nor a 'bib'" in result.rejected[0].reason


def test_bad_rows_are_refused_and_the_rest_read():
    data = "\n".join(
        [
            "chip,time,antenna",
            "E1,08:30:00.39,1",
            "E2,25:30:00.39,1",  # hour 25
            "E3,2024-13-17T08:30:00,1",  # month 13
            "E4,08:30:00,x",  # antenna not a number
            ",08:30:00,1",  # no chip
            "E6",  # too few fields
            "E1,08:30:00.39,1",  # repeated: kept
        ]
    )
    result = _csv(data)
    assert [r.line for r in result.reads] == [2, 8]
    reasons = {r.line: r.reason for r in result.rejected}
    assert "hour 25" in reasons[3]
    assert "month 13" in reasons[4]
    assert "not a number" in reasons[5]
    assert "neither chip nor bib" in reasons[6]
    assert "header names more" in reasons[7]


def test_times_of_day_need_the_race_day():
    result = _csv("chip,time\nE1,08:30:00\n", day=None)
    assert "race day" in result.rejected[0].reason


def test_invalid_utf8_line_is_refused_alone():
    data = b"chip,time\nE1,08:30:00\n\xff\xfe,08:30:01\nE3,08:30:02\n"
    result = _csv(data)
    assert [r.chip for r in result.reads] == ["E1", "E3"]
    assert "UTF-8" in result.rejected[0].reason
