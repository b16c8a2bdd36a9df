"""Publishing reads: the reads table is their outbox (issue 4: "the reads table itself can be
the outbox").

A read is stored once, in the device's request, and that row is all there is: no outbox row
beside it and no update when it is published. The publisher sends rows in the order of the
transactions that stored them, ``(txid, id)``, and only those stored by transactions older
than every transaction still running (``pg_snapshot_xmin``): a transaction that is still
open may hold lower ids, and once the snapshot's horizon passes it every row before the
horizon is final. Its place is one row in ``reads_publication``, moved after the broker
acknowledged a batch, so a crash can send a batch twice (consumers deduplicate on the
read's event id), never skip one.

The price of the horizon: a transaction left open on the same PostgreSQL server (snapshots
are server-wide, so in any database) holds the reads back until it ends; they are stored and
acknowledged meanwhile, and go out in order once it does. Keep transactions short on a server
timing ingest shares, or give it its own on race day (docs/runbook.md).

Everything else about relaying (one publisher per database under an advisory lock, wake-up on
commit, backoff, record batches per partition, topics re-created on a restarted broker) is the
runtime's :class:`OutboxRelay`, which this extends.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import Any, NamedTuple

import msgspec
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from copa_contracts import topics
from copa_contracts.timing import ChipRead
from copa_runtime import metrics
from copa_runtime.db import Database
from copa_runtime.outbox import OutboxRelay, topics_holding_fewer
from copa_runtime.settings import Settings

log = logging.getLogger(__name__)

STREAM = "bus"

READ_COLUMNS = (
    "id, txid, event_id, device_id, chip, read_at, kind, timing_point, antenna, seq, received_at"
)
"""A stored read's columns in the order :func:`chip_read_payload` unpacks them."""

# The cursor is read in the same statement (one round trip per batch) and comes back after
# the read's columns, so that the batch moves it only from where it found it (_ADVANCE).
_NEXT_READS = (
    "WITH c AS (SELECT txid AS t, read_id AS r FROM reads_publication WHERE stream = $1) "
    f"SELECT {READ_COLUMNS}, (SELECT t FROM c), (SELECT r FROM c) FROM reads "
    "WHERE (txid, id) > (SELECT t, r FROM c) "
    "AND txid < pg_snapshot_xmin(pg_current_snapshot())::text::bigint "
    "ORDER BY txid, id LIMIT $2"
)
_MOVE = text(
    "UPDATE reads_publication SET txid = :txid, read_id = :read_id, moved_at = now() "
    "WHERE stream = :stream"
)
# A republish that moved the cursor back while a batch was on its way wins: the batch's
# advance applies only if the cursor is still where the batch read it. (Locking the cursor
# for the batch instead would give the relay a transaction id for the whole send, and an
# open transaction id holds back every other publisher's horizon on the server.)
_ADVANCE = text(
    "UPDATE reads_publication SET txid = :txid, read_id = :read_id, moved_at = now() "
    "WHERE stream = :stream AND txid = :from_txid AND read_id = :from_read"
)


class _Record(NamedTuple):
    topic: str
    key: str
    value: bytes


_ENCODE = msgspec.json.encode


def chip_read_payload(row: Sequence[Any]) -> dict[str, Any]:
    """A stored read, its :data:`READ_COLUMNS` in order (more columns may follow), as its
    ``chip.read`` payload (ChipRead's schema). Unpacked by position: the publisher's hot path."""
    device_id, chip, read_at, kind, point, antenna, seq, received_at = row[3:11]
    return {
        "chip": chip,
        "device_id": device_id,
        "timing_point": point,
        "antenna": antenna,
        "read_at": read_at,
        "device_sequence": seq,
        "kind": kind,
        "received_at": received_at,
    }


