"""Slots: paid + live holds never exceed the total (700) or a distance's limit (reg 7.1, 7.6).

A row counts the slots ``taken``: live holds plus paid entries. The service never writes the
counters: deferred constraint triggers on `applications`, `distance_changes` and `relay_teams`
add and remove slots as rows enter and leave the `held`/`paid` states, at commit, under the
counter row's lock, and fail the commit that would exceed a limit. So the check and the change
cannot be separated by another transaction, and the lock is held only for the commit itself
(not across round trips to a busy application). A CHECK constraint states it once more.

Lock order: every change of a counter locks the `total` row first (migration 0002), so a
transaction's first counter lock is always `total` and two commits can never hold rows the
other waits for (a paid change of distance moves a slot between two distance rows, reg 7.6:
opposite moves used to deadlock).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from copa_contracts.edition import Edition
from copa_runtime.db import Database
from copa_runtime.problems import Problem

TOTAL = "total"
RELAY = "relay"
FREE_POOL = "free_pool"


class CapacityFull(Exception):
    """A commit would have taken a slot beyond a limit; nothing of it was written."""

    def __init__(self, scope: str) -> None:
        super().__init__(scope)
        self.scope = scope


_FULL = "copa_capacity_full:"


@asynccontextmanager
async def checked_unit_of_work(db: Database) -> AsyncIterator[AsyncSession]:
    """A unit of work whose commit raises :class:`CapacityFull` when the capacity triggers
    refuse it (the counters are updated and checked at commit, see the migration)."""
    try:
        async with db.unit_of_work() as session:
            yield session
    except DBAPIError as exc:
        message = str(exc.orig) if exc.orig is not None else str(exc)
        if _FULL not in message:
            raise
        scope = message.split(_FULL, 1)[1].split()[0].strip()
        raise CapacityFull(scope) from exc


async def check_now(session: AsyncSession) -> None:
    """Run the capacity triggers now instead of at commit, for low-volume organizer commands:
    a limit that would be exceeded answers 409 (and the unit of work rolls back) instead of
    failing the commit after the handler returned. The counter rows stay locked until commit."""
    try:
        await session.execute(text("SET CONSTRAINTS ALL IMMEDIATE"))
    except DBAPIError as exc:
        message = str(exc.orig) if exc.orig is not None else str(exc)
        if _FULL not in message:
            raise
        scope = message.split(_FULL, 1)[1].split()[0].strip()
        raise Problem(
            409,
            "No place left",
            f"The {scope} limit is reached (reg 7.1, 7.6, 7.13).",
            type_="capacity-reached",
            scope=scope,
        ) from exc


async def full_scopes(session: AsyncSession, scopes: list[str]) -> list[str]:
    """Scopes with no slot left, as last committed (a lock-free look: refusing early when it
    says full only spares a doomed attempt; the commit-time check is what guarantees)."""
    rows = await session.execute(
        text(
            "SELECT scope FROM capacity WHERE scope = ANY(CAST(:s AS text[])) "
            "AND taken >= slot_limit ORDER BY scope = 'total' DESC"
        ),
        {"s": scopes},
    )
    return [row.scope for row in rows]


def bib_sequence(scope: str) -> str:
    return '"bib_' + scope.replace('"', "") + '"'


async def next_bib(session: AsyncSession, scope: str) -> int:
    """The next BIB of the scope's range: in order, never reused (RULES §3; a rolled-back
    payment leaves a gap, never a duplicate). A used-up range fails the transaction."""
    try:
        value = await session.scalar(text(f"SELECT nextval('{bib_sequence(scope)}')"))
    except DBAPIError as exc:
        raise Problem(
            500, "BIB range used up", f"No BIB left in the {scope} range (RULES §3)."
        ) from exc
    return int(value)


async def seed(session: AsyncSession, edition: Edition) -> None:
    """Counter rows from the edition config (idempotent; a new config raises or lowers limits,
    never below what is already taken)."""
    rows: list[dict[str, object]] = [
        {"scope": TOTAL, "limit": edition.registration.capacity, "first": None, "last": None},
        {
            "scope": FREE_POOL,
            "limit": edition.registration.free_slots,
            "first": None,
            "last": None,
        },
        {
            "scope": RELAY,
            "limit": edition.relay.bibs.size,
            "first": edition.relay.bibs.first,
            "last": edition.relay.bibs.last,
        },
    ]
    for distance in edition.distances:
        rows.append(
            {
                "scope": distance.code,
                "limit": distance.slot_limit,
                "first": distance.bibs.first,
                "last": distance.bibs.last,
            }
        )
    await session.execute(
        text(
            """
INSERT INTO capacity (scope, slot_limit) VALUES (:scope, :limit)
ON CONFLICT (scope) DO UPDATE SET slot_limit = GREATEST(EXCLUDED.slot_limit, capacity.taken)
"""
        ),
        [{"scope": r["scope"], "limit": r["limit"]} for r in rows],
    )
    for row in rows:
        if row["first"] is not None:
            await session.execute(
                text(
                    f"CREATE SEQUENCE IF NOT EXISTS {bib_sequence(str(row['scope']))} "
                    f"MINVALUE {int(row['first'])} MAXVALUE {int(row['last'])} "  # type: ignore[call-overload]
                    f"START {int(row['first'])} NO CYCLE"  # type: ignore[call-overload]
                )
            )
    await session.execute(
        text(
            """
INSERT INTO edition_state (edition, competition_date, planned_date)
VALUES (:edition, :date, :date) ON CONFLICT (edition) DO NOTHING
"""
        ),
        {"edition": edition.code, "date": edition.date},
    )


async def counts(session: AsyncSession) -> dict[str, dict[str, int]]:
    rows = (await session.execute(text("SELECT scope, slot_limit, taken FROM capacity"))).all()
    return {row.scope: {"limit": row.slot_limit, "taken": row.taken} for row in rows}
