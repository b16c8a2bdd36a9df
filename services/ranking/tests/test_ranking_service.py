"""Ranking as a service, over a real broker, a real PostgreSQL and real HTTP (issue 5).

A whole 100 m group of 14 goes from participant events and raw reads to official standings:
the draw (two heats and a final) and an audited re-draw before the start, start signals, chip
reads several per crossing, a DNS, the final decided by a photo-finish file, the chief judge's
confirmations; then a protest upheld with a DQ changes the standings and publishes a correction,
and the old version stays in the history; a BIB transfer found out afterwards (reg 7.11)
disqualifies the runner in both races, live on the results stream; replaying every input event
changes nothing.

The test has a broker of its own, so that no other test's participants join the group.
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import hashlib
import io
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from copa.embedded.service_process import ServiceProcess
from copa_contracts import topics
from copa_contracts.common import Contact
from copa_contracts.envelope import Envelope, Event
from copa_contracts.participants import (
    CategoryChanged,
    KitIssued,
    ParticipantBanned,
    ParticipantPaid,
    RelayMember,
    RelayMemberChip,
    RelayTeamKitIssued,
    RelayTeamRegistered,
)
from copa_contracts.timing import ChipRead, PhotoFinishLine, PhotoFinishResultParsed, StartSignal
from copa_ranking import race_day
from copa_ranking.engine import RaceGroup
from copa_runtime.kafka import ensure_topics, make_producer

BIBS = list(range(8801, 8815))  # 14 runners: 100 m, men, 18-34
DNS_BIB = 8814
TRANSFERRED_BIB = 8803  # ran the heat and the final under a transferred BIB (reg 7.11)
CACHE_CONTROL = "public, max-age=1, stale-while-revalidate=5"
RACE_CSV_HEADER = "place,bib,name,club,category,lane,time,net_time,status,qualified,time_source"


def run_time_us(bib: int) -> int:
    """Bib 8801 runs 11.00 s, each next one 0.1 s slower."""
    return 11_000_000 + (bib - 8801) * 100_000


async def wait_for(check: Callable[[], Awaitable[Any]], what: str, timeout_s: float = 60) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        value = await check()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.2)


class Bus:
    """Produce input events and read what ranking published, on the test's own broker."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        self.producer = make_producer(bootstrap, client_id="ranking-test")
        self.sent: list[tuple[str, Envelope]] = []

    async def start(self) -> None:
        await ensure_topics(self.bootstrap, [(t.name, t.partitions) for t in topics.ALL_TOPICS])
        await self.producer.start()

    async def send(self, topic: topics.Topic, event: Event, key: str) -> Envelope:
        envelope = Envelope.wrap(event, producer="test", key=key)
        await self.producer.send_and_wait(topic.name, envelope.to_bytes(), key=key.encode())
        self.sent.append((topic.name, envelope))
        return envelope

    async def resend_all(self) -> None:
        for name, envelope in self.sent:
            await self.producer.send_and_wait(name, envelope.to_bytes(), key=envelope.key.encode())

    async def published(self, topic: topics.Topic) -> list[Envelope]:
        """Every event on ``topic``, once per event id (the bus is at-least-once)."""
        consumer = AIOKafkaConsumer(
            topic.name,
            bootstrap_servers=self.bootstrap,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            group_id=None,
        )
        await consumer.start()
        try:
            seen: dict[uuid.UUID, Envelope] = {}
            while True:
                batch = await consumer.getmany(timeout_ms=500)
                if not batch:
                    break
                for records in batch.values():
                    for record in records:
                        envelope = Envelope.from_bytes(record.value)
                        seen.setdefault(envelope.event_id, envelope)
            return list(seen.values())
        finally:
            await consumer.stop()

    async def stop(self) -> None:
        await self.producer.stop()


class ServerSentEvents:
    """A partner page's view of ``/public/stream``: one event (or comment) at a time."""

    def __init__(self, response: httpx.Response) -> None:
        assert response.headers["content-type"].startswith("text/event-stream")
        self.lines: AsyncIterator[str] = response.aiter_lines()

    async def next(self, timeout_s: float = 60) -> dict[str, str]:
        return await asyncio.wait_for(self._next(), timeout_s)

    async def _next(self) -> dict[str, str]:
        fields: dict[str, str] = {}
        async for line in self.lines:
            if not line:
                if fields:
                    return fields
                continue
            name, _, value = line.partition(":")
            fields[name or "comment"] = value.strip()
        raise AssertionError("the stream ended")


def contact(bib: int) -> Contact:
    return Contact(
        first_name=f"Runner{bib}", last_name="Test", email=f"r{bib}@example.kz", language="en"
    )


async def test_a_100m_group_goes_from_reads_to_official_standings_and_a_protest_changes_them(
    postgres_server, broker_factory, tmp_path: Path, edition_today: str
) -> None:
    broker = broker_factory()
    database = f"ranking_flow_{uuid.uuid4().hex[:8]}"
    url = await postgres_server.create_database(database)
    service = ServiceProcess("ranking", url, broker.bootstrap, tmp_path / "ranking.log", "all")
    bus = Bus(broker.bootstrap)
    await bus.start()
    service.start()
    try:
        await _race_day(service, bus, edition_today, url)
    finally:
        service.stop()
        await bus.stop()
        await postgres_server.drop_database(database)


