"""Ranking under faults (issue 8): killed while it consumes the reads of a race day; a timing
device that loses its network and re-sends its last five minutes.

Four 100 m groups of eight (men and women, 18-34 and 35-44: one final each) are entered from
registration's events put on the broker, drawn with a fixed seed and run from start signals
and clusters of chip reads. Each test has brokers of its own.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from typing import Any

import httpx

from copa.embedded.service_process import ServiceProcess
from copa_contracts import topics
from copa_contracts.common import Contact
from copa_contracts.envelope import Envelope
from copa_contracts.participants import KitIssued, ParticipantPaid
from copa_contracts.timing import ChipRead, StartSignal

GROUPS = [("M", "18-34"), ("M", "35-44"), ("F", "18-34"), ("F", "35-44")]
PER_GROUP = 8
READS_PER_CROSSING = 15
GUN = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(minutes=5)


class Runner:
    def __init__(self, group: int, n: int) -> None:
        self.gender, self.category = GROUPS[group]
        self.bib = 100 + group * 10 + n
        self.id = uuid.uuid5(uuid.NAMESPACE_URL, f"copa:chaos:runner:{self.bib}")
        self.chip = f"CHAOS{self.bib:05d}"
        self.group = group
        # Every runner a different time; groups run one after another, 150 s apart.
        self.time_us = 11_000_000 + ((n * 7919 + group * 104_729) % 2_000_000)

    def contact(self) -> Contact:
        return Contact(
            first_name=f"Runner{self.bib}",
            last_name="Chaos",
            email=f"r{self.bib}@example.kz",
            language="en",
        )


RUNNERS = [Runner(g, n) for g in range(len(GROUPS)) for n in range(PER_GROUP)]


def gun_of(group: int) -> dt.datetime:
    return GUN + dt.timedelta(seconds=150 * group)


def roster_events(chaos, edition: str) -> list[tuple[str, Envelope]]:
    """What registration publishes for each runner: paid, then the kit with the chip."""
    events = []
    for runner in RUNNERS:
        common = {
            "participant_id": runner.id,
            "registration_number": f"R-{runner.bib:06d}",
            "edition": edition,
            "contact": runner.contact(),
        }
        events.append(
            chaos.wrap(
                ParticipantPaid(
                    **common,
                    distance="100m",
                    gender=runner.gender,
                    age_category=runner.category,
                    bib=runner.bib,
                    amount_kzt=5000,
                    payment_method="online",
                    paid_at=GUN - dt.timedelta(days=30),
                ),
                str(runner.id),
            )
        )
        events.append(
            chaos.wrap(
                KitIssued(
                    **common,
                    bib=runner.bib,
                    chip=runner.chip,
                    chip_pre_paired=False,
                    collected_by_proxy=False,
                    issued_at=GUN - dt.timedelta(days=2),
                ),
                str(runner.id),
            )
        )
    return events


def crossing(runner: Runner) -> list[dict[str, Any]]:
    """A device's reads of one runner's finish: a cluster, 30 ms apart (the first counts)."""
    finish = gun_of(runner.group) + dt.timedelta(microseconds=runner.time_us)
    return [
        {
            "chip": runner.chip,
            "at": (finish + dt.timedelta(milliseconds=30 * n)).isoformat(),
            "location": "finish",
            "antenna": n % 4 + 1,
        }
        for n in range(READS_PER_CROSSING)
    ]


def read_events(group: int) -> list[tuple[str, Envelope]]:
    """A group's reads as timing ingest publishes them (the same event ids for every run)."""
    events = []
    for runner in (r for r in RUNNERS if r.group == group):
        for n, read in enumerate(crossing(runner)):
            event = ChipRead(
                chip=runner.chip,
                device_id="finish-1",
                timing_point="finish",
                antenna=read["antenna"],
                read_at=dt.datetime.fromisoformat(read["at"]),
                device_sequence=runner.bib * 100 + n,
                kind="read",
                received_at=dt.datetime.fromisoformat(read["at"]) + dt.timedelta(seconds=1),
            )
            envelope = Envelope.wrap(
                event,
                producer="test",
                key=runner.chip,
                event_id=uuid.uuid5(uuid.NAMESPACE_URL, f"copa:chaos:read:{runner.bib}:{n}"),
            )
            events.append((topics.READS.name, envelope))
    return events


async def processed(chaos, ranking: ServiceProcess, consumer: str) -> int:
    count = await chaos.scalar(
        ranking, "SELECT count(*) FROM processed_events WHERE consumer = $1", consumer
    )
    return int(count or 0)


