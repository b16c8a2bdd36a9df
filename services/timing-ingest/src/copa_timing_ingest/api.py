"""Timing ingest's HTTP API: devices post reads, starts and photo-finish files; operators look.

Bodies are read raw and decoded here (msgspec for JSON batches) rather than by FastAPI's
model binding: a batch of 10,000 reads must cost milliseconds, and one bad read must be
reported by its position, never sink the 9,999 good ones.
"""

from __future__ import annotations

import hashlib
import uuid
import zoneinfo
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

import msgspec
from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from copa_contracts import topics
from copa_contracts.timing import PhotoFinishLine, PhotoFinishResultParsed
from copa_runtime.app import get_session
from copa_runtime.auth import Principal, Role, require_roles
from copa_runtime.outbox import add_events
from copa_runtime.problems import Problem
from copa_timing_ingest import ingest
from copa_timing_ingest.formats import Rejection, UnknownFormatError, parse
from copa_timing_ingest.ingest import IncomingRead, PostingDevice, json_read, timing_point

MAX_BATCH = 10_000
DEFAULT_ZONE = "Asia/Almaty"  # RULES §1; a device's own zone is set by an organizer

router = APIRouter(tags=["timing"])
Session = Annotated[AsyncSession, Depends(get_session, scope="function")]
DevicePrincipal = Annotated[Principal, Depends(require_roles(Role.TIMING_DEVICE))]
Operator = Annotated[
    Principal, Depends(require_roles(Role.ORGANIZER, Role.JUDGE, Role.CHIEF_JUDGE))
]
Organizer = Annotated[Principal, Depends(require_roles(Role.ORGANIZER))]
Starter = Annotated[
    Principal, Depends(require_roles(Role.TIMING_DEVICE, Role.JUDGE, Role.CHIEF_JUDGE))
]


class RejectedLineOut(BaseModel):
    line: int = Field(description="1-based line (or read, or P3 frame) number in the post.")
    text: str
    reason: str


class IngestOut(BaseModel):
    """Sent only once everything in the post is durably stored."""

    received: int = Field(description="Reads and lines received (rejected ones included).")
    new: int = Field(description="Reads stored for the first time (and queued for the bus).")
    duplicates: int = Field(description="Reads this device had sent before: stored once.")
    starts: int = Field(description="Start signals found in the stream and stored.")
    rejected: list[RejectedLineOut]


def _device_id(principal: Principal) -> str:
    if not principal.device:
        raise Problem(
            403,
            "Not a device token",
            "A timing device's token names the device (`copa token --device ID`).",
            type_="device-token-required",
        )
    return principal.device


_READ_FIELDS = {"chip", "at", "location", "antenna", "seq", "rssi", "kind"}
_INT_MAX = 2**31 - 1  # the columns' integer and bigint ranges
_BIGINT_MAX = 2**63 - 1
_KINDS = {"read", "first_seen", "last_seen", "gun"}


def _json_read(item: Any, index: int, device: PostingDevice) -> IncomingRead:
    """One read of a JSON batch, checked field by field; raises ValueError with the reason."""
    if not isinstance(item, dict):
        raise ValueError("a read is an object")
    unknown = item.keys() - _READ_FIELDS
    if unknown:
        raise ValueError(f"unknown fields: {', '.join(sorted(unknown))}")
    chip = item.get("chip")
    if not isinstance(chip, str) or not 0 < len(chip) <= 64 or "\x00" in chip:
        raise ValueError("chip must be a string of 1 to 64 characters (no NUL)")
    raw_at = item.get("at")
    if not isinstance(raw_at, str):
        raise ValueError("at must be an ISO 8601 instant")
    try:
        at = datetime.fromisoformat(raw_at)
    except ValueError:
        raise ValueError(f"at is not an ISO 8601 instant: {raw_at!r}") from None
    if at.tzinfo is None:  # zone-less: the device's clock, in its configured zone
        at = at.replace(tzinfo=device.time_zone)
    at = at.astimezone(UTC)
    kind = item.get("kind", "read")
    if kind not in _KINDS:
        raise ValueError(f"kind must be one of {', '.join(sorted(_KINDS))}")
    numbers: dict[str, int | None] = {}
    for name in ("antenna", "seq", "rssi"):
        value = item.get(name)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            raise ValueError(f"{name} must be an integer")
        if value is not None and name != "rssi" and value < 0:
            raise ValueError(f"{name} must not be negative")
        limit = _BIGINT_MAX if name == "seq" else _INT_MAX
        if value is not None and abs(value) > limit:
            raise ValueError(f"{name} must be at most {limit} in size")
        numbers[name] = value
    location = item.get("location")
    if location is not None and (not isinstance(location, str) or "\x00" in location):
        raise ValueError("location must be a string (no NUL)")
    point = timing_point(location, device.timing_point)
    return json_read(
        chip=chip,
        at=at,
        kind=kind,
        point=point,
        antenna=numbers["antenna"],
        seq=numbers["seq"],
        rssi=numbers["rssi"],
        line=index + 1,
    )


