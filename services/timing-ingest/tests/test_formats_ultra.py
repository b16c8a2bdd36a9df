"""RFID Timing Systems Ultra lines. Sources: TIMING-FORMATS.md (field list, epoch 1980-01-01
UTC, ``V=``/``S=``/settings lines skipped) and PikaTimer's ``PikaRFIDDirectReader.java``
(example read ``0,11055,1170518701,698,1,-71,0,2,1,0000000000000000,0,29319``; "port 0 and
chip 0" is a start time; ``U`` answers are settings)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from copa_timing_ingest.formats import parse
from copa_timing_ingest.formats.ultra import build_line

ALMATY = ZoneInfo("Asia/Almaty")
PIKATIMER_EXAMPLE = "0,11055,1170518701,698,1,-71,0,2,1,0000000000000000,0,29319"


def _ultra(data: str):
    return parse("ultra", data, tz=ALMATY)


def test_pikatimer_example_read():
    (read,) = _ultra(PIKATIMER_EXAMPLE).reads
    assert read.chip == "11055"
    # 1170518701 s + 698 ms after 1980-01-01 00:00 UTC; the zone does not apply (UTC count)
    assert read.at == datetime(2017, 2, 2, 16, 5, 1, 698_000, tzinfo=UTC)
    assert read.antenna == 1
    assert read.rssi == -71
    assert read.seq == 29319
    assert read.seq_scope == "1"
    assert read.kind == "read"


def test_a_rewound_read_dedupes_with_the_live_one():
    rewound = PIKATIMER_EXAMPLE.replace(",-71,0,", ",-71,1,")
    live, again = _ultra(f"{PIKATIMER_EXAMPLE}\n{rewound}").reads
    assert live.dedupe_key() == again.dedupe_key()


def test_chip_0_on_antenna_0_is_the_start_trigger():
    gun = "0,0,1170518000,0,0,0,0,1,1,0000000000000000,0,29000"
    (read,) = _ultra(gun).reads
    assert read.kind == "gun"


def test_a_chip_on_the_trigger_input_is_refused():
    result = _ultra("0,11055,1170518701,698,0,-71,0,2,1,0000000000000000,0,29319")
    assert "start trigger" in result.rejected[0].reason


def test_voltage_status_and_settings_lines_are_skipped_not_errors():
    data = "\n".join(
        [
            "V=12.41",
            "S=1,2,3",
            "U\x1e3",
            "u",
            "\x03\x01\x02",
            "12:01:02 17-03-2024",
            PIKATIMER_EXAMPLE,
        ]
    )
    result = _ultra(data)
    assert result.skipped == 6
    assert result.rejected == []
    assert [r.line for r in result.reads] == [7]


def test_impossible_values_are_refused_with_their_line():
    lines = [
        PIKATIMER_EXAMPLE,
        "0,11055,1170518701,1000,1,-71,0,2,1,0000000000000000,0,29320",  # 1000 ms
        "0,11055,1170518701,698,9,-71,0,2,1,0000000000000000,0,29321",  # antenna 9
        "0,11055,1170518701,698,1,-71,2,2,1,0000000000000000,0,29322",  # rewind 2
        "0,11055,1170518701,698,1,-71,0,2,1,0000000000000000,0",  # 11 fields
        "0,11055,11705x8701,698,1,-71,0,2,1,0000000000000000,0,29323",  # not a number
        "hello",
        PIKATIMER_EXAMPLE,
    ]
    result = _ultra("\n".join(lines))
    assert [r.line for r in result.reads] == [1, 8]
    reasons = {r.line: r.reason for r in result.rejected}
    assert "above 999" in reasons[2]
    assert "antenna 9" in reasons[3]
    assert "rewind" in reasons[4]
    assert "12 ',' fields, not 11" in reasons[5]
    assert "not a number" in reasons[6]
    assert "not an Ultra chip read" in reasons[7]


def test_built_line_reads_back():
    at = datetime(2024, 3, 17, 3, 30, 0, 390_000, tzinfo=UTC)
    (read,) = _ultra(build_line("4242", at, log_id=5, antenna=3, rssi=-55)).reads
    assert (read.chip, read.at, read.antenna, read.rssi, read.seq) == ("4242", at, 3, -55, 5)


def test_out_of_order_and_repeated_lines_are_kept_in_order():
    a = build_line("1", datetime(2024, 3, 17, 9, tzinfo=UTC), log_id=2)
    b = build_line("2", datetime(2024, 3, 17, 8, tzinfo=UTC), log_id=1)
    result = _ultra("\r\n".join([a, b, a]))
    assert [r.seq for r in result.reads] == [2, 1, 2]
