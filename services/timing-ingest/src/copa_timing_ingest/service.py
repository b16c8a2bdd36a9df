"""Timing ingest's composition root: what it serves, consumes and produces."""

from pathlib import Path

from copa_contracts import topics
from copa_runtime.service import ServiceDefinition

definition = ServiceDefinition(
    name=topics.TIMING_INGEST,
    title="Copa Run timing ingest",
    summary="Chip reads, start signals and photo-finish files from the timing hardware, "
    "stored durably and published (RULES.md §6, TIMING-FORMATS.md).",
    migrations_dir=Path(__file__).parent / "migrations",
    produces=(topics.READS, topics.STARTS, topics.PHOTO_FINISH),
    missing=(
        "No ingest API yet: read batches, vendor formats, start signals, .lif files, device "
        "overview, replay, and `copa timing parse` (issue 4). The `devices` table exists.",
    ),
)