class _TypedRead(msgspec.Struct, forbid_unknown_fields=True):
    """A read as :func:`_json_read` accepts it, checked by msgspec in C (the common case)."""

    chip: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    at: str  # parsed by datetime.fromisoformat, as the read-by-read path does
    location: str | None = None
    antenna: Annotated[int, msgspec.Meta(ge=0, le=_INT_MAX)] | None = None
    seq: Annotated[int, msgspec.Meta(ge=0, le=_BIGINT_MAX)] | None = None
    rssi: Annotated[int, msgspec.Meta(ge=-_INT_MAX, le=_INT_MAX)] | None = None
    kind: Literal["read", "first_seen", "last_seen", "gun"] = "read"


class _TypedBatch(msgspec.Struct):
    reads: list[_TypedRead]


_TYPED_BATCH = msgspec.json.Decoder(_TypedBatch)


def _all_valid_reads(body: bytes, device: PostingDevice) -> list[IncomingRead] | None:
    """The batch's reads if every one of them is valid, else None (then each is checked on
    its own). What this accepts, :func:`_json_read` accepts, and reads the same way."""
    try:
        reads = _TYPED_BATCH.decode(body).reads
    except msgspec.DecodeError:  # includes msgspec.ValidationError
        return None
    zone = device.time_zone
    points: dict[str | None, str] = {}
    incoming = []
    for index, read in enumerate(reads):
        chip, location = read.chip, read.location
        if "\x00" in chip or (location is not None and "\x00" in location):
            return None
        try:
            at = datetime.fromisoformat(read.at)
        except ValueError:
            return None
        if at.tzinfo is None:  # zone-less: the device's clock, in its configured zone
            at = at.replace(tzinfo=zone).astimezone(UTC)
        elif at.tzinfo is not UTC:
            at = at.astimezone(UTC)
        point = points.get(location)
        if point is None:
            point = points[location] = timing_point(location, device.timing_point)
        incoming.append(
            json_read(
                chip=chip,
                at=at,
                kind=read.kind,
                point=point,
                antenna=read.antenna,
                seq=read.seq,
                rssi=read.rssi,
                line=index + 1,
            )
        )
    return incoming


def _too_large(count: int) -> Problem:
    return Problem(
        413,
        "Batch too large",
        f"{count} reads; send at most {MAX_BATCH} per request.",
        type_="batch-too-large",
    )


_JSON_BATCH_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["reads"],
                    "properties": {
                        "reads": {
                            "type": "array",
                            "maxItems": MAX_BATCH,
                            "items": {
                                "type": "object",
                                "required": ["chip", "at"],
                                "properties": {
                                    "chip": {"type": "string", "maxLength": 64},
                                    "at": {
                                        "type": "string",
                                        "format": "date-time",
                                        "description": "ISO 8601; without an offset it is "
                                        "read in the device's configured zone",
                                    },
                                    "location": {
                                        "type": "string",
                                        "description": "finish, start or a split",
                                    },
                                    "antenna": {"type": "integer", "minimum": 0},
                                    "seq": {
                                        "type": "integer",
                                        "minimum": 0,
                                        "description": "device sequence number",
                                    },
                                    "rssi": {"type": "integer"},
                                    "kind": {"type": "string", "enum": sorted(_KINDS)},
                                },
                            },
                        }
                    },
                }
            }
        },
    }
}


