"""The parsers' common surface: one ``parse`` entry, zone handling, dedupe keys, the JSON-lines
renderer and the command line's exit codes (issue 4)."""

from __future__ import annotations

import io
import json
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from copa_timing_ingest.formats import (
    FORMATS,
    Passing,
    UnknownFormatError,
    chronotrack,
    ipico,
    mylaps_p3,
    parse,
    raceresult,
    run_parse_cli,
    to_json_line,
    ultra,
)

ALMATY = ZoneInfo("Asia/Almaty")
UTC_ZONE = ZoneInfo("UTC")


def test_format_names_are_the_ones_the_command_line_accepts():
    assert FORMATS == ("ipico", "chronotrack", "raceresult", "ultra", "mylaps-p3", "lif", "csv")


def test_an_unknown_format_is_a_usage_error():
    with pytest.raises(UnknownFormatError):
        parse("amb-tranx", b"", tz=UTC_ZONE)


def test_p3_takes_bytes_only():
    with pytest.raises(TypeError):
        parse("mylaps-p3", "8e", tz=UTC_ZONE)


# Asia/Almaty moved from UTC+6 to UTC+5 on 2024-03-01 00:00 local time (tzdata 2024a):
# the wall clock went from 2024-03-01 00:00 back to 2024-02-29 23:00.
@pytest.mark.parametrize(
    ("local", "utc"),
    [
        (datetime(2024, 2, 29, 12, 0), datetime(2024, 2, 29, 6, 0, tzinfo=UTC)),
        (datetime(2024, 3, 1, 12, 0), datetime(2024, 3, 1, 7, 0, tzinfo=UTC)),
        (
            datetime(2024, 2, 29, 22, 59, 59, 990_000),
            datetime(2024, 2, 29, 16, 59, 59, 990_000, tzinfo=UTC),
        ),
        (datetime(2024, 3, 1, 0, 0), datetime(2024, 2, 29, 19, 0, tzinfo=UTC)),
    ],
)
def test_zone_less_times_are_read_in_almaty_on_each_side_of_the_2024_change(local, utc):
    (read,) = parse("ipico", ipico.build_line("000000000001", local), tz=ALMATY).reads
    assert read.at == utc


def test_a_wall_clock_time_that_happened_twice_in_almaty_is_refused():
    # 2024-02-29 23:30 happened at 17:30Z (UTC+6) and again at 18:30Z (UTC+5).
    result = parse(
        "ipico", ipico.build_line("000000000001", datetime(2024, 2, 29, 23, 30)), tz=ALMATY
    )
    assert result.reads == []
    assert "happened twice" in result.rejected[0].reason


def test_a_wall_clock_time_that_did_not_happen_is_refused():
    berlin = ZoneInfo("Europe/Berlin")  # 2024-03-31 02:30 was skipped
    line = raceresult.build_line(1, "ABC", datetime(2024, 3, 31, 2, 30))
    result = parse("raceresult", line, tz=berlin)
    assert "did not happen" in result.rejected[0].reason


def test_the_same_zone_less_line_moves_with_the_device_zone():
    line = chronotrack_line = "CT01_33~1~finish~1234~2024-03-17T08:30:00.39~0~ED932A~1"
    (almaty,) = parse("chronotrack", line, tz=ALMATY).reads
    (utc,) = parse("chronotrack", chronotrack_line, tz=UTC_ZONE).reads
    assert almaty.at == datetime(2024, 3, 17, 3, 30, 0, 390_000, tzinfo=UTC)
    assert utc.at - almaty.at == timedelta(hours=5)


def test_json_line_has_the_instant_in_utc_with_microseconds():
    line = "CT01_33~7~finish~1234~2024-03-17T08:30:00.39~0~ED932A~2"
    (read,) = parse("chronotrack", line, tz=ALMATY).reads
    assert json.loads(to_json_line(read)) == {
        "chip": "1234",
        "at": "2024-03-17T03:30:00.390000+00:00",
        "kind": "read",
        "device": "ED932A",
        "antenna": 2,
        "location": "finish",
        "seq": 7,
        "seq_scope": "ED932A",
        "line": 1,
    }


def test_json_line_leaves_out_what_the_format_does_not_carry():
    (read,) = parse("ipico", "aa400000000123450a2a01123018455927a7", tz=UTC_ZONE).reads
    assert set(json.loads(to_json_line(read))) == {"chip", "at", "kind", "device", "line"}


def _passing(**changes: object) -> Passing:
    base: dict[str, object] = {
        "chip": "1234",
        "at": datetime(2024, 3, 17, 3, 30, tzinfo=UTC),
        "kind": "read",
        "device": "finish-1",
        "line": 1,
        "raw": "raw line",
    }
    base.update(changes)
    return Passing(**base)  # type: ignore[arg-type]


def test_dedupe_key_is_device_and_sequence_number_where_the_format_has_one():
    assert _passing(seq=42, seq_scope="box/3").dedupe_key() == ("finish-1", "seq:box/3:42")
    # the same passing number in another passing file is another read
    assert (
        _passing(seq=42, seq_scope="box/3").dedupe_key()
        != _passing(seq=42, seq_scope="box/4").dedupe_key()
    )
    # a re-sent line from the same device is the same read, whatever line it came on
    assert _passing(seq=42, line=9).dedupe_key() == _passing(seq=42, line=1).dedupe_key()


