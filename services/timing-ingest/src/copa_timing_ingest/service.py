"""Timing ingest's composition root: what it serves, consumes and produces."""

from pathlib import Path

from copa_contracts import topics
from copa_runtime.service import ServiceDefinition
from copa_timing_ingest.api import router
from copa_timing_ingest.publisher import publish_reads, republish_all_reads

definition = ServiceDefinition(
    name=topics.TIMING_INGEST,
    title="Copa Run timing ingest",
    summary="Chip reads, start signals and photo-finish files from the timing hardware, in "
    "the vendors' own formats, stored once and durably before the device gets its answer, "
    "and published keyed by chip (RULES.md §6, TIMING-FORMATS.md).",
    migrations_dir=Path(__file__).parent / "migrations",
    routers=(router,),
    produces=(topics.READS, topics.STARTS, topics.PHOTO_FINISH),
    # Reads are published from their own table (publisher.py); starts, photo-finish results
    # and replays through the outbox.
    workers=(publish_reads,),
    # A rebuilt broker gets the reads again from their table (`copa republish`).
    republishers={"reads": republish_all_reads},
)
