"""Capacity counters are locked in one order, so concurrent commits never deadlock (RULES §3).

The counters are updated by deferred triggers at commit (``capacity.py``). A paid change of
distance moves a slot from the old distance's counter to the new one's (reg 7.6): two runners
changing in opposite directions at the same moment would lock the two rows in opposite orders,
and PostgreSQL would abort one of the commits (a deadlock, SQLSTATE 40P01), refusing a change
the runner paid for. Here, on the database of a running service, pairs of paid entries move in
opposite directions in commits sent at the same instant, many times over: none may fail, and
the counters must still equal the paid entries.

The interleaving that deadlocked is also forced, step by step: a third connection holds one
counter row so that both transactions reach the counters and queue behind it, then lets go;
a transaction locking its counters in the order its rows changed would then take one
counter, wait for the other, and meet the second transaction holding that one and waiting
for the first (PostgreSQL aborts one of them with 40P01, deadlock detected).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from typing import Any

import asyncpg
import httpx

from copa.embedded.service_process import ServiceProcess
from copa_registration.providers import Sandbox

PAIRS = 40
ROUNDS = 6
WAIT_POLLS = 1500  # 30 s at 20 ms: far longer than either commit needs to queue
BLOCKED_SCOPE = "1000m"  # held back: the first row each first transaction changes moves it


def _dsn(service: ServiceProcess) -> str:
    return service.database_url.replace("postgresql+asyncpg://", "postgresql://", 1)


def test_opposite_moves_between_distances_commit_at_once_without_a_deadlock(
    small_registration: Any, h: Any
) -> None:
    service = small_registration(capacity=700, slots={"100m": 300, "1000m": 300})
    with httpx.Client(base_url=service.base_url, timeout=30) as http:
        ids: dict[str, list[str]] = {"100m": [], "1000m": []}
        for n in range(2 * PAIRS):
            distance = "100m" if n % 2 else "1000m"
            created = http.post("/applications", json=h.runner(n, distance=distance))
            assert created.status_code == 201, created.text
            h.pay(http, created.json())
            ids[distance].append(created.json()["registration_id"])
    dsn = service.database_url.replace("postgresql+asyncpg://", "postgresql://", 1)
    failures, counters, paid = asyncio.run(_swap_rounds(dsn, ids["100m"], ids["1000m"]))
    assert failures == []
    assert counters == {"100m": paid.get("100m", 0), "1000m": paid.get("1000m", 0)}
    assert sum(paid.values()) == 2 * PAIRS


async def _swap_rounds(
    dsn: str, sprinters: list[str], middle: list[str]
) -> tuple[list[str], dict[str, int], dict[str, int]]:
    connections = [await asyncpg.connect(dsn) for _ in range(2 * PAIRS)]
    failures: list[str] = []
    try:
        on = {"100m": sprinters, "1000m": middle}
        for number in range(ROUNDS):
            there, back = ("100m", "1000m") if number % 2 == 0 else ("1000m", "100m")
            moves = [(entry, back) for entry in on[there]] + [(entry, there) for entry in on[back]]
            # Every transaction stages its move, then all commit at once: the triggers run
            # at commit, where the counter rows are locked.
            staged = []
            for connection, (entry, to) in zip(connections, moves, strict=True):
                transaction = connection.transaction()
                await transaction.start()
                await connection.execute(
                    "UPDATE applications SET distance = $1 WHERE id = $2", to, uuid.UUID(entry)
                )
                staged.append(transaction)
            results = await asyncio.gather(*(t.commit() for t in staged), return_exceptions=True)
            failures += [repr(r) for r in results if isinstance(r, BaseException)]
            on = {back: on[there], there: on[back]}
        admin = connections[0]
        counters = {
            r["scope"]: r["taken"]
            for r in await admin.fetch(
                "SELECT scope, taken FROM capacity WHERE scope IN ('100m', '1000m')"
            )
        }
        paid = {
            r["distance"]: r["count"]
            for r in await admin.fetch(
                "SELECT distance, count(*) FROM applications WHERE status IN ('held', 'paid') "
                "GROUP BY distance"
            )
        }
    finally:
        for connection in connections:
            await connection.close()
    return failures, counters, paid


def _paid_with_change(client: httpx.Client, h: Any, n: int, start: str, to: str) -> dict[str, Any]:
    """A participant paid on ``start`` with a change to ``to`` held (its slot there taken)."""
    created = client.post("/applications", json=h.runner(n, distance=start)).json()
    assert h.pay(client, created)["result"] == "applied"
    change = client.post(
        f"/applications/{created['registration_id']}/distance-change",
        json={"to_distance": to},
        headers=h.token_header(created),
    )
    assert change.status_code == 201, change.text
    return {**created, "distance_change_id": change.json()["distance_change_id"]}


async def _until_queued(
    watch: asyncpg.Connection, tasks: Sequence[asyncio.Task[Any]], pids: Sequence[int] | None
) -> None:
    """Until each of ``tasks`` has finished or a backend is waiting for a lock for it (among
    ``pids``, or any backend of the database but ``watch`` when None)."""
    for _ in range(WAIT_POLLS):
        waiting = await watch.fetchval(
            """SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
            AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()
            AND ($1::int[] IS NULL OR pid = ANY($1::int[]))""",
            None if pids is None else list(pids),
        )
        if waiting + sum(task.done() for task in tasks) >= len(tasks):
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the transactions never reached the counters")


async def _counters(watch: asyncpg.Connection) -> dict[str, int]:
    rows = await watch.fetch("SELECT scope, taken FROM capacity")
    return {row["scope"]: row["taken"] for row in rows}


def test_opposite_distance_changes_paid_at_once_both_apply(registration, h):
    """Runner X moves 100 m -> 1000 m while runner Y moves 1000 m -> 100 m, both payments
    committing at the same time: both are applied, neither fails."""
    with httpx.Client(base_url=registration.base_url, timeout=30) as client:
        x = _paid_with_change(client, h, 1, "100m", "1000m")
        y = _paid_with_change(client, h, 2, "1000m", "100m")
        sandbox = Sandbox(h.sandbox_secret)
        bodies = []
        for runner in (x, y):
            started = client.post(
                f"/applications/{runner['registration_id']}/payments",
                headers=h.token_header(runner),
            )
            assert started.status_code == 201, started.text
            assert started.json()["purpose"] == "distance_change"
            bodies.append(
                sandbox.body(
                    transaction_id=f"tx-{uuid.uuid4().hex}",
                    payment_id=str(started.json()["payment_id"]),
                    account_id=runner["registration_number"],
                    amount_kzt=started.json()["amount_kzt"],
                )
            )

    async def scenario() -> tuple[list[httpx.Response], dict[str, int]]:
        blocker = await asyncpg.connect(_dsn(registration))
        watch = await asyncpg.connect(_dsn(registration))
        try:
            hold = blocker.transaction()
            await hold.start()
            await blocker.execute(
                "SELECT 1 FROM capacity WHERE scope = $1 FOR UPDATE", BLOCKED_SCOPE
            )
            async with httpx.AsyncClient(base_url=registration.base_url, timeout=60) as http:

                async def notify(body: bytes) -> httpx.Response:
                    # The provider's notification itself (not the sandbox page, which would
                    # deliver it again after a 503 and hide the failed first attempt).
                    return await http.post(
                        "/payments/sandbox/notify",
                        content=body,
                        headers={
                            "X-Sandbox-Signature": sandbox.sign(body),
                            "Content-Type": "application/json",
                        },
                    )

                first = asyncio.create_task(notify(bodies[0]))
                await _until_queued(watch, [first], None)
                second = asyncio.create_task(notify(bodies[1]))
                await _until_queued(watch, [first, second], None)
                await hold.rollback()
                answers = list(await asyncio.gather(first, second))
            return answers, await _counters(watch)
        finally:
            await blocker.close()
            await watch.close()

    answers, counters = asyncio.run(scenario())
    assert [(a.status_code, a.json()) for a in answers] == [
        (200, {"result": "applied", "reason": None}),
        (200, {"result": "applied", "reason": None}),
    ]
    with httpx.Client(base_url=registration.base_url, timeout=30) as client:
        for runner, distance in ((x, "1000m"), (y, "100m")):
            state = client.get(
                f"/applications/{runner['registration_id']}", headers=h.token_header(runner)
            ).json()
            assert (state["status"], state["distance"]) == ("paid", distance)
    # One participant on each distance, no hold left, two in all.
    assert (counters["total"], counters["100m"], counters["1000m"]) == (2, 1, 1)


def test_holds_released_in_opposite_orders_at_once_both_commit(registration, h):
    """Two transactions each release a 1000 m hold and a 100 m hold, one in that order, the
    other the other way round (as two sweeps or payments meeting rows in different orders):
    both commit."""
    with httpx.Client(base_url=registration.base_url, timeout=30) as client:
        first_rows = [
            _paid_with_change(client, h, 1, "100m", "1000m")["distance_change_id"],
            _paid_with_change(client, h, 2, "1000m", "100m")["distance_change_id"],
        ]
        second_rows = [
            _paid_with_change(client, h, 3, "1000m", "100m")["distance_change_id"],
            _paid_with_change(client, h, 4, "100m", "1000m")["distance_change_id"],
        ]

    async def scenario() -> tuple[list[BaseException | None], dict[str, int], dict[str, int]]:
        dsn = _dsn(registration)
        blocker, watch = await asyncpg.connect(dsn), await asyncpg.connect(dsn)
        one, other = await asyncpg.connect(dsn), await asyncpg.connect(dsn)
        try:
            before = await _counters(watch)
            transactions = []
            for connection, rows in ((one, first_rows), (other, second_rows)):
                transaction = connection.transaction()
                await transaction.start()
                for change_id in rows:
                    await connection.execute(
                        "UPDATE distance_changes SET status = 'expired' WHERE id = $1",
                        uuid.UUID(str(change_id)),
                    )
                transactions.append(transaction)
            hold = blocker.transaction()
            await hold.start()
            await blocker.execute(
                "SELECT 1 FROM capacity WHERE scope = $1 FOR UPDATE", BLOCKED_SCOPE
            )
            pids = [one.get_server_pid(), other.get_server_pid()]
            first = asyncio.create_task(transactions[0].commit())
            await _until_queued(watch, [first], pids)
            second = asyncio.create_task(transactions[1].commit())
            await _until_queued(watch, [first, second], pids)
            await hold.rollback()
            outcomes = list(await asyncio.gather(first, second, return_exceptions=True))
            return outcomes, before, await _counters(watch)
        finally:
            for connection in (blocker, watch, one, other):
                await connection.close()

    outcomes, before, after = asyncio.run(scenario())
    assert outcomes == [None, None]
    # Each distance had two participants and two holds; the four holds are released.
    assert (before["100m"], before["1000m"]) == (4, 4)
    assert (after["100m"], after["1000m"], after["total"]) == (2, 2, 4)