@router.post(
    "/reads",
    response_model=IngestOut,
    openapi_extra=_JSON_BATCH_DOC,
    summary="Post a batch of reads (JSON, up to 10,000)",
)
async def post_reads(request: Request, principal: DevicePrincipal, session: Session) -> IngestOut:
    """Answers once the reads are stored; a re-sent batch creates no duplicates."""
    body = await request.body()
    device = await ingest.register_contact(session, _device_id(principal), DEFAULT_ZONE)
    fast = _all_valid_reads(body, device)
    if fast is not None:
        if len(fast) > MAX_BATCH:
            raise _too_large(len(fast))
        report = await ingest.store(session, device, fast, [], source_format="json")
        return IngestOut.model_validate(report.as_json())
    # Something in the batch is wrong: check read by read, so that each bad read is reported
    # by its position and the good ones around it are kept.
    try:
        document = msgspec.json.decode(body)
    except msgspec.DecodeError as error:
        raise Problem(400, "Malformed JSON", str(error), type_="malformed-json") from None
    if not isinstance(document, dict) or not isinstance(document.get("reads"), list):
        raise Problem(
            422,
            "Invalid batch",
            "The body is an object with a `reads` array.",
            type_="invalid-batch",
        )
    items = document["reads"]
    if len(items) > MAX_BATCH:
        raise _too_large(len(items))
    reads, rejected = [], []
    for index, item in enumerate(items):
        try:
            reads.append(_json_read(item, index, device))
        except ValueError as error:
            rejected.append(
                Rejection(index + 1, msgspec.json.encode(item).decode()[:500], str(error))
            )
    report = await ingest.store(session, device, reads, rejected, source_format="json")
    return IngestOut.model_validate(report.as_json())


@router.post(
    "/reads/raw",
    response_model=IngestOut,
    summary="Post a device's own output (any supported vendor format)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "text/plain": {"schema": {"type": "string"}},
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
            },
        }
    },
)
async def post_raw(
    request: Request,
    principal: DevicePrincipal,
    session: Session,
    format: Annotated[
        Literal["ipico", "chronotrack", "raceresult", "ultra", "mylaps-p3", "csv"],
        Query(description="The device's format (TIMING-FORMATS.md)."),
    ],
    day: Annotated[
        date | None,
        Query(
            description="Race day, for formats that carry only a "
            "time of day (ChronoTrack, RACE RESULT, CSV)."
        ),
    ] = None,
) -> IngestOut:
    """Bad lines are reported with their number and reason; the good ones around are kept."""
    body = await request.body()
    device = await ingest.register_contact(session, _device_id(principal), DEFAULT_ZONE)
    data: bytes | str = body if format == "mylaps-p3" else body.decode("utf-8", "replace")
    try:
        result = parse(format, data, tz=device.time_zone, device=device.id, day=day)
    except UnknownFormatError as error:
        raise Problem(422, "Unknown format", str(error), type_="unknown-format") from None
    reads = [ingest.from_passing(passing, device) for passing in result.reads]
    report = await ingest.store(session, device, reads, result.rejected, source_format=format)
    return IngestOut.model_validate(report.as_json())


class StartIn(BaseModel):
    fired_at: datetime = Field(description="Instant of the start (ISO 8601 with offset).")
    source: Literal["start_system", "photo_finish", "manual"] = "start_system"
    signal_id: uuid.UUID | None = Field(
        default=None, description="The device's id for this signal; a re-send is stored once."
    )


class StartOut(BaseModel):
    signal_id: uuid.UUID
    race_id: uuid.UUID
    new: bool