async def draw(chaos, ranking: ServiceProcess) -> dict[tuple[str, str], str]:
    """Wait for the roster, draw with a fixed seed, publish; (gender, category) -> race id."""

    async def roster_in() -> bool:
        return await processed(chaos, ranking, "ranking.roster") >= 2 * len(RUNNERS)

    await chaos.eventually(roster_in, "the roster")
    headers = chaos.auth(ranking.token("organizer"))
    async with httpx.AsyncClient(base_url=ranking.base_url, timeout=30) as http:
        drawn = await http.post("/organizer/draw", json={"seed": "chaos"}, headers=headers)
        assert drawn.status_code == 200, drawn.text
        assert drawn.json()["races"] == len(GROUPS)
        published = await http.post("/organizer/schedule/publish", headers=headers)
        assert published.status_code == 200, published.text
        races = (await http.get("/public/races")).json()
    assert [r["round"] for r in races] == ["final"] * len(GROUPS)
    return {(r["gender"], r["category"]): r["race_id"] for r in races}


def start_event(chaos, race_id: str, group: int) -> tuple[str, Envelope]:
    signal = StartSignal(
        race_id=uuid.UUID(race_id),
        signal_id=uuid.uuid5(uuid.NAMESPACE_URL, f"copa:chaos:start:{race_id}"),
        fired_at=gun_of(group),
        device_id="start-1",
        source="start_system",
    )
    return chaos.wrap(signal, race_id)


async def results(ranking: ServiceProcess, races: dict[tuple[str, str], str]) -> dict:
    """Each group's published page, without what differs by run (ids, revision counters)."""
    pages = {}
    async with httpx.AsyncClient(base_url=ranking.base_url, timeout=30) as http:
        for group, race_id in races.items():
            page = (await http.get(f"/public/races/{race_id}")).json()
            pages[group] = {
                "start_list": [(p["bib"], p["lane"]) for p in page["start_list"]],
                "results": [
                    (r["place"], r["bib"], r["time"], r["status"], r["time_source"])
                    for r in page["results"]
                ],
            }
    return pages


def all_finished(pages: dict) -> bool:
    return all(
        len([r for r in page["results"] if r[0] is not None]) == PER_GROUP
        for page in pages.values()
    )


async def published_results(chaos, bootstrap: str) -> dict[str, list[Envelope]]:
    """race id -> its distinct result events, by revision."""
    by_race: dict[str, list[Envelope]] = {}
    for envelope in chaos.distinct(await chaos.read_topic(bootstrap, topics.RESULTS.name)).values():
        by_race.setdefault(envelope.payload["race_id"], []).append(envelope)
    return {
        race: sorted(found, key=lambda e: e.payload["revision"]) for race, found in by_race.items()
    }


def last_published(found: list[Envelope]) -> list[tuple[Any, ...]]:
    return [
        (e["place"], e["bib"], e["official_time_us"], e["status"])
        for e in found[-1].payload["entries"]
    ]


async def test_ranking_killed_while_consuming_reads_ends_as_an_undisturbed_run(
    chaos, start_service, broker_factory, edition_today
):
    """The same race day (the same events, with the same ids) goes to two rankings, each on
    its own broker: one undisturbed, one SIGKILLed twice while it consumes the reads (and
    reads keep arriving while it is down). Expected: the results of every race equal the
    undisturbed run's (places, BIBs, times, statuses, time sources); each race's result
    revisions were published once each; the last published results equal the undisturbed
    run's; every read was stored once."""
    calm_broker, hit_broker = broker_factory(), broker_factory()
    calm = start_service("ranking", calm_broker.bootstrap)
    hit = start_service("ranking", hit_broker.bootstrap)
    roster = roster_events(chaos, edition_today)
    await asyncio.gather(
        chaos.produce(calm_broker.bootstrap, roster), chaos.produce(hit_broker.bootstrap, roster)
    )
    calm_races, hit_races = await asyncio.gather(draw(chaos, calm), draw(chaos, hit))

    def day(races: dict[tuple[str, str], str], groups: range) -> list[tuple[str, Envelope]]:
        items = []
        for g in groups:
            items.append(start_event(chaos, races[GROUPS[g]], g))
            items.extend(read_events(g))
        return items

    await chaos.produce(calm_broker.bootstrap, day(calm_races, range(len(GROUPS))))

    # The disturbed run: half the day, killed once consumption is under way, the rest sent
    # while it is down; killed again as soon as it consumes after the restart.
    await chaos.produce(hit_broker.bootstrap, day(hit_races, range(2)))

    async def consuming() -> bool:
        return await processed(chaos, hit, "ranking.timing") > 0

    await chaos.eventually(consuming, "ranking to consume the first reads", 60)
    hit.kill()
    before_first_kill = await processed(chaos, hit, "ranking.timing")
    await chaos.produce(hit_broker.bootstrap, day(hit_races, range(2, len(GROUPS))))
    hit.start()

    async def consuming_again() -> bool:
        return await processed(chaos, hit, "ranking.timing") > before_first_kill

    await chaos.eventually(consuming_again, "ranking to consume after the restart", 60)
    hit.kill()
    hit.start()

    total = len(GROUPS) * (1 + PER_GROUP * READS_PER_CROSSING)

    async def done(service: ServiceProcess):
        return await processed(chaos, service, "ranking.timing") >= total

    await chaos.eventually(lambda: done(calm), "the undisturbed run")
    await chaos.eventually(lambda: done(hit), "the disturbed run")
    expected = await chaos.eventually(
        lambda: _finished(calm, calm_races), "the undisturbed results"
    )
    got = await chaos.eventually(lambda: _finished(hit, hit_races), "the disturbed results")
    assert before_first_kill < total, "the first kill came after everything was consumed"
    assert got == expected

    for service in (calm, hit):
        stored = await chaos.scalar(service, "SELECT count(DISTINCT event_id) FROM chip_reads")
        rows = await chaos.scalar(service, "SELECT count(*) FROM chip_reads")
        assert stored == rows == len(GROUPS) * PER_GROUP * READS_PER_CROSSING
    calm_events = await published_results(chaos, calm_broker.bootstrap)
    hit_events = await published_results(chaos, hit_broker.bootstrap)
    for events in (calm_events, hit_events):
        for found in events.values():
            revisions = [e.payload["revision"] for e in found]
            assert revisions == list(range(1, len(found) + 1)), revisions  # each once
    for group in GROUPS:
        assert last_published(hit_events[hit_races[group]]) == last_published(
            calm_events[calm_races[group]]
        )


