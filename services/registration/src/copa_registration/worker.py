"""The hold sweeper: releases unpaid holds that ran out (RULES §3), every few seconds.

Expiry is also checked where it matters at once (a full distance first releases expired holds
before refusing; a payment for an expired hold re-takes a slot or goes to the organizer;
the state endpoint shows an expired hold as expired), so the sweeper's pace is not a rule.
"""

from __future__ import annotations

import asyncio
import logging

from copa_registration import capacity, entries
from copa_registration.config import context
from copa_runtime.db import Database
from copa_runtime.settings import Settings

log = logging.getLogger(__name__)


async def sweep_once(db: Database) -> int:
    ctx = context()
    async with db.unit_of_work() as session:
        return await entries.sweep_expired(session, ctx, ctx.clock.now())


async def hold_sweeper(db: Database, settings: Settings) -> None:
    ctx = context()
    async with db.unit_of_work() as session:
        await capacity.seed(session, ctx.edition)
    while True:
        try:
            released = await sweep_once(db)
            if released:
                log.info("released %d expired holds", released)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("hold sweep failed; retrying")
        await asyncio.sleep(ctx.settings.hold_sweep_interval_s)