@router.post(
    "/races/{race_id}/start",
    response_model=StartOut,
    summary="Post a race's start signal (gun time counts from it, reg 11.4)",
)
async def post_start(
    race_id: uuid.UUID, start: StartIn, principal: Starter, session: Session
) -> StartOut:
    if start.fired_at.tzinfo is None:
        raise Problem(
            422,
            "Zone-less instant",
            "fired_at must carry its UTC offset.",
            type_="zone-less-instant",
        )
    device_id = principal.device or f"user:{principal.subject}"
    await ingest.register_contact(session, device_id, DEFAULT_ZONE)
    signal_id = start.signal_id or uuid.uuid5(
        uuid.NAMESPACE_URL, f"copa:start:{device_id}:{race_id}:{start.fired_at.isoformat()}"
    )
    new = await ingest.record_start(
        session,
        signal_id=signal_id,
        race_id=race_id,
        device_id=device_id,
        fired_at=start.fired_at.astimezone(UTC),
        source=start.source,
    )
    return StartOut(signal_id=signal_id, race_id=race_id, new=bool(new))


class PhotoFinishOut(BaseModel):
    race_id: uuid.UUID
    sha256: str
    new: bool = Field(description="False when this exact file was already received.")
    athletes: int
    rejected: list[RejectedLineOut]


@router.post(
    "/races/{race_id}/photo-finish",
    response_model=PhotoFinishOut,
    summary="Post a FinishLynx .lif result file for a race",
    openapi_extra={
        "requestBody": {"required": True, "content": {"text/plain": {"schema": {"type": "string"}}}}
    },
)
async def post_photo_finish(
    race_id: uuid.UUID,
    request: Request,
    principal: Starter,
    session: Session,
    file_name: Annotated[str, Query(min_length=1, max_length=255)] = "result.lif",
) -> PhotoFinishOut:
    """Stored byte for byte as it came; published parsed (the best source of times, RULES §6)."""
    content = await request.body()
    if not content:
        raise Problem(422, "Empty file", "The body is the .lif file.", type_="empty-file")
    device_id = principal.device or f"user:{principal.subject}"
    device = await ingest.register_contact(session, device_id, DEFAULT_ZONE)
    text_content = content.decode("utf-8", "replace")
    result = parse("lif", text_content, tz=device.time_zone, device=device_id)
    assert result.lif is not None
    sha = hashlib.sha256(content).hexdigest()
    lines = text_content.splitlines()
    parsed_lines = [
        PhotoFinishLine(
            place=athlete.place,
            competitor_id=athlete.bib or None,
            lane=athlete.lane,
            time_us=athlete.elapsed_us,
            time_text=_time_column(lines, athlete.line),
            status=_status(athlete.status),
        )
        for athlete in result.lif.athletes
    ]
    header = result.lif.header
    event = PhotoFinishResultParsed(
        race_id=race_id,
        file_name=file_name,
        file_sha256=sha,
        event_number=header.event if header else None,
        round_number=header.round if header else None,
        heat_number=header.heat if header else None,
        wind_text=(header.wind or None) if header else None,
        lines=tuple(parsed_lines),
        received_at=datetime.now(UTC),
    )
    stored = await session.execute(
        text(
            "INSERT INTO photo_finish_files (race_id, device_id, file_name, sha256, content, "
            "parsed) VALUES (:r, :d, :f, :s, :c, CAST(:p AS jsonb)) "
            "ON CONFLICT ON CONSTRAINT photo_finish_once DO NOTHING RETURNING id"
        ),
        {
            "r": race_id,
            "d": device_id,
            "f": file_name,
            "s": sha,
            "c": content,
            "p": event.model_dump_json(),
        },
    )
    new = stored.scalar() is not None
    if new:
        await add_events(session, topics.PHOTO_FINISH, [(event, str(race_id))])
    if result.rejected:
        await ingest.store(session, device, [], result.rejected, source_format="lif")
    return PhotoFinishOut(
        race_id=race_id,
        sha256=sha,
        new=new,
        athletes=len(parsed_lines),
        rejected=[
            RejectedLineOut(line=r.line, text=r.text, reason=r.reason) for r in result.rejected
        ],
    )


def _time_column(lines: list[str], line_number: int) -> str:
    fields = lines[line_number - 1].split(",") if 0 < line_number <= len(lines) else []
    return fields[6].strip()[:32] if len(fields) > 6 else ""


