"""Storing what timing devices send: once, durably, and with its events in the same commit.

Ingest is the edge (ARCHITECTURE.md): fast, durable, dumb. It never merges the many reads of
one crossing (that is the ranking engine's job) and never needs to know whose chip it is. A
read is stored once per device and dedupe key (RULES §6) and, only when it is new, its
``chip.read`` event goes into the outbox in the same transaction: nothing acknowledged is
lost, and nothing re-sent is published twice.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import msgspec
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from copa_contracts import topics
from copa_contracts.timing import ChipRead, StartSignal, chip_read_event_key
from copa_runtime.outbox import add_event_payloads, add_events
from copa_timing_ingest.formats import Passing, Rejection
from copa_timing_ingest.publisher import READ_COLUMNS, chip_read_payload

_POINT_CHARS = re.compile(r"[^a-z0-9-]+")


@dataclass(frozen=True)
class PostingDevice:
    """The posting device as registered (registered on first contact with the defaults)."""

    id: str
    time_zone: ZoneInfo
    timing_point: str
    current_race_id: uuid.UUID | None


@dataclass(slots=True)
class IncomingRead:
    """A read ready to store: an instant in UTC, a timing point, and its identity.

    Not frozen: a request builds thousands, and a frozen dataclass's ``__init__`` costs
    several times a plain one's. Nothing changes one after it is built.
    """

    chip: str
    at: datetime
    kind: str
    timing_point: str
    antenna: int | None
    seq: int | None
    rssi: int | None
    dedupe_key: str
    line: int
    instant: str = ""  # ``at`` in ISO 8601 with microseconds, when the builder has it

    def event_id(self, device_id: str) -> str:
        """Stable per read (RULES §6): device, sequence number, chip and instant; the whole
        content for formats without a sequence number. The canonical form of
        :func:`chip_read_event_id`."""
        detail = "" if self.seq is not None else self.dedupe_key
        instant = self.instant or self.at.isoformat(timespec="microseconds")
        return chip_read_event_key(device_id, self.seq, self.chip, instant, detail)


def iso_instants(at: datetime) -> tuple[str, str]:
    """``at`` (UTC) as ``isoformat()`` writes it and with microseconds always: the dedupe key
    uses the first, the event id the second. One formatting for both (the hot path)."""
    with_us = at.isoformat(timespec="microseconds")
    return (with_us if at.microsecond else with_us[:19] + with_us[26:]), with_us


@dataclass
class IngestReport:
    """What the device is told once everything is durably stored."""

    received: int = 0
    new: int = 0
    duplicates: int = 0
    starts: int = 0
    rejected: list[Rejection] = field(default_factory=list)

    def as_json(self) -> dict[str, object]:
        return {
            "received": self.received,
            "new": self.new,
            "duplicates": self.duplicates,
            "starts": self.starts,
            "rejected": [
                {"line": r.line, "text": r.text, "reason": r.reason} for r in self.rejected
            ],
        }


def timing_point(location: str | None, default: str) -> str:
    """A device's location name as a timing point (`FINISH` -> `finish`, `Split 1` -> `split-1`)."""
    if not location:
        return default
    point = _POINT_CHARS.sub("-", location.strip().lower()).strip("-")
    return point[:32] or default


def from_passing(passing: Passing, device: PostingDevice) -> IncomingRead:
    """A parsed vendor line as a read; its dedupe key is the parser's, made device-reset safe."""
    _, key = passing.dedupe_key()
    at = passing.at.astimezone(UTC)
    if passing.seq is not None:
        key = f"{key}|{passing.chip}|{at.isoformat()}"
    return IncomingRead(
        chip=passing.chip,
        at=at,
        kind=passing.kind,
        timing_point=timing_point(passing.location, device.timing_point),
        antenna=passing.antenna,
        seq=passing.seq,
        rssi=passing.rssi,
        dedupe_key=key,
        line=passing.line,
    )


