"""Lanes of the 100 m (RULES §5; WA TR 20).

Round 1: lanes by lot. Final: the qualifiers are ranked by their round-1 time and drawn by lot
in tiers of the edition's lane table, best tier first: since 2023 WA draws the best 4 into
lanes 3-6, the 5th and 6th into 2 and 7, the 7th and 8th into 1 and 8; the older table (3-6,
7-8, 1-2) is a configuration option. The table and the number of lanes are config
(:class:`copa_contracts.edition.Lanes`).
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from copa_contracts.edition import Lanes
from copa_ranking.engine.terms import Bib, EngineError


def lanes_by_preference(lanes: Lanes) -> tuple[int, ...]:
    """Every lane, the lane table's best tier first (RULES §5: the table is config)."""
    return tuple(lane for tier in lanes.final_draw for lane in tier)


def draw_lanes_by_lot(bibs: Sequence[Bib], lanes: Lanes, seed: str) -> dict[Bib, int]:
    """Round-1 lanes by lot (RULES §5), reproducible from ``seed``.

    When a race has fewer runners than lanes, the lanes used are the best ones of the lane
    table (our decision: the middle of the straight, as WA prefers), and the runners draw
    among them.
    """
    _check_fits(bibs, lanes)
    rng = random.Random(seed)
    used = list(lanes_by_preference(lanes)[: len(bibs)])
    rng.shuffle(used)
    return dict(zip(sorted(bibs), used, strict=True))


def draw_final_lanes(ranked_bibs: Sequence[Bib], lanes: Lanes, seed: str) -> dict[Bib, int]:
    """Final lanes by the lane table (RULES §5, WA TR 20), reproducible from ``seed``.

    ``ranked_bibs`` are the qualifiers best first (by round-1 time). The first tier of the
    table is drawn among the best ``len(tier)`` runners, the next tier among the next ones, and
    so on; when fewer runners are left than a tier has lanes, they draw among its lanes.
    """
    _check_fits(ranked_bibs, lanes)
    rng = random.Random(seed)
    assigned: dict[Bib, int] = {}
    rest = list(ranked_bibs)
    for tier in lanes.final_draw:
        if not rest:
            break
        runners, rest = rest[: len(tier)], rest[len(tier) :]
        tier_lanes = list(tier)
        rng.shuffle(tier_lanes)
        assigned.update(zip(runners, tier_lanes[: len(runners)], strict=True))
    return assigned


def _check_fits(bibs: Sequence[Bib], lanes: Lanes) -> None:
    if len(set(bibs)) != len(bibs):
        raise EngineError("a BIB appears twice in one race")
    if len(bibs) > lanes.count:
        raise EngineError(f"{len(bibs)} runners do not fit in {lanes.count} lanes")


__all__ = ["draw_final_lanes", "draw_lanes_by_lot", "lanes_by_preference"]
