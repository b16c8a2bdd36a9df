"""Timing ingest under faults (issue 8): killed while devices post, its database restarted
while reads arrive, a flood of malformed reads from one device.

Each test has a broker of its own, so that the number of reads on `timing.reads.v1` is
exactly this test's.
"""

from __future__ import annotations

import asyncio
import uuid

import httpx

from copa_contracts import topics

DEVICES = 3
BATCHES = 40
SIZE = 100


async def _bus_reads(chaos, bootstrap: str) -> dict[str, dict[int, set[uuid.UUID]]]:
    """device -> device sequence -> the event ids it was published under."""
    found: dict[str, dict[int, set[uuid.UUID]]] = {}
    for envelope in await chaos.read_topic(bootstrap, topics.READS.name):
        payload = envelope.payload
        by_seq = found.setdefault(payload["device_id"], {})
        by_seq.setdefault(payload["device_sequence"], set()).add(envelope.event_id)
    return found


async def _stored(chaos, ingest, device: str) -> list[int]:
    rows = await chaos.query(ingest, "SELECT seq FROM reads WHERE device_id = $1", device)
    return [row["seq"] for row in rows]


async def _all_published(chaos, bootstrap: str, expected: int):
    async def check():
        bus = await _bus_reads(chaos, bootstrap)
        return bus if sum(len(by_seq) for by_seq in bus.values()) >= expected else None

    return await chaos.eventually(check, f"{expected} distinct reads on the bus", 120)


def _assert_every_read_stored_once_and_published_once(devices, stored, bus) -> None:
    wanted = set(range(1, BATCHES * SIZE + 1))
    for name, device in devices.items():
        assert device.acknowledged == BATCHES
        assert all(a["new"] + a["duplicates"] == SIZE for a in device.answers.values())
        assert sorted(stored[name]) == sorted(wanted), name  # each read once, none missing
        assert set(bus[name]) == wanted, name  # each read reached the bus...
        doubled = {seq: ids for seq, ids in bus[name].items() if len(ids) != 1}
        assert doubled == {}, doubled  # ...under one event id


async def test_killed_while_devices_post_every_acknowledged_read_is_stored_and_published_once(
    chaos, start_service, broker_factory
):
    """SIGKILL while three devices post 4,000 reads each. Posts during the outage fail (the
    connection is refused or cut) and each device sends the same batch again until it is
    acknowledged; a batch stored just before the kill but never answered comes back as
    duplicates. Expected: every read stored exactly once (the device's counters agree), and
    on the bus every read exactly once as an event (the distinct read ids on the topic equal
    the reads; a read re-sent never became a second event)."""
    broker = broker_factory()
    ingest = start_service("timing-ingest", broker.bootstrap)
    names = [f"finish-{n}-{uuid.uuid4().hex[:4]}" for n in range(DEVICES)]
    devices = {
        name: chaos.Device(
            ingest.base_url,
            ingest.token("timing_device", device=name),
            chaos.device_batches(BATCHES, SIZE),
        )
        for name in names
    }
    killed = asyncio.Event()

    def kill_a_quarter_of_the_way() -> None:
        # The kill lands the moment a quarter of the batches is acknowledged, with the other
        # devices' posts in flight, however fast this machine answers.
        if sum(d.acknowledged for d in devices.values()) == DEVICES * BATCHES // 4:
            ingest.kill()
            killed.set()

    for device in devices.values():
        device.on_answer = kill_a_quarter_of_the_way
    posting = [asyncio.create_task(d.run()) for d in devices.values()]
    await killed.wait()
    await asyncio.sleep(1.0)  # the devices keep trying meanwhile
    ingest.start()
    await asyncio.gather(*posting)

    failed = sum(sum(d.failures.values()) for d in devices.values())
    assert failed > 0, "no post failed: the kill did not land while devices were posting"
    stored = {name: await _stored(chaos, ingest, name) for name in names}
    counters = await chaos.query(
        ingest, "SELECT id, reads_total FROM devices WHERE id = ANY($1)", names
    )
    assert {r["id"]: r["reads_total"] for r in counters} == dict.fromkeys(names, BATCHES * SIZE)
    bus = await _all_published(chaos, broker.bootstrap, DEVICES * BATCHES * SIZE)
    _assert_every_read_stored_once_and_published_once(devices, stored, bus)