def test_dedupe_key_without_sequence_number_is_a_stable_hash_of_the_raw_line():
    key = _passing(raw="aa400000000123450a2a01123018455927a7").dedupe_key()
    assert key == (
        "finish-1",
        "sha256:"
        + __import__("hashlib").sha256(b"aa400000000123450a2a01123018455927a7").hexdigest(),
    )
    assert _passing(device="start-1").dedupe_key() != _passing().dedupe_key()


def test_ten_thousand_line_batches_parse_completely():
    start = datetime(2024, 3, 17, 8, 0)
    ipico_data = "\n".join(
        ipico.build_line(f"{n:012x}", start + timedelta(milliseconds=10 * n)) for n in range(10_000)
    )
    ct_data = "\n".join(
        f"CT01_33~{n}~finish~{n}~08:{n // 6000:02d}:{n // 100 % 60:02d}.{n % 100:02d}~0~R1~1"
        for n in range(10_000)
    )
    ultra_data = "\n".join(
        ultra.build_line(
            str(n), datetime(2024, 3, 17, tzinfo=UTC) + timedelta(milliseconds=n), log_id=n
        )
        for n in range(10_000)
    )
    p3_data = b"".join(
        mylaps_p3.encode_passing(n, 1_000_000 + n, 1_710_660_000_000_000 + n) for n in range(10_000)
    )
    for fmt, data in (
        ("ipico", ipico_data),
        ("chronotrack", ct_data),
        ("ultra", ultra_data),
        ("mylaps-p3", p3_data),
    ):
        # Correctness at batch size only; speed is measured in bench/, never asserted here.
        result = parse(fmt, data, tz=ALMATY, day=date(2024, 3, 17))
        assert len(result.reads) == 10_000, (fmt, result.rejected[:3])


def test_chronotrack_parse_time_helper_reads_unix_seconds_as_utc():
    from copa_timing_ingest.formats._common import Context

    ctx = Context(tz=ALMATY, device=None, day=None)
    assert chronotrack.parse_time("1710660000.39", ctx) == datetime(
        2024, 3, 17, 7, 20, 0, 390_000, tzinfo=UTC
    )


# --- command line -------------------------------------------------------------------------


def _run(fmt: str, path: str, tz: str = "Asia/Almaty", **kwargs: object) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run_parse_cli(fmt, path, tz, stdout=out, stderr=err, **kwargs)  # type: ignore[arg-type]
    return code, out.getvalue(), err.getvalue()


def test_cli_prints_one_json_object_per_read_and_exits_0(tmp_path):
    path = tmp_path / "reads.txt"
    path.write_text(
        "aa400000000123450a2a01123018455927a7\r\naa400000000123450a2a01123018455927a7\r\n"
    )
    code, out, err = _run("ipico", str(path), "UTC")
    assert code == 0
    assert err == ""
    lines = out.splitlines()
    assert len(lines) == 2
    assert json.loads(lines[0])["at"] == "2001-12-30T18:45:59.390000+00:00"


def test_cli_reports_bad_lines_on_stderr_with_their_number_and_exits_1(tmp_path):
    path = tmp_path / "reads.txt"
    path.write_text("aa400000000123450a2a01123018455927a7\nnonsense\n")
    code, out, err = _run("ipico", str(path))
    assert code == 1
    assert len(out.splitlines()) == 1
    assert err.startswith("line 2: ")


def test_cli_reads_standard_input_as_bytes_for_p3():
    frames = mylaps_p3.encode_passing(1, 4242, 1_710_660_000_390_000)
    code, out, _ = _run("mylaps-p3", "-", "UTC", stdin=io.BytesIO(frames))
    assert code == 0
    assert json.loads(out) == {
        "chip": "4242",
        "at": "2024-03-17T07:20:00.390000+00:00",
        "kind": "read",
        "seq": 1,
        "line": 1,
    }


def test_cli_prints_lif_athletes(tmp_path):
    path = tmp_path / "heat.lif"
    path.write_bytes(
        b"1,1,1,100m,,,,,,100,12:00:00.000\r\n1,101,4,Smith,Ann,KAZ,10.234,,10.234,0.145\r\n"
    )
    code, out, _ = _run("lif", str(path))
    assert code == 0
    athlete = json.loads(out)
    assert athlete["place"] == 1
    assert athlete["bib"] == "101"
    assert athlete["lane"] == 4
    assert athlete["status"] is None
    assert athlete["elapsed_us"] == 10_234_000


@pytest.mark.parametrize(
    ("fmt", "path", "tz", "message"),
    [
        ("amb", "-", "UTC", "unknown format"),
        ("ipico", "-", "Mars/Olympus", "unknown time zone"),
        ("ipico", "/nonexistent/reads.txt", "UTC", "cannot read"),
    ],
)
def test_cli_usage_errors_exit_2(fmt, path, tz, message):
    code, out, err = _run(fmt, path, tz, stdin=io.BytesIO(b""))
    assert code == 2
    assert out == ""
    assert message in err


def test_cli_passes_the_race_day_for_time_of_day_lines(tmp_path):
    path = tmp_path / "ct.txt"
    path.write_text("CT01_33~1~finish~1234~08:30:00.39~0~ED932A~1\n")
    assert _run("chronotrack", str(path))[0] == 1  # no day: refused, not guessed
    code, out, _ = _run("chronotrack", str(path), day=date(2024, 3, 17))
    assert code == 0
    assert json.loads(out)["at"] == "2024-03-17T03:30:00.390000+00:00"
