"""FinishLynx ``.lif`` files. Sources: TIMING-FORMATS.md (header and athlete fields, empty
times, thousandths, DNF/DNS/DQ instead of place or time, CRLF or LF, the delta not to be
relied on) and the LIF description in ``basrijn/regatta_data`` (header: event, round, heat,
name, wind, wind units, template, ?, ?, distance, start time HH:MM:SS.mmm; result: place, ID,
lane, last name, first name, affiliation, time, license, delta, reaction time, splits...)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from copa_timing_ingest.formats import parse
from copa_timing_ingest.formats.lif import status_of

HEAT = [
    "12,1,2,Men 100m Final,+1.2,m/s,,,,100,14:05:00.000",
    "1,101,4,Bolt,Usain,JAM,10.234,,10.234,0.145",
    "2,202,5,Blake,Yohan,JAM,10.240,,0.006,0.160",
    "3,303,3,Gatlin,Justin,USA,10.240,,0.000,0.151",
    ",404,6,Powell,Asafa,JAM,,,0.301,",
    "DNF,505,7,Doe,John,KAZ,,,,",
    "DNS,606,8,Roe,Richard,KAZ,,,,",
    "DQ,707,2,Moe,Max,KAZ,,,,",
    "DQ 7.12,808,1,Poe,Ed,KAZ,,,,",
    ",909,9,Zoe,Zed,KAZ,DSQ,,,",
]


def _lif(data: bytes | str):
    return parse("lif", data, tz=ZoneInfo("UTC"))


def test_header_fields():
    header = _lif("\n".join(HEAT)).lif.header
    assert (header.event, header.round, header.heat) == (12, 1, 2)
    assert header.name == "Men 100m Final"
    assert (header.wind, header.wind_unit, header.distance) == ("+1.2", "m/s", "100")
    assert header.start_time == "14:05:00.000"
    assert header.start_time_of_day_us == (14 * 3600 + 5 * 60) * 1_000_000


def test_athletes_with_places_times_and_statuses():
    result = _lif("\n".join(HEAT))
    assert result.rejected == []
    assert result.reads == []
    rows = [
        (a.place, a.bib, a.lane, a.status, a.elapsed_us, a.reaction_us) for a in result.lif.athletes
    ]
    assert rows == [
        (1, "101", 4, None, 10_234_000, 145_000),
        (2, "202", 5, None, 10_240_000, 160_000),
        (3, "303", 3, None, 10_240_000, 151_000),  # same time, other place: photo order
        (None, "404", 6, None, None, None),  # empty time, a delta still there
        (None, "505", 7, "DNF", None, None),
        (None, "606", 8, "DNS", None, None),
        (None, "707", 2, "DQ", None, None),
        (None, "808", 1, "DQ 7.12", None, None),
        (None, "909", 9, "DQ", None, None),
    ]
    first = result.lif.athletes[0]
    assert (first.last_name, first.first_name, first.affiliation, first.line) == (
        "Bolt",
        "Usain",
        "JAM",
        2,
    )


def test_crlf_and_lf_files_read_the_same():
    lf = _lif("\n".join(HEAT) + "\n")
    crlf = _lif(("\r\n".join(HEAT) + "\r\n").encode())
    assert lf.lif == crlf.lif


@pytest.mark.parametrize(
    ("time_text", "elapsed_us"),
    [
        ("10.234", 10_234_000),
        ("9.58", 9_580_000),
        ("10", 10_000_000),
        ("1:02.345", 62_345_000),
        ("12:01:02.3", 43_262_300_000),
        ("2:05:30.0001", 7_530_000_100),
    ],
)
def test_times_are_exact_integer_microseconds(time_text, elapsed_us):
    (athlete,) = _lif(f"{HEAT[0]}\n1,101,4,A,B,C,{time_text}").lif.athletes
    assert athlete.elapsed_us == elapsed_us


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("1,101,4,A,B,C,10.2a", "not a number"),
        ("1,101,4,A,B,C,1:75.2", "below 60"),
        ("1,101,4,A,B,C,1:2.5", "two digits"),
        ("1,101,4,A,B,C,10.2345678", "finer than a microsecond"),
        ("1,101,4,A,B,C,DQ", "together with status"),
        ("XYZ,101,4,A,B,C,10.1", "neither a number nor DNF/DNS/DQ"),
        ("1,,4,A,B,C,10.1", "without an id"),
        ("1,101,4,A,B", "at least 7"),
        ("1,101,x,A,B,C,10.1", "lane"),
        ("DNF,101,4,A,B,C,DNS", "DNF in the place column, DNS in time"),
    ],
)
def test_bad_athlete_lines_are_refused_and_the_rest_is_read(line, reason):
    result = _lif("\n".join([HEAT[0], HEAT[1], line, HEAT[2]]))
    assert [a.bib for a in result.lif.athletes] == ["101", "202"]
    (rejected,) = result.rejected
    assert rejected.line == 3
    assert reason in rejected.reason


def test_a_bad_header_is_refused_and_athletes_still_read():
    result = _lif("\n".join(["x,1,2,Men 100m", HEAT[1]]))
    assert result.lif.header is None
    assert result.rejected[0].line == 1
    assert [a.bib for a in result.lif.athletes] == ["101"]


def test_quoted_names_with_commas_and_cp1252_files():
    data = '1,1,1,100m\r\n1,101,4,"Müller, Jr.",Jörg,"Club, Almaty",10.1\r\n'.encode("cp1252")
    (athlete,) = _lif(data).lif.athletes
    assert athlete.last_name == "Müller, Jr."
    assert athlete.first_name == "Jörg"
    assert athlete.affiliation == "Club, Almaty"


def test_dq_variants_keep_their_rule():
    assert status_of("DQ") == "DQ"
    assert status_of("dsq") == "DQ"
    assert status_of("DQ TR16.8") == "DQ TR16.8"
    assert status_of("DQ-TR16.8") == "DQ TR16.8"
    assert status_of("dnf") == "DNF"
    assert status_of("NT") is None


def test_repeated_athlete_lines_are_kept():
    result = _lif("\n".join([HEAT[0], HEAT[1], HEAT[1]]))
    assert [a.line for a in result.lif.athletes] == [2, 3]
