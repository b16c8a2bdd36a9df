"""A rehearsal edition: the 2024 edition's rules on dates ahead of today (issue 8).

The 2024 edition happened: its registration window, team deadline (reg 4.2.4) and protest
window (reg 17.2) are all in the past, and the services that check them against the real
clock (teams, ranking's protests) would refuse a simulated competition. A rehearsal keeps
every rule and number of the source edition and moves every date by the same whole number of
weeks (weekdays stay: kit days before a Sunday race, business days for prizes, reg 12.3), so
that the competition lies ``days_ahead`` days or more after today. Registration then runs on
today's clock, which the simulation moves forward to let holds expire and to reach a kit day
(``COPA_REGISTRATION_CLOCK_CONTROL``).

With ``capacity``, the field is scaled for a larger run: the capacity, every distance's slot
limit in proportion, and BIB ranges wide enough for them, one after another.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from pathlib import Path

DATE = re.compile(r"(?<![\d-])(\d{4})-(\d{2})-(\d{2})(?![\d-])")
REHEARSAL_CODE = "rehearsal"


def rehearsal_text(
    source: str,
    today: dt.date,
    *,
    days_ahead: int = 21,
    capacity: int | None = None,
    code: str = REHEARSAL_CODE,
) -> str:
    """The source edition's TOML with its dates moved and (optionally) its field scaled."""
    competition = dt.date.fromisoformat(_value(source, "date"))
    weeks = math.ceil(((today - competition).days + days_ahead) / 7)
    shift = dt.timedelta(weeks=max(weeks, 0))

    def moved(match: re.Match[str]) -> str:
        day = dt.date(int(match[1]), int(match[2]), int(match[3]))
        return (day + shift).isoformat()

    lines = []
    for line in source.splitlines():
        body, hash_, comment = line.partition("#")
        lines.append(DATE.sub(moved, body) + hash_ + comment)
    text = "\n".join(lines) + "\n"
    text = re.sub(r'^code = "[^"]*"', f'code = "{code}"', text, count=1, flags=re.M)
    text = re.sub(r'^name = "([^"]*)"', r'name = "\1 (rehearsal)"', text, count=1, flags=re.M)
    if capacity is not None:
        text = _scaled(text, capacity)
    return text


def write_rehearsal(
    editions_dir: Path,
    target_dir: Path,
    today: dt.date,
    *,
    source: str = "2024",
    capacity: int | None = None,
) -> Path:
    """Write ``<target_dir>/rehearsal.toml`` (and a copy of the source next to it)."""
    target_dir.mkdir(parents=True, exist_ok=True)
    original = (editions_dir / f"{source}.toml").read_text(encoding="utf-8")
    (target_dir / f"{source}.toml").write_text(original, encoding="utf-8")
    path = target_dir / f"{REHEARSAL_CODE}.toml"
    path.write_text(rehearsal_text(original, today, capacity=capacity), encoding="utf-8")
    return path


def _value(text: str, key: str) -> str:
    match = re.search(rf"^{key} = (\S+)", text, flags=re.M)
    if match is None:
        raise ValueError(f"the edition has no {key}")
    return match[1]


def _scaled(text: str, capacity: int) -> str:
    old = int(_value(text, r"capacity"))
    factor = capacity / old
    text = re.sub(r"^capacity = \d+", f"capacity = {capacity}", text, count=1, flags=re.M)
    text = re.sub(
        r"^slot_limit = (\d+)",
        lambda m: f"slot_limit = {math.ceil(int(m[1]) * factor)}",
        text,
        flags=re.M,
    )
    # BIB ranges one after another, each as wide as its distance's slots (relay: a team BIB).
    first = 1
    out = []
    limit = None
    for line in text.splitlines():
        slot = re.match(r"^slot_limit = (\d+)", line)
        if slot:
            limit = int(slot[1])
        if re.match(r"^bibs = \{", line):
            width = max(limit or 999, 999)
            last = first + math.ceil(width / 1000) * 1000 - 1
            line = re.sub(r"first = \d+, last = \d+", f"first = {first}, last = {last}", line)
            first = last + 1
            limit = None
        out.append(line)
    return "\n".join(out) + "\n"
