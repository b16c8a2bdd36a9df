"""Registration's composition root: what it serves, consumes and produces."""

from pathlib import Path

from copa_contracts import topics
from copa_runtime.service import ServiceDefinition

definition = ServiceDefinition(
    name=topics.REGISTRATION,
    title="Copa Run registration",
    summary="Applications, payments, BIBs, distance changes, corporate batches, free slots, "
    "bans and starter kits (reg 5, 7, 8).",
    migrations_dir=Path(__file__).parent / "migrations",
    produces=(topics.PARTICIPANTS, topics.RELAY_TEAMS, topics.CORPORATE_BATCHES, topics.EDITIONS),
    missing=(
        "No public API yet: applications, payments and their callbacks, distance changes, "
        "relay teams, corporate batches, free slots, qualification checks, bans, kits "
        "(issue 3). The `applications` table and the participant topics exist.",
    ),
)
