"""Events of the `timing-ingest` service: chip reads, start signals, photo-finish results.

`timing-ingest` is the edge (ARCHITECTURE.md): it records what the hardware saw and never needs
to know who a chip belongs to, so these events carry chips, devices and race ids, no people.

**One read per event, keyed by chip.** A ``ReadsBatch`` event keyed by device was considered
and rejected:

* order: what must stay in order is one chip's crossings (RULES §6: the finish is the crossing
  whose count fits the distance, 1 / 3 / 8 on the track); keying by chip keeps them on one
  partition, a batch keyed by device would scatter a chip across partitions;
* deduplication: "the same read sent twice is stored once" (RULES §6). Each read's event id is
  derived from the read itself (:func:`chip_read_event_id`), so a device re-posting a read, or
  the relay re-publishing it, is dropped by the consumers' ``(consumer, event_id)`` key for free;
  a batch would need a second, per-read dedup inside the payload;
* throughput is not lost: the outbox relay sends many records per produce request and the
  consumers fetch with ``getmany`` and apply a whole fetch in one transaction, so a burst of
  thousands of reads still costs a few transactions (ARCHITECTURE.md "The bus").
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime
from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from copa_contracts.common import ChipId, Microseconds, UtcDatetime
from copa_contracts.envelope import Event

DeviceId = Annotated[str, StringConstraints(min_length=1, max_length=64)]

TimingPoint = Annotated[
    str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]*$", min_length=1, max_length=32)
]
"""Where a device stands: `finish`, `start`, or a venue-declared point such as `exchange-1`
(RULES §8: relay splits need timing points at the exchange zones)."""

CHIP_READ_NAMESPACE = uuid.UUID("6f1d6a52-8f0e-4c1e-9d55-3c0f2b7a4e10")
"""Namespace of :func:`chip_read_event_id`. Never change it: ids already on the bus use it."""


def chip_read_event_id(
    device_id: str,
    device_sequence: int | None,
    chip: str,
    read_at: datetime,
    *,
    detail: str = "",
) -> uuid.UUID:
    """The envelope ``event_id`` of a read: the same read always gets the same id (RULES §6).

    The identity is the read as RULES §6 defines it: device, its sequence number, chip and
    instant. The sequence alone would not do: a device that is reset starts counting again.
    A format without sequence numbers identifies a read by its whole content: pass what else
    it carries (timing point, antenna, kind) as ``detail``.
    """
    if read_at.tzinfo is None:
        raise ValueError("read_at must be timezone-aware (RULES §1)")
    instant = read_at.astimezone(UTC).isoformat(timespec="microseconds")
    return uuid.UUID(chip_read_event_key(device_id, device_sequence, chip, instant, detail))


_NAMESPACE_BYTES = CHIP_READ_NAMESPACE.bytes
_VARIANT_DIGIT = "89ab89ab89ab89ab"  # RFC 4122 variant bits 10xx over the digit's low bits


def chip_read_event_key(
    device_id: str, device_sequence: int | None, chip: str, instant_utc: str, detail: str = ""
) -> str:
    """:func:`chip_read_event_id` as its canonical string, from the instant already written
    in UTC with microseconds (``2024-03-17T04:00:00.000000+00:00``).

    The same UUID (version 5 in :data:`CHIP_READ_NAMESPACE`) without building ``UUID``
    objects: timing ingest names thousands of reads per request, and this is its hot path.
    """
    sequence = "-" if device_sequence is None else str(device_sequence)
    name = f"{device_id}|{sequence}|{chip}|{instant_utc}" + (f"|{detail}" if detail else "")
    digest = hashlib.sha1(_NAMESPACE_BYTES + name.encode(), usedforsecurity=False).hexdigest()
    return (
        f"{digest[:8]}-{digest[8:12]}-5{digest[13:16]}-"
        f"{_VARIANT_DIGIT[int(digest[16], 16)]}{digest[17:20]}-{digest[20:32]}"
    )


class ChipRead(Event):
    """One detection of one chip by one device at one timing point (RULES §6).

    Raw, as the reader saw it: the many reads of one crossing are all sent, and `ranking`
    keeps the first read of each cluster. Reads of unknown chips are sent too: `ranking` turns
    them into judges' exceptions (reg 11.3.8), nothing is dropped at the edge.
    """

    event_type: ClassVar[str] = "chip.read"

    chip: ChipId = Field(description="Chip detected; the partition key of `timing.reads.v1`.")
    device_id: DeviceId = Field(description="Reader that saw it (registered in timing-ingest).")
    timing_point: TimingPoint = Field(description="Where the reader stands (`finish`, `start`...).")
    antenna: int | None = Field(default=None, ge=0, description="Antenna/mat of the reader.")
    read_at: UtcDatetime = Field(
        description="Instant of the detection by the device's clock, microsecond precision."
    )
    device_sequence: int | None = Field(
        default=None,
        ge=0,
        description="The device's own running number of the read (RULES §6); none for formats "
        "that carry none (IPICO, generic CSV without a sequence column).",
    )
    kind: Literal["read", "first_seen", "last_seen"] = Field(
        default="read",
        description="A plain detection, or the first/last sighting of a chip in a reader's "
        "field as some readers report them (IPICO FS/LS).",
    )
    received_at: UtcDatetime = Field(description="When timing-ingest stored it.")


StartSource = Literal["start_system", "photo_finish", "manual"]


class StartSignal(Event):
    """A race was started: the instant official (gun) times count from (reg 11.4).

    Keyed by race id so that a start and its recall stay in order. The starter's device sends
    the race id of the start list it started; several signals for one race may arrive (a recall
    then a restart): the valid one is the last signal not recalled.
    """

    event_type: ClassVar[str] = "start.signalled"

    race_id: uuid.UUID = Field(description="Race started (from the start list); partition key.")
    signal_id: uuid.UUID = Field(description="Id of this signal, referenced by a recall.")
    fired_at: UtcDatetime = Field(description="Instant of the start, microsecond precision.")
    device_id: DeviceId = Field(description="Device that reported it.")
    source: StartSource = Field(
        description="Start system wired to the gun, the photo-finish camera's start, or a "
        "manual entry (least precise)."
    )


class StartRecalled(Event):
    """A start was recalled (a false start, WA TR 16.8): its signal no longer counts."""

    event_type: ClassVar[str] = "start.recalled"

    race_id: uuid.UUID = Field(description="Race whose start was recalled; partition key.")
    signal_id: uuid.UUID = Field(description="Signal that no longer counts.")
    reason: Literal["false_start", "equipment", "other"] = Field(description="Why.")
    recalled_at: UtcDatetime = Field(description="When the recall was recorded.")


class PhotoFinishLine(BaseModel):
    """One line of a FinishLynx ``.lif`` result: place, id, lane, time, as the camera saw it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    place: int | None = Field(ge=1, description="Place read on the photo; none for DNS/DNF/DQ.")
    competitor_id: str | None = Field(
        max_length=32, description="The `ID` column: the BIB as entered in FinishLynx."
    )
    lane: int | None = Field(default=None, ge=1, description="Lane, for races run in lanes.")
    time_us: Microseconds | None = Field(
        description="Time from the start, converted from the file without rounding."
    )
    time_text: str = Field(max_length=32, description="The time exactly as the file wrote it.")
    status: Literal["finished", "DNS", "DNF", "DQ"] = Field(
        description="`finished`, or the status the operator wrote instead of a place."
    )


