"""What the parsers produce: reads (``Passing``), photo-finish results (``LifResult``) and the
lines they refused (``Rejection``).

Plain frozen dataclasses, no framework: the ingest service, the simulator and the command line
all use the same values (STYLE.md: the domain is plain Python).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

Kind = Literal["read", "first_seen", "last_seen", "gun"]
"""``read``: a chip seen at a timing point. ``first_seen`` / ``last_seen``: the same, from a
reader that reports only the first and the last read of a tag in the field (IPICO FS/LS).
``gun``: the start signal, when the device's own stream carries it (ChronoTrack ``guntime``,
the gun input of a CT01_13 reader or of an Ultra)."""


@dataclass(frozen=True, slots=True)
class Passing:
    """One read as the device reported it, with its instant in UTC.

    ``chip`` is exactly what the device wrote (leading zeros and case kept; for MYLAPS P3 the
    transponder number in decimal). ``line`` is the 1-based line of the input (for P3 the
    1-based index of the frame). ``raw`` is the line as received (for P3 the unescaped frame in
    hex); it feeds ``dedupe_key`` when the format has no sequence number.

    ``device`` is the device the caller names (the one in its token) or, when the caller names
    none, the identifier the line itself carries (IPICO reader id, ChronoTrack reader id, RACE
    RESULT box id, Ultra box, P3 decoder id, CSV ``device`` column). ``seq_scope`` is what the
    device's sequence number counts within, as the line says it: RACE RESULT restarts passing
    numbers at 1 in each new passing file, so two reads of one box with the same passing number
    and different files are different reads.
    """

    chip: str
    at: datetime
    kind: Kind
    device: str | None
    line: int
    raw: str
    antenna: int | None = None
    location: str | None = None
    seq: int | None = None
    seq_scope: str | None = None
    rssi: int | None = None
    hits: int | None = None
    bib: str | None = None

    def dedupe_key(self) -> tuple[str | None, str]:
        """Stable identity of this read for "the same read sent twice is stored once"
        (RULES.md §6, issue 4): ``(device, "seq:<scope>:<seq>")`` where the format numbers its
        reads, else ``(device, "sha256:<hash of the raw line>")``. Stable across processes and
        runs (no ``hash()``), so it can be a database key and a bus event id."""
        if self.seq is not None:
            return (self.device, f"seq:{self.seq_scope or ''}:{self.seq}")
        return (self.device, "sha256:" + hashlib.sha256(self.raw.encode("utf-8")).hexdigest())


@dataclass(frozen=True, slots=True)
class Rejection:
    """A line (P3: a frame) that was refused, and why. ``line`` is 1-based."""

    line: int
    text: str
    reason: str


@dataclass(frozen=True, slots=True)
class LifHeader:
    """First line of a FinishLynx ``.lif`` file. Fields the file leaves empty are ``None``.

    ``start_time_of_day_us`` is the start signal as a time of day (microseconds since local
    midnight of the race day), exactly as the file gives it."""

    event: int
    round: int
    heat: int
    name: str
    wind: str | None
    wind_unit: str | None
    distance: str | None
    start_time: str | None
    start_time_of_day_us: int | None
    line: int = 1


@dataclass(frozen=True, slots=True)
class LifAthlete:
    """One athlete line of a ``.lif`` file.

    ``status`` is ``None`` for a finisher, else ``DNF``, ``DNS`` or ``DQ`` (a DQ keeps the rule
    the file gives with it, ``DQ 7.12``; RULES.md §6 display). ``elapsed_us`` is the time exactly
    as written, in integer microseconds (``10.234`` -> ``10234000``), or ``None`` when the file
    has none. The delta column is not read: its meaning differs between set-ups
    (TIMING-FORMATS.md)."""

    place: int | None
    bib: str
    lane: int | None
    last_name: str
    first_name: str
    affiliation: str
    status: str | None
    elapsed_us: int | None
    reaction_us: int | None
    line: int


@dataclass(frozen=True, slots=True)
class LifResult:
    header: LifHeader | None
    athletes: list[LifAthlete] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ParseResult:
    """Everything one ``parse`` call found.

    ``reads`` keep the input's order, repeats included: the parser neither sorts nor dedupes
    (dedupe is by ``Passing.dedupe_key`` downstream). ``skipped`` counts protocol lines that
    are not reads (greetings, acknowledgements, status, settings, P3 status frames); blank
    lines are ignored and not counted. ``lif`` is set for the ``lif`` format only."""

    format: str
    reads: list[Passing]
    rejected: list[Rejection]
    skipped: int
    lif: LifResult | None = None

    @property
    def ok(self) -> bool:
        return not self.rejected
