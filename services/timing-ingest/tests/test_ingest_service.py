"""Timing ingest over real HTTP, with a real PostgreSQL and broker: nothing acknowledged is
lost, nothing re-sent is stored or published twice (issue 4, RULES §6)."""

from __future__ import annotations

import asyncio
import socket
import time
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import msgspec
from aiokafka import AIOKafkaConsumer

from copa_contracts import topics
from copa_contracts.envelope import Envelope
from copa_runtime.db import Database
from copa_runtime.kafka import ensure_topics, topics_with_dead_letters
from copa_timing_ingest.formats import ipico
from copa_timing_ingest.publisher import republish_all_reads

RACE_DAY = datetime(2024, 3, 17, 4, 0, tzinfo=UTC)  # 09:00 in Almaty (UTC+5 since 2024-03-01)


def batch(device_seq_start: int, count: int) -> dict[str, list[dict[str, object]]]:
    return {
        "reads": [
            {
                "chip": f"CHIP{n % 50:04d}",
                "at": (RACE_DAY + timedelta(milliseconds=37 * n)).isoformat(),
                "location": "finish",
                "antenna": n % 4 + 1,
                "seq": device_seq_start + n,
                "rssi": -60,
            }
            for n in range(count)
        ]
    }


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def published(
    bootstrap: str,
    topic: str,
    match: dict[str, object],
    expected: int,
    timeout_s: float = 30,
    *,
    distinct: bool = True,
) -> list[Envelope]:
    """Envelopes on ``topic`` whose payload has ``match``, read from the start; waits until
    ``expected`` arrived, then a little longer so that any extra event would show.

    The bus is at-least-once by design (a relay that lost an acknowledgement sends again;
    consumers skip an event id they have), so by default an event id counts once: what is
    checked is which events exist, not how often the broker carried them."""
    # The topic may not exist yet (an API-only process never creates it), and a reader of a
    # missing topic fails instead of finding nothing.
    await ensure_topics(bootstrap, topics_with_dead_letters([topics.topic_by_name(topic)]))
    reader = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest"
    )
    await reader.start()
    found: list[Envelope] = []
    seen: set[uuid.UUID] = set()
    try:
        deadline = time.monotonic() + timeout_s
        settle_until: float | None = None
        while time.monotonic() < deadline:
            for part in (await reader.getmany(timeout_ms=300)).values():
                for record in part:
                    envelope = Envelope.from_bytes(record.value)
                    if all(envelope.payload.get(k) == v for k, v in match.items()) and (
                        not distinct or envelope.event_id not in seen
                    ):
                        seen.add(envelope.event_id)
                        found.append(envelope)
            if len(found) >= expected and settle_until is None:
                settle_until = time.monotonic() + 1.0
            if settle_until is not None and time.monotonic() > settle_until:
                break
    finally:
        await reader.stop()
    return found


async def test_batch_posted_twice_is_stored_once_and_published_once(
    service_process, kafka_bootstrap
):
    ingest = service_process("timing-ingest")
    device = f"reader-{uuid.uuid4().hex[:6]}"
    headers = auth(ingest.token("timing_device", device=device))
    body = batch(1, 500)
    async with httpx.AsyncClient(base_url=ingest.base_url) as client:
        first = (await client.post("/reads", json=body, headers=headers)).json()
        again = (await client.post("/reads", json=body, headers=headers)).json()
    assert (first["new"], first["duplicates"], first["rejected"]) == (500, 0, [])
    assert (again["new"], again["duplicates"]) == (0, 500)
    events = await published(kafka_bootstrap, topics.READS.name, {"device_id": device}, 500)
    assert len(events) == 500
    assert len({e.event_id for e in events}) == 500
    assert all(e.key == e.payload["chip"] for e in events)
    # Keyed by chip, in the order the device produced them (RULES §6).
    by_chip: dict[str, list[int]] = {}
    for envelope in events:
        by_chip.setdefault(envelope.key, []).append(envelope.payload["device_sequence"])
    assert all(seqs == sorted(seqs) for seqs in by_chip.values())