async def _race_day(service: ServiceProcess, bus: Bus, edition: str, database_url: str) -> None:
    organizer = {"Authorization": f"Bearer {service.token('organizer')}"}
    judge = {"Authorization": f"Bearer {service.token('judge')}"}
    chief = {"Authorization": f"Bearer {service.token('chief_judge')}"}
    participants = {bib: uuid.uuid4() for bib in BIBS}
    chips = {bib: f"CHIP{bib}{uuid.uuid4().hex[:6]}" for bib in BIBS}
    now = dt.datetime.now(dt.UTC)
    for bib in BIBS:
        common = {
            "participant_id": participants[bib],
            "registration_number": f"R-{bib:06d}",
            "edition": edition,
            "contact": contact(bib),
        }
        await bus.send(
            topics.PARTICIPANTS,
            ParticipantPaid(
                **common,
                distance="100m",
                gender="M",
                age_category="18-34",
                bib=bib,
                amount_kzt=5000,
                payment_method="online",
                paid_at=now,
            ),
            str(participants[bib]),
        )
        await bus.send(
            topics.PARTICIPANTS,
            KitIssued(
                **common,
                bib=bib,
                chip=chips[bib],
                chip_pre_paired=False,
                collected_by_proxy=False,
                issued_at=now,
            ),
            str(participants[bib]),
        )

    async with httpx.AsyncClient(base_url=service.base_url, timeout=30) as http:

        async def drawn() -> dict[str, Any] | None:
            answer = await http.post("/organizer/draw", json={"seed": "flow"}, headers=organizer)
            if answer.status_code == 409 and "no confirmed starters" in answer.text:
                return None
            if answer.status_code == 200 and answer.json()["races"] == 3:
                return answer.json()
            raise AssertionError(answer.text)

        # The roster fills from the bus; the draw waits for all 14 starters to be there.
        async def roster_complete() -> bool:
            answer = await http.get("/public/participants", params={"name": "Test"})
            return answer.status_code == 200 and answer.json()["total"] == len(BIBS)

        await wait_for(roster_complete, "the roster")
        draw = await wait_for(drawn, "the draw")
        assert [(r["round"], r["heat_number"]) for r in draw["schedule"]] == [
            ("heat", 1),
            ("heat", 2),
            ("final", 1),
        ]
        assert draw["fits"]
        assert draw["report"] == ""
        assert (await http.post("/organizer/schedule/publish", headers=organizer)).json() == {
            "published": 2
        }
        heats = (await http.get("/public/races")).json()
        assert [h["round"] for h in heats] == ["heat", "heat"]

        # --- a re-draw of the group before it starts (RULES §5: audited) ----------------------
        async def start_lists() -> list[list[tuple[int, int]]]:
            pages = [(await http.get(f"/public/races/{h['race_id']}")).json() for h in heats]
            return [[(p["bib"], p["lane"]) for p in page["start_list"]] for page in pages]

        drawn_first = await start_lists()
        redraw_reason = "two runners were given lane 4 on the printed list"
        redrawn = await http.post(
            "/organizer/groups/100m/M/18-34/redraw",
            json={"reason": redraw_reason, "seed": "flow-again"},
            headers=organizer,
        )
        assert redrawn.status_code == 200, redrawn.text
        assert sorted(b for race in redrawn.json()["races"] for b in race) == BIBS
        drawn_again = await start_lists()
        assert drawn_again != drawn_first
        assert [[bib for bib, _ in race] for race in drawn_again] == redrawn.json()["races"]

        # --- round 1: a start signal, three reads per crossing, a DNS ---------------------
        gun = now.replace(microsecond=0) + dt.timedelta(minutes=1)
        for index, heat in enumerate(heats):
            page = (await http.get(f"/public/races/{heat['race_id']}")).json()
            lanes = [p["lane"] for p in page["start_list"]]
            assert len(page["start_list"]) == 7
            assert sorted(lanes) == sorted(set(lanes))
            fired = gun + dt.timedelta(minutes=10 * index)
            await bus.send(
                topics.STARTS,
                StartSignal(
                    race_id=uuid.UUID(heat["race_id"]),
                    signal_id=uuid.uuid4(),
                    fired_at=fired,
                    device_id="start-1",
                    source="start_system",
                ),
                heat["race_id"],
            )
            for entry in page["start_list"]:
                bib = entry["bib"]
                if bib == DNS_BIB:
                    continue
                finish = fired + dt.timedelta(microseconds=run_time_us(bib))
                for n in range(3):
                    await bus.send(topics.READS, _read(chips[bib], finish, n), chips[bib])
            if index == 0:
                # A runner of heat 2 crosses the line while heat 1 runs, and a chip nobody
                # wears is read: both go to the judges (reg 11.3.5, 8.2).
                other = next(b for b in BIBS if b not in [p["bib"] for p in page["start_list"]])
                stray_at = fired + dt.timedelta(seconds=5)
                await bus.send(topics.READS, _read(chips[other], stray_at, 0), chips[other])
                await bus.send(topics.READS, _read("NOBODY-1", stray_at, 0), "NOBODY-1")

                wanted = {("chip_not_in_race", chips[other]), ("unknown_chip", "NOBODY-1")}

                async def doubts(wanted: set[tuple[str, str]] = wanted) -> bool:
                    queue = (await http.get("/judges/exceptions", headers=judge)).json()
                    return wanted <= {(e["kind"], e["chip"]) for e in queue}

                await wait_for(doubts, "the judges' exceptions")

        async def heat_results_in() -> bool:
            for heat in heats:
                answer = await http.get(f"/public/races/{heat['race_id']}")
                page = answer.json()
                assert "results" in page, (answer.status_code, page)  # say what came instead
                finishers = [r for r in page["results"] if r["place"] is not None]
                expected = 6 if any(p["bib"] == DNS_BIB for p in page["start_list"]) else 7
                if len(finishers) != expected:
                    return False
            return True

        # Ranking is killed mid-race and restarted: nothing read is lost (issue 8).
        service.kill()
        service.start()
        await wait_for(heat_results_in, "round-1 results from the reads")
        too_late = await http.post(
            "/organizer/groups/100m/M/18-34/redraw",
            json={"reason": "once more", "seed": "late"},
            headers=organizer,
        )
        assert too_late.status_code == 409, too_late.text
        assert "has started; no re-draw" in too_late.json()["detail"]
        # The audit has the one re-draw, with who and why; the refusal changed nothing.
        assert await _redraws(database_url) == [("test", redraw_reason)]
        dns_heat = None
        for heat in heats:
            page = (await http.get(f"/public/races/{heat['race_id']}")).json()
            if any(p["bib"] == DNS_BIB for p in page["start_list"]):
                dns_heat = heat
        assert dns_heat is not None
        refused = await http.post(f"/judges/races/{dns_heat['race_id']}/confirm", headers=chief)
        assert refused.status_code == 409, refused.text  # the DNS runner has no result yet
        assert refused.headers["content-type"].startswith("application/problem+json")
        ruling = await http.post(
            f"/judges/races/{dns_heat['race_id']}/decisions",
            json={"kind": "ruling", "bib": DNS_BIB, "status": "DNS", "reason": "did not report"},
            headers=judge,
        )
        assert ruling.status_code == 200, ruling.text
        assert (
            await http.post(f"/judges/races/{heats[0]['race_id']}/confirm", headers=judge)
        ).status_code == 403  # only the chief judge confirms (reg 15.2)
        for heat in heats:
            confirmed = await http.post(f"/judges/races/{heat['race_id']}/confirm", headers=chief)
            assert confirmed.status_code == 200, confirmed.text

        # --- the final: drawn from the 8 fastest, decided by the photo-finish file ----------
        async def final_published() -> dict[str, Any] | None:
            races = (await http.get("/public/races", params={"round": "final"})).json()
            return races[0] if races else None

        final = await wait_for(final_published, "the final's start list")
        final_page = (await http.get(f"/public/races/{final['race_id']}")).json()
        finalists = {p["bib"]: p["lane"] for p in final_page["start_list"]}
        assert sorted(finalists) == BIBS[:8]  # reg 11.3.2: the 8 fastest by time
        assert {finalists[b] for b in BIBS[:4]} == {3, 4, 5, 6}  # RULES §5 lane table
        for heat in heats:
            page = (await http.get(f"/public/races/{heat['race_id']}")).json()
            for line in page["results"]:
                assert (line["qualified"] == "q") == (line["bib"] in finalists), page["results"]

        # Photo finish: 8808 wins, then 8801...; 8803 and 8802 share a time, the photo
        # separates them.
        order = [8808, 8801, 8803, 8802, 8804, 8805, 8806, 8807]
        times = [10_900_000, 10_950_000, 11_002_000, 11_002_000, 11.1e6, 11.2e6, 11.3e6, 11.4e6]
        lines = tuple(
            PhotoFinishLine(
                place=place,
                competitor_id=str(bib),
                lane=finalists[bib],
                time_us=int(us),
                time_text=f"{us / 1e6:.3f}",
                status="finished",
            )
            for place, (bib, us) in enumerate(zip(order, times, strict=True), start=1)
        )
        final_gun = gun + dt.timedelta(hours=1)
        await bus.send(
            topics.STARTS,
            StartSignal(
                race_id=uuid.UUID(final["race_id"]),
                signal_id=uuid.uuid4(),
                fired_at=final_gun,
                device_id="start-1",
                source="photo_finish",
            ),
            final["race_id"],
        )
        await bus.send(
            topics.PHOTO_FINISH,
            PhotoFinishResultParsed(
                race_id=uuid.UUID(final["race_id"]),
                file_name="final.lif",
                file_sha256=hashlib.sha256(b"final").hexdigest(),
                event_number=1,
                round_number=2,
                heat_number=1,
                wind_text=None,
                lines=lines,
                received_at=final_gun + dt.timedelta(minutes=2),
            ),
            final["race_id"],
        )

        async def final_results() -> list[dict[str, Any]] | None:
            page = (await http.get(f"/public/races/{final['race_id']}")).json()
            placed = [r for r in page["results"] if r["place"] is not None]
            return page["results"] if len(placed) == 8 else None

        results = await wait_for(final_results, "the final's results")
        assert [(r["bib"], r["place"]) for r in results[:4]] == [
            (8808, 1),
            (8801, 2),
            (8803, 3),
            (8802, 4),
        ]
        assert results[2]["time"] == results[3]["time"] == "11.01"  # rounded up (RULES §6)
        assert all(r["time_source"] == "photo_finish" for r in results)
        assert all(r["qualified"] is None for r in results)  # a final qualifies nobody
        confirmed = await http.post(f"/judges/races/{final['race_id']}/confirm", headers=chief)
        assert confirmed.status_code == 200, confirmed.text

        async def official_standings() -> dict[str, Any] | None:
            answer = await http.get("/public/standings/100m/M/18-34")
            if answer.status_code == 200 and answer.json()["status"] == "official":
                return answer.json()
            return None

        standings = await wait_for(official_standings, "official standings")
        assert [e["bib"] for e in standings["entries"][:8]] == order
        assert [e["place"] for e in standings["entries"]] == [*range(1, 14), None]
        assert standings["entries"][8]["bib"] == 8809  # the ninth fastest of round 1
        assert standings["entries"][-1]["status"] == "DNS"
        assert "email" not in str(standings)
        assert "@" not in str(standings)

        # ETag revalidation: 304 while nothing changed.
        first = await http.get("/public/standings/100m/M/18-34", params={"format": "csv"})
        assert first.text.splitlines()[0] == "place,bib,name,club,category,time,status"
        again = await http.get(
            "/public/standings/100m/M/18-34",
            params={"format": "csv"},
            headers={"If-None-Match": first.headers["etag"]},
        )
        assert again.status_code == 304
        assert first.headers["cache-control"] == again.headers["cache-control"] == CACHE_CONTROL

        # Pagination, as the name search pages: `page`, `page_size`, and the total.
        day = await http.get("/public/races")
        assert day.headers["x-total-count"] == "3"
        pages = [
            await http.get("/public/races", params={"page": n, "page_size": 2}) for n in (1, 2)
        ]
        assert [p.json()["total"] for p in pages] == [3, 3]
        assert [p.headers["x-total-count"] for p in pages] == ["3", "3"]
        assert [len(p.json()["items"]) for p in pages] == [2, 1]
        assert pages[0].json()["items"] + pages[1].json()["items"] == day.json()
        second = await http.get(
            "/public/standings/100m/M/18-34", params={"page": 2, "page_size": 5}
        )
        assert second.headers["x-total-count"] == "14"
        assert second.json()["total"] == 14
        assert (second.json()["page"], second.json()["page_size"]) == (2, 5)
        assert second.json()["entries"] == standings["entries"][5:10]
        last = await http.get(
            "/public/standings/100m/M/18-34", params={"format": "csv", "page": 3, "page_size": 5}
        )
        assert [row["bib"] for row in csv.DictReader(io.StringIO(last.text))] == [
            str(e["bib"]) for e in standings["entries"][10:]
        ]

        # --- a protest (reg 17): the winner is disqualified, the standings change ----------
        protester = participants[8801]
        token = service.token("participant", subject=str(protester))
        filed = await http.post(
            "/protests",
            json={
                "full_name": "Runner8801 Test",
                "race_id": final["race_id"],
                "claim": "8808 false-started",
                "evidence_url": "https://video.example/1",
            },
            headers={"Authorization": f"Bearer {token}"},
        )
        assert filed.status_code == 201, filed.text
        wrong_name = await http.post(
            "/protests",
            json={"full_name": "Somebody Else", "claim": "x", "evidence_url": "https://v/2"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert wrong_name.status_code == 422
        assert "full name" in wrong_name.json()["detail"]
        no_grounds = await http.post(
            "/protests",
            json={"full_name": "Runner8801 Test", "claim": "x"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert no_grounds.status_code == 422  # reg 17.2: grounds (photo or video) required
        answered = await http.post(
            f"/judges/protests/{filed.json()['protest_id']}/answer",
            json={
                "decision": "upheld",
                "answer": "The start video shows a false start by 8808.",
                "corrections": [
                    [
                        final["race_id"],
                        {
                            "kind": "ruling",
                            "bib": 8808,
                            "status": "DQ",
                            "rule": "TR16.8",
                            "reason": "protest upheld: false start",
                        },
                    ]
                ],
            },
            headers=chief,
        )
        assert answered.status_code == 200, answered.text

        async def corrected() -> dict[str, Any] | None:
            answer = await http.get("/public/standings/100m/M/18-34")
            body = answer.json()
            return body if body["entries"][0]["bib"] == 8801 else None

        standings = await wait_for(corrected, "the corrected standings")
        assert [e["bib"] for e in standings["entries"][:3]] == [8801, 8803, 8802]
        assert standings["status"] == "official"
        dq = next(e for e in standings["entries"] if e["bib"] == 8808)
        assert dq["place"] is None
        assert dq["status"] == "DQ"
        history = (await http.get(f"/public/races/{final['race_id']}/history")).json()
        kinds = [h["event_type"] for h in history]
        assert kinds[-2:] == ["race-results.official", "race-results.corrected"]
        assert history[-2]["results"][0]["bib"] == 8808  # the old version stays visible

        # The standings' versions are public too: the one the protest corrected stays visible.
        versions = (await http.get("/public/standings/100m/M/18-34/history")).json()
        assert [v["revision"] for v in versions] == list(range(1, standings["revision"] + 1))
        assert versions[-1]["entries"] == standings["entries"]
        before = versions[-2]
        assert before["status"] == "official"
        assert [e["bib"] for e in before["entries"][:2]] == [8808, 8801]
        assert before["entries"][0]["name"] == "Runner8808 Test"
        assert "@" not in str(versions)
        unknown = await http.get("/public/standings/100m/M/99-99/history")
        assert unknown.status_code == 404

        # --- a BIB transfer found out (reg 7.11): DQ in both races, live on the stream -------
        transferred_heat = next(
            heat["race_id"]
            for heat, bibs in zip(heats, redrawn.json()["races"], strict=True)
            if TRANSFERRED_BIB in bibs
        )
        ban = ParticipantBanned(
            participant_id=participants[TRANSFERRED_BIB],
            registration_number=f"R-{TRANSFERRED_BIB:06d}",
            edition=edition,
            contact=contact(TRANSFERRED_BIB),
            clause="7.11",
            reason="BIB 8803 was worn by another person",
            editions_banned=3,
            banned_by="organizer-7",
            banned_at=dt.datetime.now(dt.UTC),
        )
        async with http.stream("GET", "/public/stream") as live:
            stream = ServerSentEvents(live)
            assert (await stream.next())["comment"] == "copa run results stream"
            await bus.send(topics.PARTICIPANTS, ban, str(ban.participant_id))
            first_change = await stream.next()
        # A partner page that lost its connection after the first change resumes from it
        # (Last-Event-ID) and misses none of the others.
        async with http.stream(
            "GET", "/public/stream", headers={"Last-Event-ID": first_change["id"]}
        ) as live:
            stream = ServerSentEvents(live)
            assert "comment" in await stream.next()
            resumed = [await stream.next()]
            while (resumed[-1]["event"], json.loads(resumed[-1]["data"])["key"]) != (
                "race-results",
                final["race_id"],
            ):
                resumed.append(await stream.next())
        ids = [int(first_change["id"])] + [int(e["id"]) for e in resumed]
        assert ids == sorted(set(ids))
        changed = {json.loads(e["data"])["key"] for e in [first_change, *resumed]}
        assert {transferred_heat, final["race_id"]} <= changed

        for race_id in (transferred_heat, final["race_id"]):
            page = (await http.get(f"/public/races/{race_id}")).json()
            line = next(r for r in page["results"] if r["bib"] == TRANSFERRED_BIB)
            assert (line["place"], line["status"]) == (None, "DQ 7.11")
            history = (await http.get(f"/public/races/{race_id}/history")).json()
            assert history[-1]["event_type"] == "race-results.corrected"
            assert ban.reason in [h["reason"] for h in history]
        marked = {
            line["bib"]
            for heat in heats
            for line in (await http.get(f"/public/races/{heat['race_id']}")).json()["results"]
            if line["qualified"]
        }
        assert marked == set(BIBS[:8]) - {TRANSFERRED_BIB}  # nobody moves up into a run final
        standings = (await http.get("/public/standings/100m/M/18-34")).json()
        assert [e["bib"] for e in standings["entries"][:2]] == [8801, 8802]
        dq = next(e for e in standings["entries"] if e["bib"] == TRANSFERRED_BIB)
        assert (dq["place"], dq["status"], dq["dq_rule"]) == (None, "DQ", "7.11")

        # The final's results as CSV, by `format` or by `Accept`.
        final_csv = await http.get(f"/public/races/{final['race_id']}", params={"format": "csv"})
        assert final_csv.headers["content-type"].startswith("text/csv")
        assert final_csv.headers["cache-control"] == CACHE_CONTROL
        assert final_csv.text.splitlines()[0] == RACE_CSV_HEADER
        rows = {row["bib"]: row for row in csv.DictReader(io.StringIO(final_csv.text))}
        assert [(r["place"], r["bib"]) for r in rows.values()][:2] == [("1", "8801"), ("2", "8802")]
        assert rows["8801"]["name"] == "Runner8801 Test"
        assert rows["8801"]["time_source"] == "photo_finish"
        assert (rows["8803"]["place"], rows["8803"]["status"]) == ("", "DQ 7.11")
        assert rows["8808"]["status"] == "DQ TR16.8"
        by_accept = await http.get(
            f"/public/races/{final['race_id']}", headers={"Accept": "text/csv"}
        )
        assert by_accept.text == final_csv.text  # not the JSON form cached for the same URL
        assert by_accept.headers["vary"] == "Accept"

    # --- what went on the bus ----------------------------------------------------------------
    async def published_results() -> list[Envelope] | None:
        found = await bus.published(topics.RESULTS)
        return found if any(e.type == "race-results.corrected" for e in found) else None

    results_events = await wait_for(published_results, "the correction on the bus")
    banned = [
        e
        for e in results_events
        if e.type == "race-results.corrected" and e.payload["reason"] == ban.reason
    ]
    assert {e.payload["race_id"] for e in banned} == {transferred_heat, final["race_id"]}
    assert {e.payload["corrected_by"] for e in banned} == {"organizer-7"}
    start_list_revisions = sorted(
        e.payload["revision"]
        for e in await bus.published(topics.START_LISTS)
        if e.payload["race_id"] == heats[0]["race_id"]
    )
    assert start_list_revisions == [1, 2]  # drawn, then re-drawn
    # Nothing doubled: each revision of a race was published as one event.
    revisions = [(e.payload["race_id"], e.payload["revision"]) for e in results_events]
    assert len(revisions) == len(set(revisions))
    standings_events = await bus.published(topics.STANDINGS)
    overall = [e for e in standings_events if e.payload["standings_id"] == f"{edition}/100m/M/all"]
    latest = max(overall, key=lambda e: e.payload["revision"])
    assert latest.payload["entrants_count"] == 14  # reg 4.2.4 penalty basis
    assert latest.payload["entries"][0]["participant_id"] == str(participants[8801])

    # --- replay: every input again (same event ids), then again as new events ------------
    await bus.resend_all()
    originals = list(bus.sent)
    fresh: list[uuid.UUID] = []
    for name, envelope in originals:
        topic = next(t for t in topics.ALL_TOPICS if t.name == name)
        event = topic.parse(envelope)
        fresh.append((await bus.send(topic, event, envelope.key)).event_id)
    await wait_for(lambda: _processed(database_url, fresh), "ranking to apply the replay")
    assert len(await bus.published(topics.RESULTS)) == len(results_events)
    assert len(await bus.published(topics.STANDINGS)) == len(standings_events)
    await _one_batch_publishes_each_table_once(database_url, edition)


async def _one_batch_publishes_each_table_once(database_url: str, edition: str) -> None:
    """Inside a consumer batch's scope (the timing consumer's), the tables of a group whose
    races changed wait for the end of the batch, and are then published once each, the
    category's and the gender's, with the entries race-by-race updates left. The group's two
    tables are taken away in a transaction rolled back afterwards, so that the recomputation
    has something to publish; the group is updated twice, as two of its races in one batch."""
    group = RaceGroup("100m", "M", "18-34")
    keys = [f"{edition}/100m/M/18-34", f"{edition}/100m/M/all"]
    race_day.edition.cache_clear()  # this process's COPA_EDITION, the service's
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection, connection.begin() as transaction:
            session = AsyncSession(bind=connection)
            tables = text(
                "SELECT standings_id, entries FROM standings WHERE standings_id = ANY(:k)"
            )
            before = dict((await session.execute(tables, {"k": keys})).all())
            assert set(before) == set(keys)
            last = text("SELECT coalesce(max(id), 0) FROM outbox")
            outbox_before = (await session.execute(last)).scalar_one()
            for table in ("standings", "standings_history"):
                await session.execute(
                    text(f"DELETE FROM {table} WHERE standings_id = ANY(:k)"), {"k": keys}
                )
            async with race_day.standings_once_per_batch(session):
                await race_day.update_group(session, edition, group)
                await race_day.update_group(session, edition, group)
                waiting = (await session.execute(tables, {"k": keys})).all()
                assert waiting == []  # nothing published before the batch is done
            after = dict((await session.execute(tables, {"k": keys})).all())
            assert after == before
            history = text(
                "SELECT standings_id, count(*) FROM standings_history "
                "WHERE standings_id = ANY(:k) GROUP BY standings_id"
            )
            assert dict((await session.execute(history, {"k": keys})).all()) == {
                key: 1 for key in keys
            }
            events = text(
                "SELECT key, count(*) FROM outbox WHERE topic = :t AND key = ANY(:k) "
                "AND id > :i GROUP BY key"
            )
            published = await session.execute(
                events, {"t": topics.STANDINGS.name, "k": keys, "i": outbox_before}
            )
            assert dict(published.all()) == {key: 1 for key in keys}
            await session.close()
            await transaction.rollback()
    finally:
        await engine.dispose()
        race_day.edition.cache_clear()


async def _redraws(database_url: str) -> list[tuple[str, str]]:
    """Who re-drew a group and why, from the audit (RULES §5)."""
    connection = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        rows = await connection.fetch(
            "SELECT actor, detail FROM audit WHERE action = 'redraw' ORDER BY id"
        )
    finally:
        await connection.close()
    return [(row["actor"], json.loads(row["detail"])["reason"]) for row in rows]


async def _processed(database_url: str, event_ids: list[uuid.UUID]) -> bool:
    """Every one of ``event_ids`` was applied (the runtime's tracking table has it)."""
    connection = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        done = await connection.fetchval(
            "SELECT count(DISTINCT event_id) FROM processed_events WHERE event_id = ANY($1)",
            event_ids,
        )
    finally:
        await connection.close()
    return done == len(set(event_ids))


def asyncpg_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


def _read(chip: str, at: dt.datetime, n: int) -> ChipRead:
    return ChipRead(
        chip=chip,
        device_id="finish-1",
        timing_point="finish",
        antenna=1,
        read_at=at + dt.timedelta(milliseconds=40 * n),
        device_sequence=None,
        kind="read",
        received_at=at + dt.timedelta(seconds=1),
    )


async def test_the_relay_is_drawn_timed_by_its_last_leg_and_published_by_team(
    postgres_server, broker_factory, tmp_path: Path, edition_today: str
) -> None:
    """RULES §8: three teams, one race, the last leg's crossing after the minimum time."""
    broker = broker_factory()
    database = f"ranking_relay_{uuid.uuid4().hex[:8]}"
    url = await postgres_server.create_database(database)
    service = ServiceProcess("ranking", url, broker.bootstrap, tmp_path / "ranking.log", "all")
    bus = Bus(broker.bootstrap)
    await bus.start()
    service.start()
    try:
        await _relay(service, bus, edition_today)
    finally:
        service.stop()
        await bus.stop()
        await postgres_server.drop_database(database)


async def _relay(service: ServiceProcess, bus: Bus, edition: str) -> None:
    organizer = {"Authorization": f"Bearer {service.token('organizer')}"}
    chief = {"Authorization": f"Bearer {service.token('chief_judge')}"}
    now = dt.datetime.now(dt.UTC)
    teams = {5001: uuid.uuid4(), 5002: uuid.uuid4(), 5003: uuid.uuid4()}
    chips: dict[int, list[str]] = {}
    for bib, team_id in teams.items():
        members = tuple(
            RelayMember(
                member_id=uuid.uuid4(),
                leg=leg,
                leg_distance_m=metres,
                first_name=f"Leg{leg}",
                last_name=f"Team{bib}",
                gender="F" if leg % 2 else "M",
            )
            for leg, metres in enumerate((800, 400, 200, 100), start=1)
        )
        common = {
            "relay_team_id": team_id,
            "registration_number": f"T-{bib}",
            "edition": edition,
            "team_name": f"Team {bib}",
            "contact": contact(bib),
        }
        await bus.send(
            topics.RELAY_TEAMS,
            RelayTeamRegistered(
                **common,
                bib=bib,
                members=members,
                amount_kzt=20_000,
                payment_method="online",
                paid_at=now,
            ),
            str(team_id),
        )
        chips[bib] = [f"R{bib}L{m.leg}-{uuid.uuid4().hex[:4]}" for m in members]
        await bus.send(
            topics.RELAY_TEAMS,
            RelayTeamKitIssued(
                **common,
                bib=bib,
                issued_at=now,
                chips=tuple(
                    RelayMemberChip(member_id=m.member_id, chip=chip)
                    for m, chip in zip(members, chips[bib], strict=True)
                ),
            ),
            str(team_id),
        )

    async with httpx.AsyncClient(base_url=service.base_url, timeout=30) as http:

        async def drawn() -> dict[str, Any] | None:
            answer = await http.post("/organizer/draw", json={"seed": "relay"}, headers=organizer)
            if answer.status_code == 200:
                return answer.json()
            assert answer.status_code == 409, answer.text
            return None

        # Teams arrive over the bus; the organizer draws once all three have their chips.
        async def all_teams_in() -> bool:
            answer = await http.get("/organizer/starters", headers=organizer)
            assert answer.status_code == 200, answer.text
            return bool(answer.json()["relay_teams"] == 3)

        await wait_for(all_teams_in, "the relay teams")
        draw = await wait_for(drawn, "the draw")
        assert [r["round"] for r in draw["schedule"]] == ["timed_final"]
        await http.post("/organizer/schedule/publish", headers=organizer)
        race = (await http.get("/public/races")).json()[0]
        page = (await http.get(f"/public/races/{race['race_id']}")).json()
        assert {p["name"] for p in page["start_list"]} == {f"Team {b}" for b in teams}

        gun = now.replace(microsecond=0) + dt.timedelta(minutes=1)
        await bus.send(
            topics.STARTS,
            StartSignal(
                race_id=uuid.UUID(race["race_id"]),
                signal_id=uuid.uuid4(),
                fired_at=gun,
                device_id="start-1",
                source="start_system",
            ),
            race["race_id"],
        )
        finish_s = {5001: 290.0, 5002: 280.0, 5003: 300.0}
        for bib, total in finish_s.items():
            # Legs 1 and 2 cross the finish line at their exchanges; leg 3 does not (the
            # 1,500 m start is at the 100 m mark); leg 4 finishes.
            for leg, at_s in ((1, total * 0.55), (2, total * 0.8), (4, total)):
                read = _read(chips[bib][leg - 1], gun + dt.timedelta(seconds=at_s), 0)
                await bus.send(topics.READS, read, read.chip)

        async def results() -> list[dict[str, Any]] | None:
            page = (await http.get(f"/public/races/{race['race_id']}")).json()
            placed = [r for r in page["results"] if r["place"] is not None]
            return placed if len(placed) == 3 else None

        placed = await wait_for(results, "the relay's results")
        assert [(r["bib"], r["place"], r["time"]) for r in placed] == [
            (5002, 1, "4:40.00"),
            (5001, 2, "4:50.00"),
            (5003, 3, "5:00.00"),
        ]
        confirmed = await http.post(f"/judges/races/{race['race_id']}/confirm", headers=chief)
        assert confirmed.status_code == 200, confirmed.text

    async def official() -> Envelope | None:
        found = [
            e for e in await bus.published(topics.RESULTS) if e.type == "race-results.official"
        ]
        return found[0] if found else None

    event = await wait_for(official, "the relay's official results on the bus")
    assert event.payload["gender"] == "X"
    assert [(e["relay_team_id"], e["place"]) for e in event.payload["entries"]] == [
        (str(teams[5002]), 1),
        (str(teams[5001]), 2),
        (str(teams[5003]), 3),
    ]


async def test_a_runner_banned_before_the_draw_runs_nowhere_and_a_new_category_is_a_new_group(
    postgres_server, broker_factory, tmp_path: Path, edition_today: str
) -> None:
    """reg 7.11 and 5.2 before the draw: the banned runner is drawn in no race, the runner
    whose category changed is drawn in the new one's group; banned after the draw and before
    the race, a runner's result is DQ with the clause when the race runs."""
    broker = broker_factory()
    database = f"ranking_ban_{uuid.uuid4().hex[:8]}"
    url = await postgres_server.create_database(database)
    service = ServiceProcess("ranking", url, broker.bootstrap, tmp_path / "ranking.log", "all")
    bus = Bus(broker.bootstrap)
    await bus.start()
    service.start()
    try:
        await _before_the_draw(service, bus, edition_today, url)
    finally:
        service.stop()
        await bus.stop()
        await postgres_server.drop_database(database)


async def _before_the_draw(service: ServiceProcess, bus: Bus, edition: str, url: str) -> None:
    organizer = {"Authorization": f"Bearer {service.token('organizer')}"}
    now = dt.datetime.now(dt.UTC)
    stays, moves, banned, late = 8901, 8902, 8903, 8904
    ids = {bib: uuid.uuid4() for bib in (stays, moves, banned, late)}
    chips = {bib: f"CHIP{bib}{uuid.uuid4().hex[:6]}" for bib in ids}

    def common(bib: int) -> dict[str, Any]:
        return {
            "participant_id": ids[bib],
            "registration_number": f"R-{bib:06d}",
            "edition": edition,
            "contact": contact(bib),
        }

    def ban(bib: int) -> ParticipantBanned:
        return ParticipantBanned(
            **common(bib),
            clause="7.11",
            reason=f"BIB {bib} was handed to another person",
            editions_banned=3,
            banned_by="organizer-7",
            banned_at=dt.datetime.now(dt.UTC),
        )

    sent: list[uuid.UUID] = []
    for bib in ids:
        key = str(ids[bib])
        paid = ParticipantPaid(
            **common(bib),
            distance="100m",
            gender="M",
            age_category="18-34",
            bib=bib,
            amount_kzt=5000,
            payment_method="online",
            paid_at=now,
        )
        kit = KitIssued(
            **common(bib),
            bib=bib,
            chip=chips[bib],
            chip_pre_paired=False,
            collected_by_proxy=False,
            issued_at=now,
        )
        sent += [(await bus.send(topics.PARTICIPANTS, e, key)).event_id for e in (paid, kit)]
    moved = CategoryChanged(
        **common(moves),
        distance="100m",
        from_category="18-34",
        to_category="35-44",
        reason="correction",
        changed_at=now,
    )
    sent.append((await bus.send(topics.PARTICIPANTS, moved, str(ids[moves]))).event_id)
    sent.append((await bus.send(topics.PARTICIPANTS, ban(banned), str(ids[banned]))).event_id)
    await wait_for(lambda: _processed(url, sent), "the roster")

    async with httpx.AsyncClient(base_url=service.base_url, timeout=30) as http:
        draw = await http.post("/organizer/draw", json={"seed": "bans"}, headers=organizer)
        assert draw.status_code == 200, draw.text
        assert sorted(r["group"] for r in draw.json()["schedule"]) == [
            "100m M 18-34",
            "100m M 35-44",
        ]
        await http.post("/organizer/schedule/publish", headers=organizer)
        lists = {}
        for summary in (await http.get("/public/races")).json():
            page = (await http.get(f"/public/races/{summary['race_id']}")).json()
            lists[summary["category"]] = sorted(p["bib"] for p in page["start_list"])
        assert lists == {"18-34": [stays, late], "35-44": [moves]}
        assert (await http.get(f"/public/participants/{banned}")).json()["races"] == []
        assert (await http.get(f"/public/participants/{moves}")).json()["category"] == "35-44"

        # Banned after the draw, before the race: no result yet, and DQ 7.11 once it runs.
        race_id = next(
            r["race_id"]
            for r in (await http.get("/public/races")).json()
            if r["category"] == "18-34"
        )
        late_ban = await bus.send(topics.PARTICIPANTS, ban(late), str(ids[late]))
        await wait_for(lambda: _processed(url, [late_ban.event_id]), "the late ban")
        page = (await http.get(f"/public/races/{race_id}")).json()
        assert (page["status"], page["results"]) == (None, [])
        gun = now.replace(microsecond=0) + dt.timedelta(minutes=1)
        await bus.send(
            topics.STARTS,
            StartSignal(
                race_id=uuid.UUID(race_id),
                signal_id=uuid.uuid4(),
                fired_at=gun,
                device_id="start-1",
                source="start_system",
            ),
            race_id,
        )
        for bib in (stays, late):
            finish = gun + dt.timedelta(microseconds=run_time_us(bib - 100))
            await bus.send(topics.READS, _read(chips[bib], finish, 0), chips[bib])

        async def results() -> dict[int, tuple[int | None, str | None]] | None:
            page = (await http.get(f"/public/races/{race_id}")).json()
            lines = {r["bib"]: (r["place"], r["status"]) for r in page["results"]}
            return lines if lines.get(stays, (None, None))[0] == 1 else None

        assert await wait_for(results, "the race's result") == {
            stays: (1, None),
            late: (None, "DQ 7.11"),
        }
