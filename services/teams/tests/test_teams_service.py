"""Teams over real HTTP, a real PostgreSQL and the real broker (issue 6).

Each test runs the service in its own process on a fresh database, for an edition of its own
(a copy of `editions/2024.toml` under another code, with the team deadline moved ahead so
that applications are open today): events of other tests on the shared broker belong to other
editions and are ignored, so tests cannot disturb each other.
"""

from __future__ import annotations

import asyncio
import csv
import io
import itertools
import random
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from sqlalchemy import text

from copa_contracts import topics
from copa_contracts.common import Contact
from copa_contracts.edition import find_editions_dir
from copa_contracts.envelope import Envelope, Event
from copa_contracts.participants import (
    DistanceChanged,
    ParticipantPaid,
    RelayMember,
    RelayTeamRegistered,
)
from copa_contracts.ranking import (
    RaceResultEntry,
    RaceResultsCorrected,
    RaceResultsOfficial,
    StandingsEntry,
    StandingsUpdated,
    StartListEntry,
    StartListPublished,
    standings_id,
)
from copa_contracts.topic import Topic
from copa_runtime.db import Database
from copa_runtime.kafka import ensure_topics, topics_with_dead_letters

NOW = datetime(2024, 3, 17, 6, 0, tzinfo=UTC)
CONSUMED = (
    topics.PARTICIPANTS,
    topics.RELAY_TEAMS,
    topics.START_LISTS,
    topics.RESULTS,
    topics.STANDINGS,
)


# --- an edition of the test's own -----------------------------------------------------------