def chip_read_envelope(row: Sequence[Any], producer: str = topics.TIMING_INGEST) -> bytes:
    """A stored read (:data:`READ_COLUMNS`) as its ``chip.read`` envelope's JSON (the shape
    ``Envelope.wrap`` writes; proven equal by the tests). The instant it occurred is when it
    was stored."""
    return _ENCODE(
        {
            "event_id": row[2],
            "key": row[4],
            "type": _TYPE,
            "version": _VERSION,
            "occurred_at": row[10],
            "producer": producer,
            "correlation_id": None,
            "payload": chip_read_payload(row),
        }
    )


_TYPE, _VERSION = ChipRead.event_type, ChipRead.event_version


class ReadsRelay(OutboxRelay):
    """Publishes stored reads keyed by chip, in the order they were stored."""

    lock_key = 0x0C0BA_0002
    notify_channel = "copa_reads"
    linger_s = 0.005  # devices post every few ms at a finish: one batch for several posts

    async def refill_if_lost(self, producer: Any) -> int:
        """The outbox's check (:meth:`OutboxRelay.refill_if_lost`) for the reads table: when
        the broker holds fewer reads than the cursor has passed, it lost them, and the cursor
        goes back to the start before anything new is published."""
        async with self.db.unit_of_work() as session:
            passed = int(
                (
                    await session.execute(
                        text(
                            "SELECT count(*) FROM reads WHERE (txid, id) <= (SELECT txid, "
                            "read_id FROM reads_publication WHERE stream = :stream)"
                        ),
                        {"stream": STREAM},
                    )
                ).scalar_one()
            )
        lost = await topics_holding_fewer(
            self.bootstrap_servers, producer, {topics.READS.name: passed}
        )
        if not lost:
            return 0
        async with self.db.unit_of_work() as session:
            await republish_all_reads(session)
        log.warning(
            "the broker lost published reads; publishing every read again first",
            extra={"reads": passed},
        )
        return passed

    async def publish_once(self, producer: Any) -> int:
        started = time.perf_counter()
        async with self.db.unit_of_work() as session:
            # asyncpg's own records, not SQLAlchemy rows: thousands per batch, and building
            # result rows cost more than encoding the envelopes.
            raw = await (await session.connection()).get_raw_connection()
            rows = await raw.driver_connection.fetch(  # type: ignore[union-attr]
                _NEXT_READS, STREAM, self.batch_size
            )
            if not rows:
                return 0
            topic = topics.READS.name
            records = [_Record(topic, row[4], chip_read_envelope(row)) for row in rows]
            # Bounded, as the outbox relay's: a vanished broker fails the batch, which is then
            # sent again from the same place.
            await asyncio.wait_for(self._send_all(producer, records), self.publish_timeout_s)
            last = rows[-1]
            await session.execute(
                _ADVANCE,
                {
                    "txid": last[1],
                    "read_id": last[0],
                    "stream": STREAM,
                    "from_txid": last[11],
                    "from_read": last[12],
                },
            )
        self.published += len(rows)
        metrics.OUTBOX_PUBLISHED.labels(self.service).inc(len(rows))
        metrics.OUTBOX_BATCH_SECONDS.labels(self.service).observe(time.perf_counter() - started)
        return len(rows)


async def publish_reads(db: Database, settings: Settings) -> None:
    """The worker that publishes reads (runs next to the outbox relay, in the worker role)."""
    relay = ReadsRelay(
        db,
        settings.kafka_bootstrap_servers,
        topics=[topics.READS],
        service=topics.TIMING_INGEST,
        batch_size=max(settings.relay_batch_size, 5000),
        idle_poll_s=settings.relay_idle_poll_s,
    )
    await relay.run()


async def republish_all_reads(session: AsyncSession) -> int:
    """Send every stored read again (a rebuilt broker): the cursor goes back to the start.
    Reads keep their event ids, so consumers skip those they applied."""
    count = int((await session.execute(text("SELECT count(*) FROM reads"))).scalar_one())
    await session.execute(_MOVE, {"txid": 0, "read_id": 0, "stream": STREAM})
    return count
