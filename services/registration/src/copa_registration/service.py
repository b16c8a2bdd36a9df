"""Registration's composition root: what it serves, consumes and produces."""

from pathlib import Path

from copa_contracts import topics
from copa_registration import changes, organizer, relay
from copa_registration.api import router
from copa_registration.worker import hold_sweeper
from copa_runtime.service import ServiceDefinition

definition = ServiceDefinition(
    name=topics.REGISTRATION,
    title="Copa Run registration",
    summary="Applications, payments, BIBs, distance changes, corporate batches, free slots, "
    "bans and starter kits (reg 5, 7, 8).",
    migrations_dir=Path(__file__).parent / "migrations",
    routers=(router, changes.router, relay.router, organizer.router),
    produces=(
        topics.PARTICIPANTS,
        topics.RELAY_TEAMS,
        topics.CORPORATE_BATCHES,
        topics.EDITIONS,
        topics.PAYMENTS,
    ),
    workers=(hold_sweeper,),
    missing=(
        "A distance change into 3000 m checks the qualifying numbers at once but does not put "
        "the evidence in front of an organizer (a new 3000 m application does).",
    ),
)
