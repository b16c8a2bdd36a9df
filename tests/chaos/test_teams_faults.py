"""Teams under faults (issue 8): killed while it consumes participants and standings."""

from __future__ import annotations

import itertools
import random
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from copa_contracts import topics
from copa_contracts.common import Contact
from copa_contracts.edition import find_editions_dir
from copa_contracts.envelope import Envelope
from copa_contracts.participants import ParticipantPaid
from copa_contracts.ranking import StandingsEntry, StandingsUpdated, standings_id

NOW = datetime(2024, 3, 17, 6, 0, tzinfo=UTC)
TEAMS = 12
LONE_RUNNERS = 600  # runners of no team: they place too, and make a long stream to consume
REVISIONS = 12  # of each gender's 100 m standings; the last is official


@pytest.fixture
def edition(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """An edition of the test's own, with team applications open (as the teams tests do)."""
    code = "c" + uuid.uuid4().hex[:10]
    source = (find_editions_dir() / "2024.toml").read_text()
    patched = source.replace('code = "2024"', f'code = "{code}"').replace(
        "applications_until_local = 2024-03-02T23:59:59",
        "applications_until_local = 2999-03-02T23:59:59",
    )
    assert patched.count(code) == 1
    assert "2999-03-02" in patched
    (tmp_path / f"{code}.toml").write_text(patched)
    monkeypatch.setenv("COPA_EDITIONS_DIR", str(tmp_path))
    monkeypatch.setenv("COPA_EDITION", code)
    return code


class Runner:
    def __init__(self, bib: int, gender: str) -> None:
        self.id = uuid.uuid5(uuid.NAMESPACE_URL, f"copa:chaos:teams:{bib}")
        self.bib = bib
        self.gender = gender

    @property
    def name(self) -> str:
        return f"Runner{self.bib} Teamov"

    def paid(self, edition: str) -> ParticipantPaid:
        return ParticipantPaid(
            participant_id=self.id,
            registration_number=f"R-{self.bib:06d}",
            edition=edition,
            contact=Contact(
                first_name=f"Runner{self.bib}",
                last_name="Teamov",
                email=f"runner{self.bib}@example.kz",
                language="ru",
            ),
            distance="100m",
            gender=self.gender,  # type: ignore[arg-type]
            age_category="18-34",
            bib=self.bib,
            amount_kzt=5000,
            payment_method="online",
            paid_at=NOW,
        )


SQUADS = [
    [Runner(100 + 10 * t + i, "M" if i < 5 else "F") for i in range(10)] for t in range(TEAMS)
]
LONE = [Runner(1000 + n, "M" if n % 2 else "F") for n in range(LONE_RUNNERS)]
EVERYONE = [r for squad in SQUADS for r in squad] + LONE


def placings(seed: int) -> dict[str, list[Runner]]:
    """Each gender's finishing order (the place is the position, reg 4.2.4)."""
    rng = random.Random(seed)
    orders = {}
    for gender in "MF":
        runners = [r for r in EVERYONE if r.gender == gender]
        rng.shuffle(runners)
        orders[gender] = runners
    return orders


def points_of(orders: dict[str, list[Runner]]) -> list[int]:
    place = {r.id: n + 1 for order in orders.values() for n, r in enumerate(order)}
    return [sum(place[r.id] for r in squad) for squad in SQUADS]


# A final order in which no two teams tie on points, so that the expected table needs no
# tie-break (the first such seed, found the same way on every run).
FINAL_SEED = next(s for s in itertools.count() if len(set(points_of(placings(s)))) == TEAMS)


def standings(edition: str, gender: str, revision: int) -> StandingsUpdated:
    order = placings(FINAL_SEED if revision == REVISIONS else 1000 + revision)[gender]
    return StandingsUpdated(
        standings_id=standings_id(edition, "100m", gender, None),
        edition=edition,
        distance="100m",
        gender=gender,  # type: ignore[arg-type]
        age_category=None,
        status="official" if revision == REVISIONS else "provisional",
        revision=revision,
        entrants_count=len(order),
        entries=tuple(
            StandingsEntry(
                place=n + 1,
                participant_id=r.id,
                bib=r.bib,
                age_category="18-34",
                status="OK",
                gun_time_us=11_000_000 + n * 10_000,
                official_time_us=11_000_000 + n * 10_000,
                race_id=None,
            )
            for n, r in enumerate(order)
        ),
    )


async def test_teams_killed_while_consuming_ends_with_the_tables_the_inputs_give(
    chaos, start_service, broker_factory, edition
):
    """720 paid participants, 12 team applications, then 12 revisions of the men's and the
    women's 100 m standings (each a new finishing order, the last official). Teams is
    SIGKILLed once it consumes the standings, and the rest arrive while it is down.
    Expected: every participant known once; the Sprint table is the one the official
    standings give (each team's points the sum of its entries' places, in that order,
    official, nothing pending); on `teams.standings.v1` the revisions 1, 2, ... each once,
    no table published twice, and the last one is the table served."""
    broker = broker_factory()
    teams = start_service("teams", broker.bootstrap)
    await chaos.produce(
        broker.bootstrap, [chaos.wrap(r.paid(edition), str(r.id)) for r in EVERYONE]
    )

    async def participants() -> int:
        return int(await chaos.scalar(teams, "SELECT count(*) FROM participants") or 0)

    await chaos.eventually(lambda: _at_least(participants, len(EVERYONE)), "the participants")
    async with httpx.AsyncClient(base_url=teams.base_url, timeout=30) as client:
        for n, squad in enumerate(SQUADS):
            body = {
                "team_name": f"Team {n:02d}",
                "classification": "sprint",
                "entries": [{"full_name": r.name, "bib": r.bib, "distance": "100m"} for r in squad],
            }
            applied = await client.post("/team-applications", json=body)
            assert applied.status_code == 201, applied.text

    def revisions(numbers: range) -> list[tuple[str, Envelope]]:
        return [
            chaos.wrap(standings(edition, gender, revision), f"{gender}/{revision}")
            for revision in numbers
            for gender in "MF"
        ]

    before = await _processed(chaos, teams)
    await chaos.produce(broker.bootstrap, revisions(range(1, REVISIONS // 2 + 1)))
    await chaos.eventually(
        lambda: _at_least(lambda: _processed(chaos, teams), before + 1), "standings consumed"
    )
    teams.kill()
    at_kill = await _processed(chaos, teams)
    await chaos.produce(broker.bootstrap, revisions(range(REVISIONS // 2 + 1, REVISIONS + 1)))
    teams.start()
    await chaos.eventually(
        lambda: _at_least(lambda: _processed(chaos, teams), before + 2 * REVISIONS),
        "every revision consumed",
    )
    assert at_kill < before + 2 * REVISIONS

    async with httpx.AsyncClient(base_url=teams.base_url, timeout=30) as client:
        table = (await client.get("/standings/sprint")).json()
    points = points_of(placings(FINAL_SEED))
    expected = sorted(
        ((f"Team {n:02d}", p) for n, p in enumerate(points)), key=lambda item: item[1]
    )
    assert (table["status"], table["waiting_for"]) == ("official", [])
    assert [
        (t["place"], t["team_name"], t["points"], t["pending_entries"]) for t in table["standings"]
    ] == [(n + 1, name, p, 0) for n, (name, p) in enumerate(expected)]
    assert await participants() == len(EVERYONE)

    published = [
        e
        for e in chaos.distinct(
            await chaos.read_topic(broker.bootstrap, topics.TEAM_STANDINGS.name)
        ).values()
        if e.key == "sprint"
    ]
    published.sort(key=lambda e: e.payload["revision"])
    assert [e.payload["revision"] for e in published] == list(range(1, len(published) + 1))
    contents = [(e.payload["status"], e.payload["standings"]) for e in published]
    assert all(a != b for a, b in itertools.pairwise(contents)), "a table published twice"
    assert published[-1].payload["revision"] == table["revision"]
    assert [(t["team_name"], t["points"]) for t in published[-1].payload["standings"]] == expected


async def _processed(chaos, teams) -> int:
    count = await chaos.scalar(
        teams,
        "SELECT count(*) FROM processed_events WHERE topic = $1",
        topics.STANDINGS.name,
    )
    return int(count or 0)


async def _at_least(count, wanted: int) -> bool:
    return await count() >= wanted