def content_key(chip: str, at: datetime, kind: str, point: str, antenna: int | None) -> str:
    digest = hashlib.sha256(f"{chip}|{at.isoformat()}|{kind}|{point}|{antenna}".encode())
    return "sha256:" + digest.hexdigest()


def json_read(
    *,
    chip: str,
    at: datetime,
    kind: str,
    point: str,
    antenna: int | None,
    seq: int | None,
    rssi: int | None,
    line: int,
) -> IncomingRead:
    """A read of a JSON batch (``at`` in UTC) with its dedupe key (RULES §6): the device's
    sequence number with chip and instant, else the whole content."""
    iso, iso_us = iso_instants(at)
    key = (
        f"seq:{seq}|{chip}|{iso}"
        if seq is not None
        else content_key(chip, at, kind, point, antenna)
    )
    return IncomingRead(chip, at, kind, point, antenna, seq, rssi, key, line, iso_us)


async def register_contact(
    session: AsyncSession, device_id: str, default_zone: str
) -> PostingDevice:
    """Register the device on first contact, or note the contact; return its settings."""
    row = (
        await session.execute(
            text(
                "INSERT INTO devices (id, name, time_zone, last_contact_at) "
                "VALUES (:id, :id, :zone, now()) ON CONFLICT (id) DO UPDATE "
                "SET last_contact_at = now() "
                "RETURNING time_zone, timing_point, current_race_id"
            ),
            {"id": device_id, "zone": default_zone},
        )
    ).one()
    return PostingDevice(device_id, ZoneInfo(row.time_zone), row.timing_point, row.current_race_id)


# The reads travel as one JSON document unpacked by PostgreSQL: asyncpg would encode nine
# arrays element by element in Python, which cost more than everything else in a batch.
_STORE_READS = text(
    "WITH stored AS ("
    "INSERT INTO reads (device_id, dedupe_key, event_id, chip, read_at, kind, timing_point, "
    "antenna, seq, rssi) "
    "SELECT :device, r.k, r.e, r.c, r.t, r.d, r.p, r.a, r.s, r.r "
    "FROM ROWS FROM (json_to_recordset(CAST(:reads AS json)) AS (k text, e uuid, c text, "
    "t timestamptz, d text, p text, a int, s bigint, r int)) "
    "WITH ORDINALITY AS r(k, e, c, t, d, p, a, s, r, n) "
    "ORDER BY r.n "
    "ON CONFLICT ON CONSTRAINT reads_once_per_device DO NOTHING RETURNING 1"
    "), counted AS (SELECT count(*) AS new FROM stored), "
    # The device's counters in the same statement: one round trip less per post.
    "counters AS (UPDATE devices SET reads_total = reads_total + counted.new, "
    "duplicates_total = duplicates_total + (:received - counted.new), "
    "rejected_total = rejected_total + :rejected FROM counted WHERE id = :device) "
    "SELECT new FROM counted"
)

_STORE_REJECTED = text(
    "INSERT INTO rejected_lines (device_id, format, line, text, reason) "
    "SELECT :device, :format, r.line, r.text, r.reason FROM unnest(CAST(:lines AS int[]), "
    "CAST(:texts AS text[]), CAST(:reasons AS text[])) AS r(line, text, reason)"
)