async def _finished(service: ServiceProcess, races: dict[tuple[str, str], str]) -> dict | None:
    pages = await results(service, races)
    return pages if all_finished(pages) else None


async def test_device_that_lost_its_network_resends_its_last_five_minutes_and_nothing_changes(
    chaos, start_service, broker_factory, edition_today
):
    """Timing ingest and ranking on one broker; the finish reader posts the start signals and
    every crossing over real HTTP, as the four races run over eight minutes. It then loses its
    network before it hears the answers to its last posts, and, as readers do, re-sends every
    read of its last five minutes when it is back. Expected: each re-sent read is answered as
    a duplicate; the results pages are byte for byte what they were (the same revision);
    nothing more reaches the bus: `timing.reads.v1` carries each read exactly once, no result
    is published again."""
    broker = broker_factory()
    ingest = start_service("timing-ingest", broker.bootstrap)
    ranking = start_service("ranking", broker.bootstrap)
    await chaos.produce(broker.bootstrap, roster_events(chaos, edition_today))
    races = await draw(chaos, ranking)
    device = chaos.auth(ingest.token("timing_device", device="finish-1"))
    sent: list[dict[str, Any]] = []
    seq = 0
    async with httpx.AsyncClient(base_url=ingest.base_url, timeout=30) as http:
        for g, group in enumerate(GROUPS):
            start = await http.post(
                f"/races/{races[group]}/start",
                json={"fired_at": gun_of(g).isoformat()},
                headers=device,
            )
            assert start.status_code == 200, start.text
            for runner in (r for r in RUNNERS if r.group == g):
                reads = crossing(runner)
                for read in reads:
                    seq += 1
                    read["seq"] = seq
                answer = await http.post("/reads", json={"reads": reads}, headers=device)
                assert answer.json()["new"] == READS_PER_CROSSING, answer.text
                sent.extend(reads)
        before = await chaos.eventually(
            lambda: _finished(ranking, races), "the results from the posted reads"
        )
        pages = {race: (await http.get(f"/public/races/{race}")).text for race in races.values()}
        timing_before = await processed(chaos, ranking, "ranking.timing")

        last = max(dt.datetime.fromisoformat(r["at"]) for r in sent)
        resent = [
            r for r in sent if dt.datetime.fromisoformat(r["at"]) > last - dt.timedelta(minutes=5)
        ]
        assert 0 < len(resent) < len(sent)
        answers = [
            (await http.post("/reads", json={"reads": resent[i : i + 50]}, headers=device)).json()
            for i in range(0, len(resent), 50)
        ]
        assert sum(a["duplicates"] for a in answers) == len(resent)
        assert sum(a["new"] for a in answers) == 0
        await asyncio.sleep(3)  # what would follow a new read: publication and consumption
        assert await processed(chaos, ranking, "ranking.timing") == timing_before
        assert await results(ranking, races) == before
        for race, page in pages.items():
            assert (await http.get(f"/public/races/{race}")).text == page

    on_bus = await chaos.read_topic(broker.bootstrap, topics.READS.name)
    assert len(on_bus) == len(chaos.distinct(on_bus)) == len(sent)
    assert sorted(e.payload["device_sequence"] for e in on_bus) == list(range(1, len(sent) + 1))
    result_events = await chaos.read_topic(broker.bootstrap, topics.RESULTS.name)
    revisions = [(e.payload["race_id"], e.payload["revision"]) for e in result_events]
    assert len(revisions) == len(set(revisions))
