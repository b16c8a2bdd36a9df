"""Exceptions for the judges: what the engine will not decide alone (reg 11.3.8, 15.2).

These are values, not Python exceptions: a read of an unknown chip, a chip read in a race it
does not belong to, a read outside every race window, too few crossings for the distance, a
runner without a finish time, a photo-finish line with an unknown BIB, a race without a start
signal. Nothing is silently dropped (RULES §6): each becomes one of these, for a judge to resolve.
"""

from __future__ import annotations

from dataclasses import dataclass

from copa_ranking.engine.terms import Bib, ExceptionKind, RaceId


@dataclass(frozen=True, slots=True)
class JudgesException:
    """One doubt for the judges' queue (RULES §6, reg 11.3.8)."""

    kind: ExceptionKind
    detail: str
    race_id: RaceId | None = None
    chip: str | None = None
    bib: Bib | None = None
    at_us: int | None = None
    """Instant concerned (microseconds since the Unix epoch, UTC), when one is."""
    reads: int = 0
    """How many raw reads the doubt stands for (a cluster of reads is one crossing)."""


__all__ = ["JudgesException"]
