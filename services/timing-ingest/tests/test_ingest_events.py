"""The reads hot paths write exactly what the model paths would.

* A stored read's envelope, written by the publisher straight to JSON, parses to the
  ``ChipRead`` the model path (``Envelope.wrap``) gives, with the read's own event id.
* A replay's events, added to the outbox from plain dicts, embed that envelope verbatim.
* A JSON batch checked whole (msgspec, the common case) gives the same reads, with the same
  dedupe keys and event ids, as the read-by-read check.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from copa_contracts import topics
from copa_contracts.envelope import Envelope
from copa_contracts.timing import ChipRead, chip_read_event_id
from copa_runtime.outbox import add_event_payloads
from copa_timing_ingest.api import _all_valid_reads, _json_read
from copa_timing_ingest.ingest import PostingDevice
from copa_timing_ingest.publisher import chip_read_envelope, chip_read_payload

RECEIVED = datetime(2024, 3, 17, 4, 0, 0, 123456, tzinfo=UTC)


class StoredRead(NamedTuple):
    """A ``reads`` row as the publisher selects it (by position) and a replay reads it."""

    id: int
    txid: int
    event_id: uuid.UUID
    device_id: str
    chip: str
    read_at: datetime
    kind: str
    timing_point: str
    antenna: int | None
    seq: int | None
    received_at: datetime


stored_reads = st.builds(
    StoredRead,
    id=st.integers(1, 2**40),
    txid=st.integers(1, 2**40),
    event_id=st.uuids(),
    device_id=st.sampled_from(["reader-1", "finish-2"]),
    chip=st.text("0123456789ABCDEF", min_size=1, max_size=24),
    read_at=st.datetimes(
        min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)
    ),
    kind=st.sampled_from(["read", "first_seen", "last_seen"]),
    timing_point=st.sampled_from(["finish", "start", "exchange-1"]),
    antenna=st.none() | st.integers(0, 8),
    seq=st.none() | st.integers(0, 2**40),
    received_at=st.just(RECEIVED),
)


def model_chip_read(row: Any) -> ChipRead:
    return ChipRead(
        chip=row.chip,
        device_id=row.device_id,
        timing_point=row.timing_point,
        antenna=row.antenna,
        read_at=row.read_at,
        device_sequence=row.seq,
        kind=row.kind,
        received_at=row.received_at,
    )


@given(row=stored_reads)
def test_a_published_read_parses_to_the_chip_read_of_the_model_path(row: Any) -> None:
    envelope = Envelope.from_bytes(chip_read_envelope(row))
    model = Envelope.wrap(
        model_chip_read(row),
        producer="timing-ingest",
        key=row.chip,
        event_id=row.event_id,
        occurred_at=RECEIVED,
    )
    assert envelope == model
    assert topics.READS.parse(envelope) == model_chip_read(row)


class CapturingSession:
    """Stands in for the database session: keeps what would be inserted."""

    def __init__(self) -> None:
        self.info = {"copa.producer": "timing-ingest"}
        self.params: dict[str, Any] = {}

    async def execute(self, statement: object, params: dict[str, Any]) -> None:
        self.params = params


@given(row=stored_reads)
async def test_a_replayed_read_goes_to_the_outbox_as_the_same_event(row: Any) -> None:
    session = CapturingSession()
    await add_event_payloads(
        session,  # type: ignore[arg-type]
        topics.READS,
        ChipRead,
        [(row.event_id, row.chip, chip_read_payload(row))],
        requeue=True,
    )
    [stored] = msgspec.json.decode(session.params["rows"])
    assert (uuid.UUID(stored["i"]), stored["k"], stored["t"]) == (
        row.event_id,
        row.chip,
        "chip.read",
    )
    envelope = Envelope.from_bytes(msgspec.json.encode(stored["v"]))
    assert envelope.event_id == row.event_id
    assert topics.READS.parse(envelope) == model_chip_read(row)


json_reads = st.fixed_dictionaries(
    {
        "chip": st.text("0123456789ABCDEF", min_size=1, max_size=24),
        "at": st.datetimes(
            min_value=datetime(2024, 1, 1),
            max_value=datetime(2024, 12, 31),
            timezones=st.none() | st.just(UTC) | st.just(ZoneInfo("Asia/Almaty")),
        ).map(lambda at: at.isoformat()),
    },
    optional={
        "location": st.sampled_from(["finish", "FINISH", "Split 1", "", "start"]),
        "antenna": st.none() | st.integers(0, 8),
        "seq": st.none() | st.integers(0, 2**40),
        "rssi": st.none() | st.integers(-120, 0),
        "kind": st.sampled_from(["read", "first_seen", "last_seen"]),
    },
)


@given(batch=st.lists(json_reads, min_size=1, max_size=20))
def test_a_valid_batch_checked_whole_reads_as_checked_read_by_read(
    batch: list[dict[str, Any]],
) -> None:
    device = PostingDevice("reader-1", ZoneInfo("Asia/Almaty"), "finish", None)
    whole = _all_valid_reads(msgspec.json.encode({"reads": batch}), device)
    one_by_one = [_json_read(item, index, device) for index, item in enumerate(batch)]
    assert whole is not None
    assert [(r.chip, r.at, r.kind, r.timing_point, r.dedupe_key, r.line) for r in whole] == [
        (r.chip, r.at, r.kind, r.timing_point, r.dedupe_key, r.line) for r in one_by_one
    ]
    expected_ids = [
        chip_read_event_id(
            "reader-1", r.seq, r.chip, r.at, detail="" if r.seq is not None else r.dedupe_key
        )
        for r in one_by_one
    ]
    assert [uuid.UUID(r.event_id("reader-1")) for r in whole] == expected_ids


def test_a_batch_with_one_bad_read_is_checked_read_by_read() -> None:
    device = PostingDevice("reader-1", ZoneInfo("Asia/Almaty"), "finish", None)
    at = (RECEIVED + timedelta(seconds=1)).isoformat()
    for bad in (
        {"chip": "", "at": at},
        {"chip": "A1", "at": "2024-13-01T00:00:00"},
        {"chip": "A1", "at": at, "seq": -1},
        {"chip": "A1", "at": at, "antenna": True},
        {"chip": "A\x00", "at": at},
        {"chip": "A1", "at": at, "colour": "red"},
        {"chip": "A1", "at": at, "seq": 2**63},
    ):
        body = msgspec.json.encode({"reads": [{"chip": "A0", "at": at}, bad]})
        assert _all_valid_reads(body, device) is None, bad
