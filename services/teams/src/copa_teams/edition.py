"""The edition this process serves: `editions/<COPA_EDITION>.toml`, read once."""

from __future__ import annotations

import functools

from copa_contracts.edition import Edition, load_edition
from copa_runtime.settings import Settings

RELAY = "relay"
"""The relay standings' classification code on `teams.standings.v1` (contracts teams.py)."""


@functools.cache
def current_edition() -> Edition:
    return load_edition(Settings().edition)


def classification_codes() -> tuple[str, ...]:
    """The team classifications of the edition (reg 4.2.4), then the relay."""
    return (*(c.code for c in current_edition().teams.classifications), RELAY)


def codes_for_distance(distance: str) -> set[str]:
    """Team classifications a distance's results count in."""
    return {c.code for c in current_edition().teams.classifications if distance in c.distances}