def _status(status: str | None) -> Literal["finished", "DNS", "DNF", "DQ"]:
    if status is None:
        return "finished"
    head = status.split()[0].upper()
    if head == "DNS":
        return "DNS"
    if head == "DNF":
        return "DNF"
    return "DQ"


# -- operators --------------------------------------------------------------------------


class DeviceOut(BaseModel):
    id: str
    name: str
    time_zone: str
    timing_point: str
    current_race_id: uuid.UUID | None
    last_contact_at: datetime | None
    reads_total: int
    duplicates_total: int
    rejected_total: int


@router.get("/devices", response_model=list[DeviceOut], summary="Devices and their traffic")
async def list_devices(principal: Operator, session: Session) -> list[DeviceOut]:
    rows = await session.execute(
        text(
            "SELECT id, name, time_zone, timing_point, current_race_id, last_contact_at, "
            "reads_total, duplicates_total, rejected_total FROM devices ORDER BY id"
        )
    )
    return [DeviceOut.model_validate(dict(row._mapping)) for row in rows]


class DeviceIn(BaseModel):
    name: str | None = Field(default=None, max_length=200)
    time_zone: str | None = Field(
        default=None, description="IANA zone, e.g. Asia/Almaty; null: back to Asia/Almaty."
    )
    timing_point: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=32)
    current_race_id: uuid.UUID | None = Field(
        default=None, description="Race an in-stream start signal belongs to."
    )


@router.put("/devices/{device_id}", response_model=DeviceOut, summary="Configure a device")
async def configure_device(
    device_id: str, settings: DeviceIn, principal: Organizer, session: Session
) -> DeviceOut:
    if settings.time_zone is not None:
        try:
            zoneinfo.ZoneInfo(settings.time_zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise Problem(
                422,
                "Unknown time zone",
                f"{settings.time_zone!r} is not an IANA zone.",
                type_="unknown-time-zone",
            ) from None
    await ingest.register_contact(session, device_id, DEFAULT_ZONE)
    changes = settings.model_dump(exclude_unset=True)
    # An explicit null puts a setting back to its default (the zone of RULES §1, the finish
    # line, the device's id as its name).
    defaults = {"time_zone": DEFAULT_ZONE, "timing_point": "finish", "name": device_id}
    changes = {k: defaults[k] if v is None and k in defaults else v for k, v in changes.items()}
    if changes:
        assignments = ", ".join(f"{name} = :{name}" for name in changes)
        await session.execute(
            text(f"UPDATE devices SET {assignments} WHERE id = :id"), {**changes, "id": device_id}
        )
    row = (
        await session.execute(
            text(
                "SELECT id, name, time_zone, timing_point, current_race_id, last_contact_at, "
                "reads_total, duplicates_total, rejected_total FROM devices WHERE id = :id"
            ),
            {"id": device_id},
        )
    ).one()
    return DeviceOut.model_validate(dict(row._mapping))


@router.get(
    "/devices/{device_id}/rejected",
    response_model=list[RejectedLineOut],
    summary="A device's rejected lines, newest first",
)
async def rejected_lines(
    device_id: str,
    principal: Operator,
    session: Session,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[RejectedLineOut]:
    rows = await session.execute(
        text(
            "SELECT line, text, reason FROM rejected_lines WHERE device_id = :d "
            "ORDER BY id DESC LIMIT :n"
        ),
        {"d": device_id, "n": limit},
    )
    return [RejectedLineOut(line=r.line, text=r.text, reason=r.reason) for r in rows]


class ReplayOut(BaseModel):
    device_id: str
    republished: int


@router.post(
    "/devices/{device_id}/replay",
    response_model=ReplayOut,
    summary="Republish all of a device's stored reads (for recomputation)",
)
async def replay_device(device_id: str, principal: Organizer, session: Session) -> ReplayOut:
    """Every stored read goes to the bus again with its own event id, in the order received:
    consumers that applied it already skip it; a rebuilt broker or a new consumer gets it.
    Reads not yet published when the replay comes are counted too and go out once."""
    count = await ingest.replay(session, device_id)
    return ReplayOut(device_id=device_id, republished=count)


__all__ = ["router"]