async def test_database_restarted_while_reads_arrive_refuses_with_503_and_loses_nothing(
    chaos, start_service, broker_factory, restartable_postgres
):
    """Timing ingest on a PostgreSQL of its own, restarted while three devices post. A post
    that meets the restart is refused with a retryable problem (503, problem+json,
    Retry-After), never a 500 and never a 200 for reads that were not stored; the devices
    send those again. Expected: every acknowledged read stored once and published once."""
    broker = broker_factory()
    ingest = start_service("timing-ingest", broker.bootstrap, server=restartable_postgres)
    names = [f"finish-{n}-{uuid.uuid4().hex[:4]}" for n in range(DEVICES)]
    devices = {
        name: chaos.Device(
            ingest.base_url,
            ingest.token("timing_device", device=name),
            chaos.device_batches(BATCHES, SIZE),
            retry_s=0.05,
        )
        for name in names
    }
    posting = [asyncio.create_task(d.run()) for d in devices.values()]

    async def under_way() -> bool:
        return sum(d.acknowledged for d in devices.values()) >= DEVICES * BATCHES // 4

    await chaos.eventually(under_way, "the devices to be posting")
    await asyncio.to_thread(restartable_postgres.restart)
    await asyncio.gather(*posting)

    refusals = [r for d in devices.values() for r in d.refusals]
    statuses = {r.status_code for r in refusals}
    assert refusals, "no post met the restart"
    assert statuses == {503}, [(r.status_code, r.text[:300]) for r in refusals]
    for refusal in refusals:
        assert refusal.headers["content-type"] == "application/problem+json"
        assert refusal.headers["retry-after"] == "1"
    assert not any(d.failures[k] for d in devices.values() for k in d.failures if k != "503")
    stored = {name: await _stored(chaos, ingest, name) for name in names}
    bus = await _all_published(chaos, broker.bootstrap, DEVICES * BATCHES * SIZE)
    _assert_every_read_stored_once_and_published_once(devices, stored, bus)