@pytest.fixture
def edition(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    code = "t" + uuid.uuid4().hex[:10]
    source = (find_editions_dir() / "2024.toml").read_text()
    assert 'code = "2024"' in source
    assert "applications_until_local = 2024-03-02T23:59:59" in source
    patched = source.replace('code = "2024"', f'code = "{code}"').replace(
        "applications_until_local = 2024-03-02T23:59:59",
        "applications_until_local = 2999-03-02T23:59:59",
    )
    (tmp_path / f"{code}.toml").write_text(patched)
    monkeypatch.setenv("COPA_EDITIONS_DIR", str(tmp_path))
    monkeypatch.setenv("COPA_EDITION", code)
    return code


def copy_edition(code: str, other: str) -> None:
    folder = find_editions_dir()
    source = (folder / f"{code}.toml").read_text()
    (folder / f"{other}.toml").write_text(source.replace(f'"{code}"', f'"{other}"'))


# --- the bus --------------------------------------------------------------------------------


async def produce(bootstrap: str, items: Iterable[tuple[Topic, Envelope]]) -> None:
    await ensure_topics(bootstrap, topics_with_dead_letters(CONSUMED))
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for topic, envelope in items:
            await producer.send_and_wait(
                topic.name, value=envelope.to_bytes(), key=envelope.key.encode()
            )
    finally:
        await producer.stop()


def wrap(topic: Topic, event: Event) -> tuple[Topic, Envelope]:
    key = str(getattr(event, topic.key))
    return topic, Envelope.wrap(event, producer="test", key=key)


async def published(bootstrap: str, edition: str) -> list[Envelope]:
    """Every distinct event of ``edition`` on `teams.standings.v1`, in order."""
    await ensure_topics(bootstrap, topics_with_dead_letters([topics.TEAM_STANDINGS]))
    reader = AIOKafkaConsumer(
        topics.TEAM_STANDINGS.name,
        bootstrap_servers=bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
    )
    await reader.start()
    found: dict[uuid.UUID, Envelope] = {}
    try:
        while True:
            batch = await reader.getmany(timeout_ms=1500)
            if not batch:
                break
            for part in batch.values():
                for record in part:
                    envelope = Envelope.from_bytes(record.value or b"")
                    if envelope.payload.get("edition") == edition:
                        found.setdefault(envelope.event_id, envelope)
    finally:
        await reader.stop()
    return list(found.values())


async def eventually(check: Callable[[], Awaitable[Any]], timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.1)


async def processed(service: Any, event_ids: Iterable[uuid.UUID]) -> bool:
    """The service's consumer has recorded every one of ``event_ids`` (its tracking record)."""
    db = Database(service.database_url, service="teams-test", pool_size=1)
    try:
        async with db.unit_of_work() as session:
            seen = set(
                (
                    await session.execute(
                        text("SELECT event_id FROM processed_events WHERE event_id = ANY(:ids)"),
                        {"ids": list(event_ids)},
                    )
                ).scalars()
            )
    finally:
        await db.dispose()
    return seen == set(event_ids)


# --- the people -----------------------------------------------------------------------------


class Runner:
    def __init__(self, bib: int, gender: str, distance: str = "100m") -> None:
        self.participant_id = uuid.uuid4()
        self.bib = bib
        self.gender = gender
        self.distance = distance
        self.first_name, self.last_name = f"Runner{bib}", "Testov"

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    def paid(self, edition: str) -> ParticipantPaid:
        return ParticipantPaid(
            participant_id=self.participant_id,
            registration_number=f"R-{self.bib:06d}",
            edition=edition,
            contact=Contact(
                first_name=self.first_name,
                last_name=self.last_name,
                email=f"runner{self.bib}@example.kz",
                language="ru",
            ),
            distance=self.distance,
            gender=self.gender,  # type: ignore[arg-type]
            age_category="18-34",
            bib=self.bib,
            amount_kzt=5000,
            payment_method="online",
            paid_at=NOW,
        )

    def entry(self, **changes: Any) -> dict[str, Any]:
        return {"full_name": self.full_name, "bib": self.bib, "distance": self.distance, **changes}


def squad(first_bib: int) -> list[Runner]:
    return [Runner(first_bib + i, "M" if i < 5 else "F") for i in range(10)]


def standings(
    edition: str,
    gender: str,
    revision: int,
    status: str,
    placed: list[tuple[Runner, int | None, str]],
    entrants: int,
) -> StandingsUpdated:
    return StandingsUpdated(
        standings_id=standings_id(edition, "100m", gender, None),
        edition=edition,
        distance="100m",
        gender=gender,  # type: ignore[arg-type]
        age_category=None,
        status=status,  # type: ignore[arg-type]
        revision=revision,
        entrants_count=entrants,
        entries=tuple(
            StandingsEntry(
                place=place,
                participant_id=r.participant_id,
                bib=r.bib,
                age_category="18-34",
                status=st,  # type: ignore[arg-type]
                dq_rule="7.12" if st == "DQ" else None,
                gun_time_us=None if place is None else 11_000_000 + place * 100_000,
                official_time_us=None if place is None else 11_000_000 + place * 100_000,
                race_id=None,
            )
            for r, place, st in placed
        ),
    )


class SprintDay:
    """Two teams and four runners of no team on the 100 m; the men's standings are corrected.

    Revision 1 (provisional): Alpha's men 1,2,3,4,6 and Beta's 5,7,8,9,10; the women of Beta
    1-5 and of Alpha 6-10: Alpha 56, Beta 54, Beta leads. Revision 2 (the judges' correction,
    official): Beta's man on 5th is DQ (reg 7.12) and scores 12 entrants + 2 = 14; the men
    behind move up: Alpha 1,2,3,4,5 = 15 + 40 = 55; Beta 14+6+7+8+9 = 44 + 15 = 59.
    """

    def __init__(self) -> None:
        self.alpha, self.beta = squad(1), squad(11)
        self.extra = [Runner(21, "M"), Runner(22, "M"), Runner(23, "F"), Runner(24, "F")]

    def runners(self) -> list[Runner]:
        return [*self.alpha, *self.beta, *self.extra]

    def men(self, edition: str, revision: int) -> StandingsUpdated:
        a, b = self.alpha[:5], self.beta[:5]
        dns = [(r, None, "DNS") for r in self.extra[:2]]
        if revision == 1:
            placed = [(a[0], 1, "OK"), (a[1], 2, "OK"), (a[2], 3, "OK"), (a[3], 4, "OK")]
            placed += [(b[0], 5, "OK"), (a[4], 6, "OK")] + [
                (b[i], 6 + i, "OK") for i in (1, 2, 3, 4)
            ]
            return standings(edition, "M", 1, "provisional", placed + dns, 12)
        placed = [(a[i], i + 1, "OK") for i in range(5)] + [
            (b[i], 5 + i, "OK") for i in (1, 2, 3, 4)
        ]
        return standings(edition, "M", 2, "official", [*placed, (b[0], None, "DQ"), *dns], 12)

    def women(self, edition: str, revision: int) -> StandingsUpdated:
        placed = [(r, i + 1, "OK") for i, r in enumerate(self.beta[5:])]
        placed += [(r, i + 6, "OK") for i, r in enumerate(self.alpha[5:])]
        placed += [(self.extra[2], 11, "OK"), (self.extra[3], 12, "OK")]
        return standings(
            edition, "F", revision, "provisional" if revision == 1 else "official", placed, 12
        )


class RelayDay:
    """Four relay teams in one timed final (RULES §8): the official results, then a protest
    upheld (reg 17) disqualifies the winner and Young Runner takes the 200,000 KZT."""

    NAMES = ("Qulpynay Bakery", "Young Runner", "Begovaya Kuznitsa", "Late")

    def __init__(self) -> None:
        self.team_ids = [uuid.uuid4() for _ in self.NAMES]
        self.member_ids = [[uuid.uuid4() for _ in range(4)] for _ in self.NAMES]
        self.race_id, self.protest_id = uuid.uuid4(), uuid.uuid4()

    def teams(self, edition: str) -> list[RelayTeamRegistered]:
        return [
            RelayTeamRegistered(
                relay_team_id=self.team_ids[n],
                registration_number=f"T-{n}",
                edition=edition,
                team_name=name,
                contact=Contact(
                    first_name="Cap", last_name=name, email="c@example.kz", language="en"
                ),
                bib=5001 + n,
                members=tuple(
                    RelayMember(
                        member_id=self.member_ids[n][leg - 1],
                        leg=leg,
                        leg_distance_m=distance,
                        first_name=f"Leg{leg}",
                        last_name=name,
                        gender="F" if leg % 2 else "M",
                    )
                    for leg, distance in enumerate((800, 400, 200, 100), start=1)
                ),
                amount_kzt=20_000,
                payment_method="online",
                paid_at=NOW,
            )
            for n, name in enumerate(self.NAMES)
        ]

    def _common(self, edition: str) -> dict[str, Any]:
        return {
            "race_id": self.race_id,
            "edition": edition,
            "distance": "relay",
            "gender": "X",
            "age_category": "open",
            "round": "timed_final",
            "heat_number": 1,
        }

    def start_list(self, edition: str) -> StartListPublished:
        return StartListPublished(
            **self._common(edition),
            revision=1,
            race_number=40,
            races_in_round=1,
            scheduled_start_at=NOW,
            seeding="random_draw",
            draw_seed="seed",
            entries=tuple(
                StartListEntry(
                    position=n + 1,
                    lane=None,
                    participant_id=None,
                    relay_team_id=team_id,
                    bib=5001 + n,
                )
                for n, team_id in enumerate(self.team_ids)
            ),
        )

    def _line(self, n: int, status: str, seconds: float | None, place: int | None) -> Any:
        us = None if seconds is None else int(seconds * 1_000_000)
        return RaceResultEntry(
            place=place,
            participant_id=None,
            relay_team_id=self.team_ids[n],
            bib=5001 + n,
            status=status,  # type: ignore[arg-type]
            dq_rule="TR24.7" if status == "DQ" else None,
            gun_time_us=us,
            official_time_us=None if us is None else -(-us // 10_000) * 10_000,
            time_source=None if us is None else "chip",
        )

    def official(self, edition: str) -> RaceResultsOfficial:
        return RaceResultsOfficial(
            **self._common(edition),
            revision=2,
            started_at=NOW,
            entries=(
                self._line(0, "OK", 251.004, 1),
                self._line(1, "OK", 255.5, 2),
                self._line(2, "OK", 260.0, 3),
                self._line(3, "DNS", None, None),
            ),
            confirmed_by="chief",
            confirmed_at=NOW,
        )

    def corrected(self, edition: str) -> RaceResultsCorrected:
        return RaceResultsCorrected(
            **self._common(edition),
            revision=3,
            started_at=NOW,
            entries=(
                self._line(1, "OK", 255.5, 1),
                self._line(2, "OK", 260.0, 2),
                self._line(0, "DQ", None, None),
                self._line(3, "DNS", None, None),
            ),
            reason="Protest upheld: exchange outside the zone",
            protest_id=self.protest_id,
            corrected_by="chief",
            corrected_at=NOW,
        )


async def apply_for(client: httpx.AsyncClient, name: str, members: list[Runner]) -> dict[str, Any]:
    body = {"team_name": name, "classification": "sprint", "entries": [m.entry() for m in members]}

    async def attempt() -> dict[str, Any] | None:
        answer = await client.post("/team-applications", json=body)
        if answer.status_code == 201:
            return answer.json()  # type: ignore[no-any-return]
        # Until the consumer has the participants, their BIBs are unknown.
        assert answer.status_code == 422, answer.text
        assert {e["code"] for e in answer.json()["errors"]} == {"unknown_bib"}
        return None

    return await eventually(attempt)  # type: ignore[no-any-return]


def comparable(document: dict[str, Any], last: str = "last_scorer_points") -> list[Any]:
    """A team table without the ids its own service instance minted; ``last`` is the field of
    the points of the last scorer (the bus's contract names it ``last_scorer_place``)."""
    return [
        (
            t["place"],
            t["team_name"],
            t["points"],
            t[last],
            t["tie_break"],
            [(e["bib"], e["place"], e["status"], e["points"], e["penalty"]) for e in t["entries"]],
        )
        for t in document["standings"]
    ]


async def table_where(
    client: httpx.AsyncClient, classification: str, wanted: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        document = (await client.get(f"/standings/{classification}")).json()
        return document if document["standings"] and wanted(document) else None

    return await eventually(check)  # type: ignore[no-any-return]


async def sprint_table(client: httpx.AsyncClient, status: str) -> dict[str, Any]:
    return await table_where(client, "sprint", lambda d: d["status"] == status)


def lines_of(document: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [
        (t["place"], t["team_name"], t["points"], t["pending_entries"])
        for t in document["standings"]
    ]


def no_repeats(events: list[Envelope]) -> bool:
    """Revisions 1, 2, ... and every publication a new table: none published twice."""
    contents = [(e.payload["status"], e.payload["standings"]) for e in events]
    return [e.payload["revision"] for e in events] == list(range(1, len(events) + 1)) and all(
        a != b for a, b in itertools.pairwise(contents)
    )


# --- the tests ------------------------------------------------------------------------------


async def test_results_in_any_order_and_twice_give_the_same_tables_and_a_correction_moves_a_team(
    service_process, kafka_bootstrap, edition, monkeypatch
):
    day, relay = SprintDay(), RelayDay()

    # In order: the participants, the applications, the men's provisional standings (a
    # provisional, incomplete table), the women's, the judges' correction (official); the
    # relay's teams, start list, official results and the upheld protest.
    teams = service_process("teams")
    await produce(
        kafka_bootstrap, [wrap(topics.PARTICIPANTS, r.paid(edition)) for r in day.runners()]
    )
    async with httpx.AsyncClient(base_url=teams.base_url, timeout=10) as client:
        await apply_for(client, "Alpha", day.alpha)
        await apply_for(client, "Beta", day.beta)
        await produce(kafka_bootstrap, [wrap(topics.STANDINGS, day.men(edition, 1))])
        # The women have not run: their entries are pending, the totals are the men's.
        partial = await sprint_table(client, "provisional")
        assert lines_of(partial) == [(1, "Alpha", 16, 5), (2, "Beta", 39, 5)]
        assert partial["waiting_for"] == ["100m/F"]
        assert [
            (e["gender"], e["place"], e["status"], e["points"])
            for e in partial["standings"][0]["entries"][5:]
        ] == [("F", None, "pending", None)] * 5
        printed = await client.get(
            "/organizer/protocol/sprint", headers=auth(teams.token("organizer"))
        )
        assert "INCOMPLETE: no standings yet for 100m/F" in printed.text
        assert "Alpha   16 points (points of the last scorer: 6), 5 entries pending" in printed.text
        await produce(kafka_bootstrap, [wrap(topics.STANDINGS, day.women(edition, 1))])
        provisional = await table_where(client, "sprint", lambda d: not d["waiting_for"])
        assert lines_of(provisional) == [(1, "Beta", 54, 0), (2, "Alpha", 56, 0)]
        await produce(
            kafka_bootstrap,
            [
                wrap(topics.STANDINGS, day.men(edition, 2)),
                wrap(topics.STANDINGS, day.women(edition, 2)),
            ],
        )
        in_order = await sprint_table(client, "official")
        await produce(
            kafka_bootstrap,
            [wrap(topics.RELAY_TEAMS, t) for t in relay.teams(edition)]
            + [
                wrap(topics.START_LISTS, relay.start_list(edition)),
                wrap(topics.RESULTS, relay.official(edition)),
                wrap(topics.RESULTS, relay.corrected(edition)),
            ],
        )
        relay_in_order = await table_where(
            client,
            "relay",
            lambda d: (
                d["status"] == "official"
                and [t["team_name"] for t in d["standings"]][:1] == ["Young Runner"]
                and all(t["team_name"] in RelayDay.NAMES for t in d["standings"])
            ),
        )
    # The correction moved Alpha ahead: Beta's DQ scores the 12 entrants + 2 (reg 4.2.4).
    assert lines_of(in_order) == [(1, "Alpha", 55, 0), (2, "Beta", 59, 0)]
    beta_dq = in_order["standings"][1]["entries"][0]
    assert (beta_dq["status"], beta_dq["points"], beta_dq["penalty"], beta_dq["place"]) == (
        "DQ",
        14,
        True,
        None,
    )
    events = [e for e in await published(kafka_bootstrap, edition) if e.key == "sprint"]
    # One publication per new table (how many depends on how the broker batched them). The
    # first is the men-only table: the contract has no pending entry, so it carries 5 each.
    assert no_repeats(events)
    assert events[0].payload["status"] == "provisional"
    assert [len(t["entries"]) for t in events[0].payload["standings"]] == [5, 5]
    assert events[0].payload["standings"][0]["team_name"] == "Alpha"
    assert events[-1].payload["status"] == "official"
    assert comparable(events[-1].payload, last="last_scorer_place") == comparable(in_order)
    teams.stop()

    # Every input in a shuffled order, each delivered twice, on a second instance (a fresh
    # database, another edition). It is delivered in chunks, each consumed before the next
    # is sent (topics keep no order among themselves), and each team applies as soon as its
    # runners are known: standings come before the participants they place and before the
    # applications, official revisions before stale provisional ones, relay results before
    # the teams' registrations.
    other = edition + "b"
    copy_edition(edition, other)
    monkeypatch.setenv("COPA_EDITION", other)
    replay = service_process("teams")
    paid = {r.participant_id: wrap(topics.PARTICIPANTS, r.paid(other)) for r in day.runners()}
    inputs = [
        *paid.values(),
        *(wrap(topics.STANDINGS, day.men(other, revision)) for revision in (1, 2)),
        *(wrap(topics.STANDINGS, day.women(other, revision)) for revision in (1, 2)),
        *(wrap(topics.RELAY_TEAMS, t) for t in relay.teams(other)),
        wrap(topics.START_LISTS, relay.start_list(other)),
        wrap(topics.RESULTS, relay.official(other)),
        wrap(topics.RESULTS, relay.corrected(other)),
    ]
    deliveries = inputs * 2
    random.Random(59).shuffle(deliveries)
    chunks = [deliveries[i : i + 10] for i in range(0, len(deliveries), 10)]

    def chunk_of(item: tuple[Topic, Envelope]) -> int:
        return next(n for n, chunk in enumerate(chunks) if item in chunk)

    # What this seed's order does (another seed may not: then pick one that does).
    standings_in = {
        (i[1].payload["gender"], i[1].payload["revision"]): chunk_of(i)
        for i in inputs
        if i[0] is topics.STANDINGS
    }
    known_in = {
        gender: max(chunk_of(paid[r.participant_id]) for r in day.runners() if r.gender == gender)
        for gender in "MF"
    }
    applied_in = max(chunk_of(paid[r.participant_id]) for r in day.alpha + day.beta)
    assert any(chunk < known_in[gender] for (gender, _), chunk in standings_in.items())
    assert min(standings_in.values()) < applied_in < max(standings_in.values())
    assert any(standings_in[(g, 2)] < standings_in[(g, 1)] for g in "MF")
    assert min(chunk_of(i) for i in inputs if i[0] is topics.RESULTS) < max(
        chunk_of(i) for i in inputs if i[0] is topics.RELAY_TEAMS
    )

    squads = {"Alpha": day.alpha, "Beta": day.beta}

    async with httpx.AsyncClient(base_url=replay.base_url, timeout=10) as client:
        known: set[uuid.UUID] = set()
        for chunk in chunks:
            await produce(kafka_bootstrap, chunk)
            await eventually(lambda chunk=chunk: processed(replay, [e.event_id for _, e in chunk]))
            known |= {r for r, item in paid.items() if item in chunk}
            for name, members in list(squads.items()):
                if all(r.participant_id in known for r in members):
                    await apply_for(client, name, members)
                    del squads[name]
        assert not squads
        again = wrap(topics.STANDINGS, day.men(other, 2))  # the same standings, a new copy
        await produce(kafka_bootstrap, [again])
        await eventually(lambda: processed(replay, [again[1].event_id]))
        final = (await client.get("/standings/sprint")).json()
        relay_final = (await client.get("/standings/relay")).json()
    assert (final["status"], final["waiting_for"]) == ("official", [])
    assert comparable(final) == comparable(in_order)
    assert (relay_final["status"], relay_final["standings"]) == (
        "official",
        relay_in_order["standings"],
    )
    replayed = await published(kafka_bootstrap, other)
    sprint_events = [e for e in replayed if e.key == "sprint"]
    relay_events = [e for e in replayed if e.key == "relay"]
    assert no_repeats(sprint_events), "the same standings must not publish again"
    assert no_repeats(relay_events)
    assert sprint_events[-1].payload["status"] == "official"
    assert comparable(sprint_events[-1].payload, last="last_scorer_place") == comparable(in_order)
    assert relay_events[-1].payload["standings"] == relay_in_order["standings"]
    assert (final["revision"], relay_final["revision"]) == (len(sprint_events), len(relay_events))


async def test_relay_standings_and_prizes_follow_official_and_corrected_results(
    service_process, kafka_bootstrap, edition
):
    teams = service_process("teams")
    relay = RelayDay()
    await produce(
        kafka_bootstrap,
        [wrap(topics.RELAY_TEAMS, t) for t in relay.teams(edition)]
        + [
            wrap(topics.START_LISTS, relay.start_list(edition)),
            wrap(topics.RESULTS, relay.official(edition)),
        ],
    )
    async with httpx.AsyncClient(base_url=teams.base_url, timeout=10) as client:

        async def relay_table(status: str, leader: str) -> dict[str, Any] | None:
            document = (await client.get("/standings/relay")).json()
            ok = document["status"] == status and document["standings"][0]["team_name"] == leader
            return document if ok else None

        first = await eventually(lambda: relay_table("official", "Qulpynay Bakery"))
        assert [
            (t["place"], t["prize_kzt"], t["official_time_us"]) for t in first["standings"]
        ] == [
            (1, 200_000, 251_010_000),
            (2, 150_000, 255_500_000),
            (3, 100_000, 260_000_000),
            (None, 0, None),
        ]
        await produce(kafka_bootstrap, [wrap(topics.RESULTS, relay.corrected(edition))])
        second = await eventually(lambda: relay_table("official", "Young Runner"))
        assert [(t["team_name"], t["status"], t["prize_kzt"]) for t in second["standings"]] == [
            ("Young Runner", "OK", 200_000),
            ("Begovaya Kuznitsa", "OK", 150_000),
            ("Qulpynay Bakery", "DQ", 0),
            ("Late", "DNS", 0),
        ]
        listed = await client.get("/standings/relay.csv")
        rows = list(csv.DictReader(io.StringIO(listed.text)))
        assert listed.headers["content-type"].startswith("text/csv")
        assert [
            (r["place"], r["team_name"], r["official_time"], r["prize_kzt"]) for r in rows[:2]
        ] == [
            ("1", "Young Runner", "4:15.50", "200000"),
            ("2", "Begovaya Kuznitsa", "4:20.00", "150000"),
        ]
    events = [e for e in await published(kafka_bootstrap, edition) if e.key == "relay"]
    # Topics are not ordered among themselves: the results may come before the team names
    # (a table with "Team 5001" first), but every publication is a new table, never a repeat.
    assert {e.type for e in events} == {"relay-standings.updated"}
    assert [e.payload["revision"] for e in events] == list(range(1, len(events) + 1))
    contents = [e.payload["standings"] for e in events]
    assert all(a != b for a, b in itertools.pairwise(contents))
    assert contents[-1] == second["standings"]


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_applications_are_checked_at_once_corrected_with_their_token_and_seen_by_organizers(
    service_process, kafka_bootstrap, edition
):
    teams = service_process("teams")
    organizer = auth(teams.token("organizer"))
    alpha, gamma = squad(101), squad(111)
    sixth_man, miler = Runner(121, "M"), Runner(1201, "M", "1000m")
    runners = [*alpha, *gamma, sixth_man, miler]
    await produce(kafka_bootstrap, [wrap(topics.PARTICIPANTS, r.paid(edition)) for r in runners])
    async with httpx.AsyncClient(base_url=teams.base_url, timeout=10) as client:
        created = await apply_for(client, "Alpha", alpha)
        assert created["state"] == "complete"
        assert created["findings"] == []
        alpha_token = created["application_token"]

        # Every refusal names its entry (line of the form), its BIB, and why.
        broken = await client.post(
            "/team-applications",
            json={
                "team_name": "Broken",
                "classification": "sprint",
                "entries": [
                    gamma[0].entry(full_name="Somebody Else"),
                    miler.entry(distance="100m"),
                    {"full_name": "Nobody", "bib": 999, "distance": "100m"},
                    alpha[5].entry(),
                    gamma[6].entry(gender="M"),
                ],
            },
        )
        assert broken.status_code == 422
        assert broken.headers["content-type"] == "application/problem+json"
        problem = broken.json()
        assert problem["type"].endswith("team-application-refused")
        assert {(e["entry"], e["bib"], e["code"]) for e in problem["errors"]} == {
            (1, 111, "name_mismatch"),
            (2, 1201, "distance_mismatch"),
            (3, 999, "unknown_bib"),
            (4, 106, "in_another_team"),
            (5, 117, "gender_mismatch"),
        }
        assert all(e["reason"] and e["clause"] for e in problem["errors"])
        six_men = await client.post(
            "/team-applications",
            json={
                "team_name": "Six",
                "classification": "sprint",
                "entries": [m.entry() for m in gamma[:5]] + [sixth_man.entry()],
            },
        )
        assert [(e["entry"], e["code"]) for e in six_men.json()["errors"]] == [
            (6, "too_many_results")
        ]
        medium = await client.post(
            "/team-applications",
            json={"team_name": "X", "classification": "marathon", "entries": []},
        )
        assert medium.status_code == 422

        # Nine results: stored, but incomplete until the tenth comes.
        incomplete = await client.post(
            "/team-applications",
            json={
                "team_name": "Gamma",
                "classification": "sprint",
                "entries": [m.entry() for m in gamma[:9]],
            },
        )
        assert incomplete.status_code == 201
        gamma_app = incomplete.json()
        assert gamma_app["state"] == "incomplete"
        assert [f["code"] for f in gamma_app["findings"]] == ["too_few_results"]
        taken = await client.post(
            "/team-applications",
            json={"team_name": "  ALPHA ", "classification": "sprint", "entries": []},
        )
        assert taken.status_code == 409

        listed = await client.get("/organizer/team-applications", headers=organizer)
        assert [(a["team_name"], a["state"]) for a in listed.json()] == [("Gamma", "incomplete")]
        assert (await client.get("/organizer/team-applications")).status_code == 401

        # Only the representative (the token) or an organizer may correct it.
        full = {
            "team_name": "Gamma",
            "classification": "sprint",
            "entries": [m.entry() for m in gamma],
        }
        url = f"/team-applications/{gamma_app['id']}"
        assert (await client.put(url, json=full)).status_code == 403
        wrong = await client.put(url, json=full, headers={"X-Application-Token": alpha_token})
        assert wrong.status_code == 403
        corrected = await client.put(
            url, json=full, headers={"X-Application-Token": gamma_app["application_token"]}
        )
        assert corrected.status_code == 200, corrected.text
        assert corrected.json()["state"] == "complete"
        assert corrected.json()["application_token"] is None
        mine = await client.get(
            url, headers={"X-Application-Token": gamma_app["application_token"]}
        )
        assert mine.json()["state"] == "complete"

        # A distance change gives a new BIB (reg 7.6): Alpha's entry no longer stands.
        moved = alpha[2]
        change = DistanceChanged(
            participant_id=moved.participant_id,
            registration_number=f"R-{moved.bib:06d}",
            edition=edition,
            contact=Contact(
                first_name=moved.first_name,
                last_name=moved.last_name,
                email=f"runner{moved.bib}@example.kz",
                language="ru",
            ),
            from_distance="100m",
            to_distance="1000m",
            age_category="18-34",
            old_bib=moved.bib,
            new_bib=1301,
            change_fee_kzt=1000,
            fee_difference_kzt=2000,
            changed_at=NOW,
        )
        await produce(kafka_bootstrap, [wrap(topics.PARTICIPANTS, change)])

        async def alpha_invalid() -> list[dict[str, Any]] | None:
            found = (await client.get("/organizer/team-applications", headers=organizer)).json()
            return found if [a["state"] for a in found] == ["invalid"] else None

        invalid = await eventually(alpha_invalid)
        assert invalid[0]["team_name"] == "Alpha"
        assert [(f["entry"], f["bib"], f["code"]) for f in invalid[0]["findings"]] == [
            (3, 103, "unknown_bib")
        ]

        # Public tables: nothing classified yet; ETag and 304.
        empty = await client.get("/standings/sprint")
        assert empty.json()["standings"] == []
        assert empty.json()["waiting_for"] == ["100m/F", "100m/M"]
        again = await client.get(
            "/standings/sprint", headers={"If-None-Match": empty.headers["etag"]}
        )
        assert again.status_code == 304
        no_protocol = await client.get("/organizer/protocol/sprint", headers=organizer)
        assert no_protocol.status_code == 409
        assert no_protocol.headers["content-type"] == "application/problem+json"

        men = [(r, i + 1, "OK") for i, r in enumerate(gamma[:5])]
        women = [(r, i + 1, "OK") for i, r in enumerate(gamma[5:])]
        await produce(
            kafka_bootstrap,
            [
                wrap(topics.STANDINGS, standings(edition, "M", 1, "official", men, 6)),
                wrap(topics.STANDINGS, standings(edition, "F", 1, "official", women, 5)),
            ],
        )
        table = await sprint_table(client, "official")
        assert [(t["place"], t["team_name"], t["points"]) for t in table["standings"]] == [
            (1, "Gamma", 30)
        ]
        fresh = await client.get(
            "/standings/sprint", headers={"If-None-Match": empty.headers["etag"]}
        )
        assert fresh.status_code == 200
        assert fresh.headers["etag"] != empty.headers["etag"]
        sheet = await client.get("/standings/sprint.csv")
        rows = list(csv.DictReader(io.StringIO(sheet.text)))
        assert len(rows) == 10
        assert (rows[0]["team_name"], rows[0]["full_name"], rows[0]["entry_points"]) == (
            "Gamma",
            "Runner111 Testov",
            "1",
        )
        assert {r["last_scorer_points"] for r in rows} == {"5"}
        cached = await client.get(
            "/standings/sprint.csv", headers={"If-None-Match": sheet.headers["etag"]}
        )
        assert cached.status_code == 304
        printed = await client.get("/organizer/protocol/sprint", headers=organizer)
        assert printed.headers["content-type"].startswith("text/plain")
        assert "Status: OFFICIAL" in printed.text
        assert "Gamma   30 points (points of the last scorer: 5)" in printed.text
        assert "Not classified:" in printed.text
        assert "Alpha: BIB 103" in printed.text
        assert (await client.get("/organizer/protocol/sprint")).status_code == 401


async def test_applications_close_before_the_third_of_march(service_process):
    # The real 2024 edition: reg 4.2.4 "before 03 March 2024", long past.
    teams = service_process("teams")
    async with httpx.AsyncClient(base_url=teams.base_url, timeout=10) as client:
        late = await client.post(
            "/team-applications",
            json={"team_name": "Late", "classification": "sprint", "entries": []},
        )
    assert late.status_code == 409
    assert late.json()["type"].endswith("team-applications-closed")
    assert "2024-03-02T18:59:59+00:00" in late.json()["detail"]
