"""The live results stream sends every change once, in order, even when commits cross.

``public_changes.seq`` is taken before commit, so two transactions can commit their changes in
the other order. A partner resuming with ``Last-Event-ID`` must still miss nothing: the stream
holds back at a gap until it fills (or its transaction is known rolled back).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import httpx

from copa.embedded.service_process import ServiceProcess
from copa_ranking.api.public import GAP_WAIT_S, _Gaps


def test_changes_in_order_are_sent_at_once() -> None:
    assert _Gaps().ready(5, [6, 7, 8], now=0.0) == 3


def test_a_gap_holds_back_what_follows_it_until_it_fills() -> None:
    gaps = _Gaps()
    assert gaps.ready(5, [6, 8, 9], now=0.0) == 1
    assert gaps.ready(6, [8, 9], now=1.0) == 0
    assert gaps.ready(6, [7, 8, 9], now=2.0) == 3


def test_a_gap_left_by_a_rollback_is_passed_after_the_wait() -> None:
    gaps = _Gaps()
    assert gaps.ready(5, [7], now=10.0) == 0
    assert gaps.ready(5, [7], now=10.0 + GAP_WAIT_S / 2) == 0
    assert gaps.ready(5, [7, 8], now=10.0 + GAP_WAIT_S) == 2
    # The next gap is timed on its own.
    assert gaps.ready(8, [10], now=10.0 + GAP_WAIT_S) == 0


async def _events(response: httpx.Response) -> AsyncIterator[dict[str, Any]]:
    event: dict[str, Any] = {}
    async for line in response.aiter_lines():
        if not line:
            if event:
                yield event
            event = {}
        elif line.startswith(": "):
            event["comment"] = line.removeprefix(": ")
        elif line.startswith("id: "):
            event["id"] = int(line.removeprefix("id: "))
        elif line.startswith("data: "):
            event["data"] = json.loads(line.removeprefix("data: "))


def _dsn(service: ServiceProcess) -> str:
    return service.database_url.replace("postgresql+asyncpg://", "postgresql://")


async def _insert(connection: asyncpg.Connection, key: str) -> int:
    return int(
        await connection.fetchval(
            "INSERT INTO public_changes (kind, key, revision) VALUES ('standings', $1, 1) "
            "RETURNING seq",
            key,
        )
    )


def test_a_change_committed_after_a_later_numbered_one_is_sent_first(
    service_process: Callable[..., ServiceProcess],
) -> None:
    ranking = service_process("ranking")

    async def scenario() -> None:
        slow = await asyncpg.connect(_dsn(ranking))
        fast = await asyncpg.connect(_dsn(ranking))
        async with (
            httpx.AsyncClient(base_url=ranking.base_url, timeout=30) as http,
            http.stream("GET", "/public/stream") as live,
        ):
            events = _events(live)
            # Sent once the stream knows where it starts: what follows is new to it.
            assert "comment" in await asyncio.wait_for(anext(events), 30)
            transaction = slow.transaction()
            await transaction.start()
            slow_seq = await _insert(slow, "slow")
            fast_seq = await _insert(fast, "fast")  # committed at once, numbered later
            assert fast_seq > slow_seq
            await asyncio.sleep(1.0)  # time enough for a stream that does not wait
            await transaction.commit()
            first = await asyncio.wait_for(anext(events), 30)
            second = await asyncio.wait_for(anext(events), 30)
            assert [first["data"]["key"], second["data"]["key"]] == ["slow", "fast"]
            assert [first["id"], second["id"]] == [slow_seq, fast_seq]

            # A rolled-back change leaves a gap that never fills: the stream goes on.
            transaction = slow.transaction()
            await transaction.start()
            await _insert(slow, "rolled back")
            await transaction.rollback()
            after = await _insert(fast, "after the rollback")
            third = await asyncio.wait_for(anext(events), GAP_WAIT_S + 30)
            assert (third["id"], third["data"]["key"]) == (after, "after the rollback")
        await slow.close()
        await fast.close()

    asyncio.run(scenario())
