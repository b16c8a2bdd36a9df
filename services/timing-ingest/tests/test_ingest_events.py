"""The reads hot path writes exactly the events the model path would (ChipRead's schema)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from copa_contracts import topics
from copa_contracts.envelope import Envelope
from copa_contracts.timing import ChipRead
from copa_runtime.outbox import add_event_payloads
from copa_timing_ingest.ingest import IncomingRead, chip_read_payload


class CapturingSession:
    """Stands in for the database session: keeps what would be inserted."""

    def __init__(self) -> None:
        self.info = {"copa.producer": "timing-ingest"}
        self.params: dict[str, Any] = {}

    async def execute(self, statement: object, params: dict[str, Any]) -> None:
        self.params = params


reads = st.builds(
    IncomingRead,
    chip=st.text("0123456789ABCDEF", min_size=1, max_size=24),
    at=st.datetimes(
        min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)
    ),
    kind=st.sampled_from(["read", "first_seen", "last_seen"]),
    timing_point=st.sampled_from(["finish", "start", "exchange-1"]),
    antenna=st.none() | st.integers(0, 8),
    seq=st.none() | st.integers(0, 2**40),
    rssi=st.none() | st.integers(-120, 0),
    dedupe_key=st.just("k"),
    line=st.just(1),
)


@given(read=reads)
async def test_fast_read_event_parses_to_the_same_chip_read(read: IncomingRead) -> None:
    session = CapturingSession()
    received_at = datetime(2024, 3, 17, 4, 0, 0, 123456, tzinfo=UTC)
    event_id = read.event_id("reader-1")
    await add_event_payloads(
        session,  # type: ignore[arg-type]
        topics.READS,
        ChipRead,
        [(event_id, read.chip, chip_read_payload(read, "reader-1", received_at))],
    )
    [value] = session.params["values"]
    envelope = Envelope.from_bytes(value)
    assert envelope.event_id == event_id
    assert (envelope.type, envelope.version, envelope.key) == ("chip.read", 1, read.chip)
    assert envelope.producer == "timing-ingest"
    assert topics.READS.parse(envelope) == ChipRead(
        chip=read.chip,
        device_id="reader-1",
        timing_point=read.timing_point,
        antenna=read.antenna,
        read_at=read.at,
        device_sequence=read.seq,
        kind=read.kind,  # type: ignore[arg-type]
        received_at=received_at,
    )