async def test_a_flood_of_malformed_reads_is_refused_read_by_read_and_harms_nobody(
    chaos, start_service, broker_factory
):
    """One device posts 30 batches of which two reads in three are malformed (bad chip,
    instant, kind, field, number), plus bodies that are not a batch at all, while a second
    device posts valid reads. Expected: every bad read is refused with its line and reason in
    the answer and kept in the device's rejected lines; every bad body gets a problem+json
    (400/413/422); the valid reads in the same posts are stored and published, exactly once
    each; the other device's reads are all stored and published; nothing is a 5xx."""
    broker = broker_factory()
    ingest = start_service("timing-ingest", broker.bootstrap)
    flooder, neighbour = f"flood-{uuid.uuid4().hex[:6]}", f"calm-{uuid.uuid4().hex[:6]}"
    bad_reads = [
        {"chip": "", "at": "2024-03-17T09:00:00+05:00"},
        {"chip": "X" * 65, "at": "2024-03-17T09:00:00+05:00"},
        {"chip": "BAD", "at": "2024-13-17T09:00:00+05:00"},
        {"chip": "BAD", "at": 17},
        {"chip": "BAD", "at": "2024-03-17T09:00:00+05:00", "kind": "teleport"},
        {"chip": "BAD", "at": "2024-03-17T09:00:00+05:00", "antenna": "two"},
        {"chip": "BAD", "at": "2024-03-17T09:00:00+05:00", "seq": -1},
        {"chip": "BAD", "at": "2024-03-17T09:00:00+05:00", "seq": 2**63},
        {"chip": "BAD\u0000", "at": "2024-03-17T09:00:00+05:00"},
        {"chip": "BAD", "at": "2024-03-17T09:00:00+05:00", "colour": "red"},
        "not a read",
        None,
    ]
    batches = []
    for n in range(30):
        reads: list[object] = []
        for i in range(30):
            seq = n * 30 + i + 1
            if i % 3 == 0:
                reads.append(chaos.read_batch(seq, 1)["reads"][0])
            else:
                reads.append(bad_reads[(n + i) % len(bad_reads)])
        batches.append({"reads": reads})
    bodies = [b"", b"{", b"[]", b'{"reads": {}}', b'{"reads": [' + b"{}," * 10_000 + b"{}]}"]
    calm = chaos.Device(
        ingest.base_url,
        ingest.token("timing_device", device=neighbour),
        chaos.device_batches(20, 100),
    )
    headers = chaos.auth(ingest.token("timing_device", device=flooder))

    async def flood() -> tuple[list[dict], list[httpx.Response]]:
        async with httpx.AsyncClient(base_url=ingest.base_url, timeout=30) as client:
            answers = []
            for body in batches:
                answer = await client.post("/reads", json=body, headers=headers)
                assert answer.status_code == 200, answer.text
                answers.append(answer.json())
            refused = [await client.post("/reads", content=b, headers=headers) for b in bodies]
        return answers, refused

    (answers, refused), _ = await asyncio.gather(flood(), calm.run())

    for body, answer in zip(batches, answers, strict=True):
        bad_lines = [i + 1 for i, r in enumerate(body["reads"]) if i % 3]
        assert [r["line"] for r in answer["rejected"]] == bad_lines
        assert all(r["reason"] for r in answer["rejected"])
        assert (answer["new"], answer["duplicates"], answer["received"]) == (10, 0, 30)
    assert [r.status_code for r in refused] == [400, 400, 422, 422, 413]
    assert all(r.headers["content-type"] == "application/problem+json" for r in refused)
    assert all(r.json()["title"] and r.json()["status"] == r.status_code for r in refused)
    [row] = await chaos.query(
        ingest,
        "SELECT reads_total, rejected_total, (SELECT count(*) FROM rejected_lines "
        "WHERE device_id = $1) AS kept FROM devices WHERE id = $1",
        flooder,
    )
    assert (row["reads_total"], row["rejected_total"], row["kept"]) == (300, 600, 600)
    good = {n * 30 + i + 1 for n in range(30) for i in range(0, 30, 3)}
    assert set(await _stored(chaos, ingest, flooder)) == good
    assert sorted(await _stored(chaos, ingest, neighbour)) == list(range(1, 2001))
    assert calm.failures == {}
    published = await chaos.read_topic(broker.bootstrap, topics.READS.name)
    seqs: dict[str, list[int]] = {}
    for envelope in published:
        seqs.setdefault(envelope.payload["device_id"], []).append(
            envelope.payload["device_sequence"]
        )
    # Exactly once each on the broker: nothing here crashed, so nothing was sent twice.
    assert sorted(seqs[flooder]) == sorted(good)
    assert sorted(seqs[neighbour]) == list(range(1, 2001))
    assert set(seqs) == {flooder, neighbour}


async def test_a_commit_that_fails_is_never_acknowledged(chaos, start_service, kafka_bootstrap):
    """The answer comes after the commit. Here PostgreSQL refuses the commit itself, as when
    the connection is lost during COMMIT (a deferred trigger raises SQLSTATE 08006 at commit
    time). Expected: the device gets a 503 problem, not a 200 for reads that are not there;
    nothing is stored; it sends the same batch again once the database is well, and the reads
    are stored once."""
    ingest = start_service("timing-ingest", kafka_bootstrap, role="api")
    await chaos.query(
        ingest,
        "CREATE FUNCTION refuse_commit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "RAISE EXCEPTION 'connection lost at commit' USING ERRCODE = '08006'; END $$",
    )
    await chaos.query(
        ingest,
        "CREATE CONSTRAINT TRIGGER refuse_at_commit AFTER INSERT ON reads "
        "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION refuse_commit()",
    )
    device = f"finish-{uuid.uuid4().hex[:6]}"
    headers = chaos.auth(ingest.token("timing_device", device=device))
    body = chaos.read_batch(1, 50)
    async with httpx.AsyncClient(base_url=ingest.base_url, timeout=30) as client:
        refused = await client.post("/reads", json=body, headers=headers)
        assert await _stored(chaos, ingest, device) == []
        assert refused.status_code == 503, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
        await chaos.query(ingest, "DROP TRIGGER refuse_at_commit ON reads")
        again = await client.post("/reads", json=body, headers=headers)
    assert again.status_code == 200, again.text
    assert (again.json()["new"], again.json()["duplicates"]) == (50, 0)
    assert sorted(await _stored(chaos, ingest, device)) == list(range(1, 51))