async def store(
    session: AsyncSession,
    device: PostingDevice,
    reads: Sequence[IncomingRead],
    rejected: Sequence[Rejection],
    *,
    source_format: str,
) -> IngestReport:
    """Store reads, start signals and rejections in the caller's unit of work."""
    report = IngestReport(received=len(reads) + len(rejected), rejected=list(rejected))
    guns = [read for read in reads if read.kind == "gun"]
    chip_reads = [read for read in reads if read.kind != "gun"]
    if guns:
        report.starts = await _store_guns(session, device, guns)
    if chip_reads:
        identified = [(read, read.event_id(device.id)) for read in chip_reads]
        # One-letter keys: the document is parsed once per post by PostgreSQL (_STORE_READS).
        rows = [
            {
                "k": read.dedupe_key,
                "e": event_id,
                "c": read.chip,
                "t": read.at,
                "d": read.kind,
                "p": read.timing_point,
                "a": read.antenna,
                "s": read.seq,
                "r": read.rssi,
            }
            for read, event_id in identified
        ]
        stored = await session.execute(
            _STORE_READS,
            {
                "device": device.id,
                "reads": msgspec.json.encode(rows).decode(),
                "received": len(chip_reads),
                "rejected": len(rejected),
            },
        )
        # The rows are the reads' outbox (publisher.py): stored is queued for the bus. A read
        # sent twice, in one batch or two, is stored once (ON CONFLICT DO NOTHING).
        report.new = int(stored.scalar_one())
        report.duplicates = len(chip_reads) - report.new
    if rejected:
        await session.execute(
            _STORE_REJECTED,
            {
                "device": device.id,
                "format": source_format,
                "lines": [r.line for r in rejected],
                "texts": [r.text[:2000] for r in rejected],
                "reasons": [r.reason[:2000] for r in rejected],
            },
        )
    if not chip_reads:  # otherwise counted with the reads
        await session.execute(
            text("UPDATE devices SET rejected_total = rejected_total + :rej WHERE id = :id"),
            {"rej": len(rejected), "id": device.id},
        )
    return report


async def _store_guns(
    session: AsyncSession, device: PostingDevice, guns: Sequence[IncomingRead]
) -> int:
    """A start signal inside a device's stream (ChronoTrack ``guntime``, reg 11.4) belongs to
    the device's current race; without one it is kept for the operator, not published."""
    count = 0
    for gun in guns:
        signal_id = uuid.uuid5(uuid.NAMESPACE_URL, f"copa:gun:{device.id}:{gun.dedupe_key}")
        count += await record_start(
            session,
            signal_id=signal_id,
            race_id=device.current_race_id,
            device_id=device.id,
            fired_at=gun.at,
            source="start_system",
        )
    return count


async def record_start(
    session: AsyncSession,
    *,
    signal_id: uuid.UUID,
    race_id: uuid.UUID | None,
    device_id: str,
    fired_at: datetime,
    source: str,
) -> int:
    """Store a start signal once; publish it when it names a race. Returns 1 if new."""
    inserted = await session.execute(
        text(
            "INSERT INTO start_signals (signal_id, race_id, device_id, fired_at, source) "
            "VALUES (:s, :r, :d, :f, :src) ON CONFLICT DO NOTHING RETURNING signal_id"
        ),
        {"s": signal_id, "r": race_id, "d": device_id, "f": fired_at, "src": source},
    )
    if inserted.scalar() is None:
        return 0
    if race_id is not None:
        event = StartSignal(
            race_id=race_id,
            signal_id=signal_id,
            fired_at=fired_at,
            device_id=device_id,
            source=source,  # type: ignore[arg-type]
        )
        await add_events(session, topics.STARTS, [(event, str(race_id))], event_ids=[signal_id])
    return 1


async def replay(session: AsyncSession, device_id: str) -> int:
    """Queue every stored read of a device for publication again, in its original order and
    with its own event ids (consumers that have a read already skip it).

    The copies go through the service's outbox (a replay of one device, while the reads
    table's own cursor goes on); replaying twice queues the same rows again."""
    rows = (
        await session.execute(
            text(f"SELECT {READ_COLUMNS} FROM reads WHERE device_id = :d ORDER BY id"),
            {"d": device_id},
        )
    ).all()
    payloads = [(row.event_id, row.chip, chip_read_payload(row)) for row in rows]
    await add_event_payloads(session, topics.READS, ChipRead, payloads, requeue=True)
    return len(payloads)