async def test_device_cut_off_mid_post_and_retrying_loses_and_doubles_nothing(
    service_process, kafka_bootstrap
):
    ingest = service_process("timing-ingest")
    device = f"reader-{uuid.uuid4().hex[:6]}"
    token = ingest.token("timing_device", device=device)
    body = msgspec.json.encode(batch(1000, 2000))
    # The device's network drops halfway through the body: nothing is stored.
    with socket.create_connection(("127.0.0.1", ingest.port)) as raw:
        raw.sendall(
            b"POST /reads HTTP/1.1\r\nHost: ingest\r\nContent-Type: application/json\r\n"
            + f"Authorization: Bearer {token}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
            + body[: len(body) // 2]
        )
    # The device dies after sending all of it, before reading the answer: all stored.
    with socket.create_connection(("127.0.0.1", ingest.port)) as raw:
        raw.sendall(
            b"POST /reads HTTP/1.1\r\nHost: ingest\r\nContent-Type: application/json\r\n"
            + f"Authorization: Bearer {token}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        raw.shutdown(socket.SHUT_WR)
    await asyncio.sleep(1.0)
    # It comes back and re-sends everything: only what was missing is new.
    async with httpx.AsyncClient(base_url=ingest.base_url) as client:
        retry = (await client.post("/reads", content=body, headers=auth(token))).json()
        devices = (await client.get("/devices", headers=auth(ingest.token("organizer")))).json()
    assert retry["new"] + retry["duplicates"] == 2000
    mine = next(d for d in devices if d["id"] == device)
    assert mine["reads_total"] == 2000
    events = await published(kafka_bootstrap, topics.READS.name, {"device_id": device}, 2000)
    assert len(events) == 2000
    assert len({e.event_id for e in events}) == 2000


async def test_service_killed_between_storing_and_publishing_publishes_on_restart(
    service_process, kafka_bootstrap
):
    # The API tier alone stores and answers; no relay runs to publish.
    ingest = service_process("timing-ingest", role="api")
    device = f"reader-{uuid.uuid4().hex[:6]}"
    headers = auth(ingest.token("timing_device", device=device))
    async with httpx.AsyncClient(base_url=ingest.base_url) as client:
        answer = (await client.post("/reads", json=batch(1, 300), headers=headers)).json()
    assert answer["new"] == 300
    ingest.kill()
    assert (
        await published(kafka_bootstrap, topics.READS.name, {"device_id": device}, 1, timeout_s=2)
        == []
    )
    ingest.start(role="all")  # restarted, the relay finds the stored events and sends them
    events = await published(
        kafka_bootstrap, topics.READS.name, {"device_id": device}, 300, timeout_s=90
    )
    assert len({e.event_id for e in events}) == len(events) == 300, ingest.log_path.read_text()[
        -4000:
    ]


async def test_raw_ipico_lines_bad_checksum_reported_good_lines_kept(
    service_process, kafka_bootstrap
):
    ingest = service_process("timing-ingest")
    device = f"ipico-{uuid.uuid4().hex[:6]}"
    headers = auth(ingest.token("timing_device", device=device))
    local = datetime(2024, 3, 17, 9, 0, 1)  # the reader's clock: Almaty local time
    lines = [ipico.build_line(f"0000000123{n:02d}", local + timedelta(seconds=n)) for n in range(5)]
    broken = lines[2][:-2] + ("00" if not lines[2].endswith("00") else "01")
    posted = "\r\n".join([lines[0], lines[1], broken, lines[3], lines[4], lines[1]]) + "\r\n"
    async with httpx.AsyncClient(base_url=ingest.base_url) as client:
        answer = (
            await client.post(
                "/reads/raw", params={"format": "ipico"}, content=posted, headers=headers
            )
        ).json()
        rejected = (
            await client.get(f"/devices/{device}/rejected", headers=auth(ingest.token("judge")))
        ).json()
    assert answer["new"] == 4
    assert answer["duplicates"] == 1  # line 6 repeats line 2
    assert [r["line"] for r in answer["rejected"]] == [3]
    assert "checksum" in answer["rejected"][0]["reason"]
    assert rejected[0]["line"] == 3
    events = await published(kafka_bootstrap, topics.READS.name, {"device_id": device}, 4)
    first = min(events, key=lambda e: e.payload["read_at"])
    assert first.payload["read_at"].startswith("2024-03-17T04:00:01")  # UTC+5 after 2024-03-01


async def test_zone_less_json_times_are_read_in_the_device_zone(service_process, kafka_bootstrap):
    ingest = service_process("timing-ingest")
    device = f"reader-{uuid.uuid4().hex[:6]}"
    async with httpx.AsyncClient(base_url=ingest.base_url) as client:
        configured = await client.put(
            f"/devices/{device}",
            json={"time_zone": "Europe/Berlin"},
            headers=auth(ingest.token("organizer")),
        )
        assert configured.status_code == 200, configured.text
        body = {"reads": [{"chip": "A1", "at": "2024-03-17T09:00:00.123456", "seq": 1}]}
        answer = await client.post(
            "/reads", json=body, headers=auth(ingest.token("timing_device", device=device))
        )
        reset = await client.put(
            f"/devices/{device}",
            json={"time_zone": None, "timing_point": None},
            headers=auth(ingest.token("organizer")),
        )
    assert answer.json()["new"] == 1
    [event] = await published(kafka_bootstrap, topics.READS.name, {"device_id": device}, 1)
    assert event.payload["read_at"].startswith("2024-03-17T08:00:00.123456")
    assert reset.status_code == 200, reset.text  # null: back to the defaults (RULES §1)
    assert (reset.json()["time_zone"], reset.json()["timing_point"]) == ("Asia/Almaty", "finish")


async def test_bad_reads_are_refused_one_by_one_and_bad_bodies_get_problem_details(
    service_process,
):
    ingest = service_process("timing-ingest")
    device = f"reader-{uuid.uuid4().hex[:6]}"
    headers = auth(ingest.token("timing_device", device=device))
    body = {
        "reads": [
            {"chip": "OK1", "at": "2024-03-17T09:00:00+05:00", "seq": 1},
            {"chip": "", "at": "2024-03-17T09:00:00+05:00"},
            {"chip": "BAD", "at": "2024-13-17T09:00:00+05:00"},
            {"chip": "BAD", "at": "2024-03-17T09:00:00+05:00", "antenna": "two"},
            {"chip": "OK2", "at": "2024-03-17T09:00:01+05:00", "seq": 2},
        ]
    }
    async with httpx.AsyncClient(base_url=ingest.base_url) as client:
        answer = (await client.post("/reads", json=body, headers=headers)).json()
        malformed = await client.post("/reads", content=b'{"reads": [', headers=headers)
        too_many = await client.post("/reads", json={"reads": [{}] * 10_001}, headers=headers)
        organizer = await client.post("/reads", json=body, headers=auth(ingest.token("organizer")))
        no_device = await client.post(
            "/reads", json=body, headers=auth(ingest.token("timing_device"))
        )
    assert answer["new"] == 2
    assert [r["line"] for r in answer["rejected"]] == [2, 3, 4]
    assert malformed.status_code == 400
    assert malformed.headers["content-type"] == "application/problem+json"
    assert too_many.status_code == 413
    assert organizer.status_code == 403
    assert no_device.status_code == 403


LIF = (
    "12,1,2,100m Men 18-34,+0.4,m/s,,,,,100,09:30:00.000\r\n"
    "1,17,4,Sadykov,Arman,Almaty RC,10.234,,,0.145\r\n"
    "2,23,5,Ivanov,Pavel,,10.240,,,0.160\r\n"
    ",31,3,Bekov,Dias,,,,,\r\n"
    "DNF,44,6,Ospanov,Yerlan,,,,,\r\n"
)


async def test_start_signal_and_photo_finish_file_are_stored_and_published_once(
    service_process, kafka_bootstrap
):
    ingest = service_process("timing-ingest")
    race_id = uuid.uuid4()
    device = f"lynx-{uuid.uuid4().hex[:6]}"
    headers = auth(ingest.token("timing_device", device=device))
    fired = "2024-03-17T09:30:00.001234+05:00"
    async with httpx.AsyncClient(base_url=ingest.base_url) as client:
        start = (
            await client.post(f"/races/{race_id}/start", json={"fired_at": fired}, headers=headers)
        ).json()
        start_again = (
            await client.post(f"/races/{race_id}/start", json={"fired_at": fired}, headers=headers)
        ).json()
        lif = (
            await client.post(
                f"/races/{race_id}/photo-finish",
                content=LIF,
                params={"file_name": "012-1-02.lif"},
                headers=headers,
            )
        ).json()
        lif_again = (
            await client.post(f"/races/{race_id}/photo-finish", content=LIF, headers=headers)
        ).json()
    assert (start["new"], start_again["new"]) == (True, False)
    assert (lif["new"], lif_again["new"], lif["athletes"]) == (True, False, 4)
    [signal] = await published(kafka_bootstrap, topics.STARTS.name, {"race_id": str(race_id)}, 1)
    assert signal.payload["fired_at"].startswith("2024-03-17T04:30:00.001234")
    [result] = await published(
        kafka_bootstrap, topics.PHOTO_FINISH.name, {"race_id": str(race_id)}, 1
    )
    lines = result.payload["lines"]
    assert [
        (line["place"], line["competitor_id"], line["time_us"], line["status"]) for line in lines
    ] == [
        (1, "17", 10_234_000, "finished"),
        (2, "23", 10_240_000, "finished"),
        (None, "31", None, "finished"),
        (None, "44", None, "DNF"),
    ]
    assert lines[0]["time_text"] == "10.234"


async def test_replay_republishes_a_device_reads_with_the_same_event_ids(
    service_process, kafka_bootstrap
):
    ingest = service_process("timing-ingest")
    device = f"reader-{uuid.uuid4().hex[:6]}"
    async with httpx.AsyncClient(base_url=ingest.base_url) as client:
        await client.post(
            "/reads", json=batch(1, 100), headers=auth(ingest.token("timing_device", device=device))
        )
        # A replay is for reads already on the bus (a recomputation, a rebuilt broker); reads
        # not yet published go out once anyway. So let the first publication happen first.
        await published(kafka_bootstrap, topics.READS.name, {"device_id": device}, 100)
        replay = (
            await client.post(f"/devices/{device}/replay", headers=auth(ingest.token("organizer")))
        ).json()
    assert replay["republished"] == 100
    events = await published(
        kafka_bootstrap, topics.READS.name, {"device_id": device}, 200, distinct=False
    )
    assert len(events) >= 200
    assert len({e.event_id for e in events}) == 100  # same ids: consumers apply each once


async def test_a_read_committed_after_later_reads_is_still_published(
    service_process, kafka_bootstrap
):
    """The reads table is the reads' outbox, published behind a cursor in commit order: a
    transaction that took its row ids first and commits last must not be skipped."""
    ingest = service_process("timing-ingest")
    dsn = ingest.database_url.replace("postgresql+asyncpg://", "postgresql://")
    slow = await asyncpg.connect(dsn)
    try:
        held = slow.transaction()
        await held.start()
        await slow.execute(
            "INSERT INTO reads (device_id, dedupe_key, event_id, chip, read_at, kind, "
            "timing_point) VALUES ('slow-1', 'k1', $1, 'SLOW0001', $2, 'read', 'finish')",
            uuid.uuid4(),
            RACE_DAY,
        )
        device = f"reader-{uuid.uuid4().hex[:6]}"
        async with httpx.AsyncClient(base_url=ingest.base_url) as client:
            await client.post(
                "/reads",
                json=batch(1, 50),
                headers=auth(ingest.token("timing_device", device=device)),
            )
        # Later reads are not published past the open transaction (it may hold lower ids)...
        assert (
            await published(kafka_bootstrap, topics.READS.name, {"device_id": device}, 1, 3)
        ) == []
        await held.commit()
    finally:
        await slow.close()
    # ...and once it commits, its read and the later ones all go out.
    assert len(await published(kafka_bootstrap, topics.READS.name, {"device_id": device}, 50)) == 50
    [slow_read] = await published(kafka_bootstrap, topics.READS.name, {"device_id": "slow-1"}, 1)
    assert slow_read.key == "SLOW0001"


async def test_every_stored_read_can_be_sent_again_to_a_rebuilt_broker(
    service_process, broker_factory
):
    """An embedded broker keeps nothing: after it restarts empty, the reads come back from
    the store with their own event ids (ARCHITECTURE.md: the ingest store is the truth)."""
    broker = broker_factory()
    ingest = service_process("timing-ingest", role="api")
    ingest.bootstrap = broker.bootstrap
    ingest.stop()
    ingest.start(role="all")
    device = f"reader-{uuid.uuid4().hex[:6]}"
    async with httpx.AsyncClient(base_url=ingest.base_url) as client:
        await client.post(
            "/reads", json=batch(1, 40), headers=auth(ingest.token("timing_device", device=device))
        )
    first = await published(broker.bootstrap, topics.READS.name, {"device_id": device}, 40)
    broker.stop()
    broker.start()  # the same address, nothing on it
    db = Database(ingest.database_url, service="timing-ingest")
    try:
        async with db.unit_of_work() as session:
            assert await republish_all_reads(session) == 40
    finally:
        await db.dispose()
    again = await published(broker.bootstrap, topics.READS.name, {"device_id": device}, 40, 90)
    assert {e.event_id for e in again} == {e.event_id for e in first}
