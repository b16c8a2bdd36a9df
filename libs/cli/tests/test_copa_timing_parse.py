"""`copa timing parse` as a timer uses it: a file or standard input in, JSON lines out, bad
lines on stderr with their number and reason, and an exit code that says whether any was bad."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

GOOD = "aa400000000123450a2a01123018455927a7"  # TIMING-FORMATS.md: tag 000000012345


def copa(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "copa", *args],
        input=stdin,
        capture_output=True,
        timeout=60,
        check=False,
    )


def test_good_ipico_lines_from_a_file_become_json_lines(tmp_path: Path) -> None:
    reads = tmp_path / "reads.txt"
    reads.write_text(f"{GOOD}\r\n{GOOD}\r\n")
    done = copa("timing", "parse", "--format", "ipico", "--tz", "Asia/Almaty", str(reads))
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.decode().splitlines()]
    assert len(lines) == 2  # repeated lines are kept: deduplication happens on ingest
    assert lines[0]["chip"] == "000000012345"
    assert lines[0]["kind"] == "read"
    # 2001-12-30 18:45:59.39 on the reader's clock; Almaty was UTC+6 then.
    assert lines[0]["at"] == "2001-12-30T12:45:59.390000+00:00"


def test_bad_line_goes_to_stderr_with_its_number_and_the_exit_code_says_so() -> None:
    broken = GOOD[:-2] + "00"
    done = copa(
        "timing", "parse", "--format", "ipico", "-", stdin=f"{GOOD}\n{broken}\n{GOOD}\n".encode()
    )
    assert done.returncode == 1
    assert len(done.stdout.decode().splitlines()) == 2
    assert done.stderr.decode().startswith("line 2:")
    assert "checksum" in done.stderr.decode()


def test_unknown_format_is_a_usage_error() -> None:
    done = copa("timing", "parse", "--format", "morse", "-", stdin=b"")
    assert done.returncode == 2
