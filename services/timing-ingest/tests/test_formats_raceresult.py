"""RACE RESULT decoder passings. Sources: RACE RESULT knowledge base "Decoder Communication
Protocol" / Passing Record (kb 487: the 20 fields since protocol 1.6, date ``0000-00-00`` /
``0000-00-01`` without GPS, time ``hh:mm:ss.kkk``); metarace ``decoder/rrs.py`` (``#P`` pushed
passing, 20 fields, hits and max RSSI read as hex, other answers such as ``GETSTATUS``)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from copa_timing_ingest.formats import parse
from copa_timing_ingest.formats.raceresult import build_line

ALMATY = ZoneInfo("Asia/Almaty")
RACE_DAY = date(2024, 3, 17)

# PassingNo;Transp;Date;Time;EventID;Hits;MaxRSSI;InternalData;IsActive;Channel;LoopID;LoopOnly;
# WakeupCounter;Battery;Temperature;InternalActiveData;BoxName;FileNumber;MaxRSSIAntenna;BoxId
PASSING = "#P;1;ZCMBG52;2024-03-17;08:30:00.390;0;1A;1F;;0;;;;;;;;Finish;3;2;D-50432"


def _rr(data: str, day: date | None = RACE_DAY, device: str | None = None):
    return parse("raceresult", data, tz=ALMATY, day=day, device=device)


def test_pushed_passing_fields():
    (read,) = _rr(PASSING).reads
    assert read.chip == "ZCMBG52"
    assert read.at == datetime(2024, 3, 17, 3, 30, 0, 390_000, tzinfo=UTC)
    assert read.seq == 1
    assert read.hits == 0x1A  # hex
    assert read.rssi == 0x1F  # hex, 31 = the passive maximum
    assert read.antenna == 2  # MaxRSSIAntenna
    assert read.device == "D-50432"
    assert read.seq_scope == "D-50432/3"


def test_caller_device_wins_and_passing_files_scope_the_passing_number():
    next_file = PASSING.replace(";Finish;3;", ";Finish;4;")
    first, second = _rr(f"{PASSING}\n{next_file}", device="finish-1").reads
    assert first.device == second.device == "finish-1"
    assert first.seq == second.seq == 1
    assert first.dedupe_key() != second.dedupe_key()


def test_a_fetched_passing_without_the_push_prefix_reads_the_same():
    (pushed,) = _rr(PASSING).reads
    (fetched,) = _rr(PASSING[3:]).reads
    assert (pushed.chip, pushed.at, pushed.seq) == (fetched.chip, fetched.at, fetched.seq)


def test_decoder_without_gps_counts_days_from_the_race_day():
    no_gps = PASSING.replace("2024-03-17", "0000-00-00")
    next_day = PASSING.replace("2024-03-17", "0000-00-01")
    today, tomorrow = _rr(f"{no_gps}\n{next_day}").reads
    assert today.at == datetime(2024, 3, 17, 3, 30, 0, 390_000, tzinfo=UTC)
    assert tomorrow.at == datetime(2024, 3, 18, 3, 30, 0, 390_000, tzinfo=UTC)
    refused = _rr(no_gps, day=None)
    assert refused.reads == []
    assert "race day" in refused.rejected[0].reason


def test_decoder_answers_are_skipped():
    data = "\n".join(
        ["GETPROTOCOL;1.6;3.2", "SETPUSHPASSINGS;1;0", "PASSINGS;12;3", "#S;1;2;3", PASSING]
    )
    result = _rr(data)
    assert result.skipped == 4
    assert result.rejected == []
    assert len(result.reads) == 1


def test_impossible_values_are_refused_and_neighbours_kept():
    lines = [
        PASSING,
        PASSING.replace("2024-03-17", "2024-13-17"),  # month 13
        PASSING.replace("08:30:00.390", "25:30:00.390"),  # hour 25
        PASSING.replace(";1A;", ";XZ;"),  # hits not hex
        PASSING.replace(";D-50432", ""),  # 19 fields
        PASSING.replace("#P;1;", "#P;one;"),
        "hello decoder",
        PASSING,
    ]
    result = _rr("\n".join(lines))
    assert [r.line for r in result.reads] == [1, 8]
    reasons = {r.line: r.reason for r in result.rejected}
    assert "month 13" in reasons[2]
    assert "hour 25" in reasons[3]
    assert "hexadecimal" in reasons[4]
    assert "20 ';' fields, not 19" in reasons[5]
    assert "not a number" in reasons[6]
    assert "not a RACE RESULT passing" in reasons[7]


def test_built_line_round_trips_with_crlf():
    when = datetime(2024, 3, 17, 8, 30, 0, 390_000)
    data = build_line(5, "ABC123", when, hits=0x2B, rssi=0x10) + "\r\n"
    (read,) = _rr(data).reads
    assert (read.seq, read.chip, read.hits, read.rssi) == (5, "ABC123", 0x2B, 0x10)
    assert read.at == datetime(2024, 3, 17, 3, 30, 0, 390_000, tzinfo=UTC)


def test_repeated_passings_are_kept_and_share_a_key():
    result = _rr("\n".join([PASSING, PASSING]))
    assert len(result.reads) == 2
    assert result.reads[0].dedupe_key() == result.reads[1].dedupe_key()
