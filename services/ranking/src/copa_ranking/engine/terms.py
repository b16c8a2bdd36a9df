"""The engine's vocabulary: statuses, rounds, sources and the engine's own error.

The literal types repeat those of `copa_contracts.ranking` on purpose: the engine imports only
the standard library and the contracts' configuration types (`copa_contracts.edition`,
`copa_contracts.common`), never the event models; a test keeps the two spellings equal.
"""

from __future__ import annotations

from typing import Final, Literal, TypeAlias

from copa_contracts.common import Gender, RaceGender, ResultStatus, TimeSource

Bib: TypeAlias = int
"""A BIB number (reg 7.8): the identity of a runner, or of a relay team, inside the engine."""

RaceId: TypeAlias = str
"""The service's id of a race, as text; the engine only compares it."""

RoundKind = Literal["heat", "final", "timed_final"]
"""What a race decides (reg 11.3): a heat of round 1 before a final; the final (also a group
small enough for one race); one round placed by time across its races (reg 11.3.4, 11.3.6)."""

RuledStatus = Literal["DNS", "DNF", "DQ"]
"""What a judge may set instead of a time (RULES §6)."""

PublicationStatus = Literal["provisional", "official"]
"""Provisional until the chief judge confirms, then official (reg 11.1, 15.2; RULES §6)."""

QualifierMark = Literal["Q", "q"]
"""Through to the next round by place in the race (`Q`) or by time across races (`q`)."""

ExceptionKind = Literal[
    "unknown_chip",
    "chip_not_in_race",
    "read_outside_race_window",
    "too_few_crossings",
    "no_finish_time",
    "photo_finish_unmatched",
    "start_missing",
]
"""Doubts the engine puts in front of the judges instead of deciding (reg 11.3.8)."""

OrderSource = Literal["photo_finish", "judges"]
"""Who set a finish order that beats the chips' order (RULES §6)."""

NON_FINISHER_ORDER: Final[dict[str | None, int]] = {None: 0, "DNF": 1, "DQ": 2, "DNS": 3}
"""RULES §6 display: finishers in place order, then DNF, DQ, DNS (no place). ``None`` is a
runner with no result yet (provisional results while the race runs); it comes first."""

WRONG_RACE_RULE: Final = "11.3.5"
"""reg 11.3.5: starting outside one's own race is a disqualification (RULES §5 records DQ)."""


class EngineError(ValueError):
    """Input the rules cannot be applied to (a duplicate BIB, a DQ without its rule, ...).

    Doubts about the competition itself (an unknown chip, too few crossings) are not errors:
    they are :class:`~copa_ranking.engine.judges.JudgesException` values.
    """


def status_text(status: ResultStatus | None, dq_rule: str | None = None) -> str:
    """The status as displayed (RULES §6): ``""`` for a finisher, ``DQ 7.12`` for a DQ."""
    if status is None or status == "OK":
        return ""
    if status == "DQ":
        return f"DQ {dq_rule}" if dq_rule else "DQ"
    return str(status)


__all__ = [
    "NON_FINISHER_ORDER",
    "WRONG_RACE_RULE",
    "Bib",
    "EngineError",
    "ExceptionKind",
    "Gender",
    "OrderSource",
    "PublicationStatus",
    "QualifierMark",
    "RaceGender",
    "RaceId",
    "ResultStatus",
    "RoundKind",
    "RuledStatus",
    "TimeSource",
    "status_text",
]