class PhotoFinishResultParsed(Event):
    """A photo-finish result file for a race was received and parsed (RULES §6).

    The best source of finish times and of the finish order. The operator may save a corrected
    file for the same race: each file is a new event and the latest one replaces the earlier
    (the race-id key keeps them in order). Names in the file are not sent: `ranking` has them.
    """

    event_type: ClassVar[str] = "photo-finish.parsed"

    race_id: uuid.UUID = Field(description="Race the file belongs to; partition key.")
    file_name: str = Field(min_length=1, max_length=255, description="Name of the `.lif` file.")
    file_sha256: str = Field(
        pattern=r"^[0-9a-f]{64}$", description="SHA-256 of the file, to spot re-sends."
    )
    event_number: int | None = Field(description="Event number from the file's header.")
    round_number: int | None = Field(description="Round number from the file's header.")
    heat_number: int | None = Field(description="Heat number from the file's header.")
    wind_text: str | None = Field(
        max_length=16, description="Wind reading as written in the header, if measured."
    )
    lines: tuple[PhotoFinishLine, ...] = Field(description="Result lines in file order.")
    received_at: UtcDatetime = Field(description="When timing-ingest received the file.")


READ_EVENTS: tuple[type[Event], ...] = (ChipRead,)
START_EVENTS: tuple[type[Event], ...] = (StartSignal, StartRecalled)
PHOTO_FINISH_EVENTS: tuple[type[Event], ...] = (PhotoFinishResultParsed,)

__all__ = [
    "CHIP_READ_NAMESPACE",
    "PHOTO_FINISH_EVENTS",
    "READ_EVENTS",
    "START_EVENTS",
    "ChipRead",
    "PhotoFinishLine",
    "PhotoFinishResultParsed",
    "StartRecalled",
    "StartSignal",
    "chip_read_event_id",
    "chip_read_event_key",
]
