"""``copa simulate``: a whole edition played through the five services, then checked (issue 8).

Phases, each timed and counted in the report:

1. registration: everyone applies through the public API; 3000 m qualifying results are
   accepted by an organizer (reg 4.2.3); payers pay through the sandbox provider's signed
   callbacks; some abandon (their holds expire, RULES §3), some pay twice (the same
   transaction twice: applied once), some pay after their hold ran out (a fresh slot);
   a few change distance and pay the fee (reg 7.6); a company's staff are registered from its
   list by an organizer and paid by one bank transfer (reg 7.2); a few are granted a free slot
   (reg 7.13); relay teams of four enter and pay the team fee (RULES §8);
2. kits: on a kit day (reg 8.1) every participant collects a kit, a chip paired with the BIB,
   and every relay runner a chip of their own (RULES §8);
3. teams: team applications of 5 men's and 5 women's results per classification (reg 4.2.4);
4. draw: once ranking holds every confirmed starter and relay team, entries close, the draw
   runs and the schedule is published (reg 11.3, RULES §5);
5. races, in schedule order (finals once their round 1 is confirmed): the start signal, the
   devices' posts in their raw formats (:mod:`copa.simulate.races`), the photo-finish file
   of every 100 m race; judges rule DNS/DNF/DQ and the chief judge confirms (reg 15.2);
6. a protest (reg 17) against a disqualification, upheld: the results are corrected;
7. verification against the simulation's truth (:mod:`copa.simulate.truth`): every race's
   places, official times, statuses and qualifiers, the division of every group, every
   category's standings and each gender's overall standings, the team classifications and
   the relay's standings and prizes; e-mails delivered.

Read-to-published-result latency: from the acknowledgement of the device post carrying a
runner's finish to the first public race page showing them placed (woken by the public
server-sent-events stream); next to it, in the same run, the broker's own produce-to-consume
round trip.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import random
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TextIO, TypeVar

import httpx

from copa.simulate import truth
from copa.simulate.field import (
    COMPANY,
    FieldPlan,
    Person,
    RelayPlan,
    TeamPlan,
    plan_field,
    plan_relay,
    plan_teams,
)
from copa.simulate.platform import SimulationError, Target, call
from copa.simulate.races import (
    Outcome,
    RaceRun,
    Read,
    RelayTeam,
    Runner,
    device_posts,
    local_day,
    render_finish,
    render_start_mat,
    run_race,
    run_relay,
)
from copa_contracts.edition import Edition

T = TypeVar("T")


@dataclass(frozen=True)
class Options:
    applicants: int = 700
    seed: int = 2024
    distances: tuple[str, ...] | None = None
    speed: float = 60.0
    """Simulated race time runs this many times faster than the wall clock."""
    concurrency: int = 16
    protest: bool = True
    wait_s: float = 120.0
    relay_teams: int | None = None
    """Relay teams entered; by default one for every 25 applicants, 2 to 28 (the news
    report's edition had 28, RULES §8)."""

    def relay_count(self) -> int:
        if self.relay_teams is not None:
            return self.relay_teams
        return min(28, max(2, self.applicants // 25))


@dataclass
class Phase:
    name: str
    started: float
    ended: float = 0.0
    operations: int = 0
    what: str = ""

    @property
    def seconds(self) -> float:
        return self.ended - self.started


@dataclass
class Entrant:
    person: Person
    registration_id: str
    token: str | None
    """The personal token; none for an entry an organizer made from a company's list."""
    bib: int | None = None
    chip: str | None = None


@dataclass
class RelayEntrant:
    plan: RelayPlan
    team_id: str
    token: str
    bib: int | None = None
    member_ids: tuple[str, ...] = ()
    """In leg order."""
    chips: tuple[str, ...] = ()


@dataclass
class Report:
    phases: list[Phase] = field(default_factory=list)
    mismatches: list[str] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)
    broker_ms: list[float] = field(default_factory=list)
    race_latencies_ms: dict[str, list[float]] = field(default_factory=dict)
    """The same latencies by race, to find where the slow ones were."""
    counts: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def render(self) -> str:
        lines = ["", "copa simulate: report", ""]
        lines.append(f"{'phase':<14}{'seconds':>9}{'operations':>12}{'per second':>12}  what")
        for p in self.phases:
            rate = p.operations / p.seconds if p.seconds > 0 else 0.0
            lines.append(f"{p.name:<14}{p.seconds:>9.1f}{p.operations:>12,}{rate:>12.1f}  {p.what}")
        total = sum(p.seconds for p in self.phases)
        lines.append(f"{'total':<14}{total:>9.1f}")
        lines.append("")
        for key, value in self.counts.items():
            lines.append(f"  {key}: {value:,}")
        lines.append("")
        lines.append(f"{'latency':<58}{'n':>6}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}")
        for name, values in (
            ("broker alone: produce -> consume (same run)", self.broker_ms),
            ("finish read posted -> result on the public race page", self.latencies_ms),
        ):
            if values:
                lines.append(
                    f"{name:<58}{len(values):>6}{percentile(values, 0.5):>9.1f}"
                    f"{percentile(values, 0.99):>9.1f}{max(values):>9.1f}"
                )
            else:
                lines.append(f"{name:<58}{0:>6}  (not measured)")
        for label, values in self.slowest_races():
            lines.append(
                f"{'  slowest race: ' + label:<58}{len(values):>6}{percentile(values, 0.5):>9.1f}"
                f"{percentile(values, 0.99):>9.1f}{max(values):>9.1f}"
            )
        for note in self.notes:
            lines.append(f"note: {note}")
        lines.append("")
        lines.append(f"mismatches: {len(self.mismatches)}")
        lines.extend(f"  {m}" for m in self.mismatches[:200])
        if len(self.mismatches) > 200:
            lines.append(f"  ... and {len(self.mismatches) - 200} more")
        return "\n".join(lines)

    def slowest_races(self, count: int = 5) -> list[tuple[str, list[float]]]:
        """The races whose slowest finish took longest to be shown."""
        ranked = sorted(self.race_latencies_ms.items(), key=lambda item: -max(item[1]))
        return ranked[:count]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class Simulation:
    def __init__(self, target: Target, options: Options, out: TextIO = sys.stderr) -> None:
        self.target = target
        self.options = options
        self.out = out
        self.rng = random.Random(options.seed)
        self.report = Report()
        self.edition: Edition
        self.entrants: list[Entrant] = []
        self.by_bib: dict[int, Entrant] = {}
        self.relay: dict[int, RelayEntrant] = {}
        self.teams: list[TeamPlan] = []
        self.outcomes: dict[str, dict[int, Outcome]] = {}
        self.races: dict[str, dict[str, Any]] = {}
        self.clock_offset = dt.timedelta(0)
        self.changes = asyncio.Event()
        self.sequence = 0

    # --- the phases -----------------------------------------------------------------------

    async def run(self) -> Report:
        self.edition = await self.target.edition()
        self._say(
            f"edition {self.edition.code} ({self.edition.name}, {self.edition.date}); "
            f"{self.options.applicants} applicants, seed {self.options.seed}"
        )
        plan = plan_field(
            self.edition,
            self.options.applicants,
            self.options.seed,
            distances=self.options.distances,
        )
        stream = asyncio.create_task(self._listen())
        try:
            await self._phase("registration", self._registration(plan))
            await self._phase("kits", self._kits())
            await self._phase("teams", self._team_applications())
            await self._phase("draw", self._draw())
            await self._phase("races", self._race_day())
            if self.options.protest:
                await self._phase("protest", self._protest())
            await self._phase("verification", self._verify())
            if self.target.bootstrap:
                await self._no_dead_letters(self.target.bootstrap)
                self.report.broker_ms = await broker_round_trips(self.target.bootstrap, 200)
        finally:
            stream.cancel()
        return self.report

    async def _phase(self, name: str, work: Awaitable[tuple[int, str]]) -> None:
        phase = Phase(name, time.perf_counter())
        self._say(f"== {name}")
        phase.operations, phase.what = await work
        phase.ended = time.perf_counter()
        self.report.phases.append(phase)
        self._say(f"   {name}: {phase.what} ({phase.seconds:.1f} s)")

    async def _registration(self, plan: FieldPlan) -> tuple[int, str]:
        registration = self.target.http("registration")
        organizer = self.target.bearer("organizer")
        calls = 0
        await self._set_clock(dt.datetime.now(dt.UTC))
        abandoning = [p for p in plan.people if p.behaviour == "abandons"]
        listed = [p for p in plan.people if p.channel == "corporate"]
        others = [p for p in plan.people if p.behaviour != "abandons" and p.channel != "corporate"]

        async def apply(person: Person) -> Entrant:
            nonlocal calls
            body: dict[str, Any] = {
                "distance": person.distance,
                "first_name": person.first_name,
                "last_name": person.last_name,
                "gender": person.gender,
                "birth_date": person.birth_date.isoformat(),
                "email": person.email,
                "phone": person.phone,
                "language": person.language,
                "club": person.club,
            }
            if person.qualifying_time_us is not None:
                body["qualifying_result"] = {
                    "distance_m": 3000,
                    "time_us": person.qualifying_time_us,
                    "result_date": (self.edition.date - dt.timedelta(days=200)).isoformat(),
                    "event_name": "Almaty Spring 3000",
                    "evidence_url": f"https://results.example.kz/{person.number}",
                }
            answer = await call(
                registration,
                "POST",
                "/applications",
                json=body,
                headers={"Idempotency-Key": f"sim-{self.options.seed}-{person.number}"},
                expect=(201,),
            )
            calls += 1
            data = answer.json()
            entrant = Entrant(person, str(data["registration_id"]), data["personal_token"])
            if data["status"] == "awaiting_qualification":
                await call(
                    registration,
                    "POST",
                    f"/organizer/qualifications/{entrant.registration_id}/accept",
                    json={"note": "result checked on the organizer's site"},
                    headers=organizer,
                )
                calls += 1
            return entrant

        async def pay(entrant: Entrant, *, twice: bool = False) -> None:
            nonlocal calls
            payment = await self._start_payment(entrant)
            calls += 1
            await self._pay(payment, twice=twice)
            calls += 2 if twice else 1

        # Those who abandon apply first; their holds run out before the others apply.
        await self._each(abandoning, apply)
        hold = dt.timedelta(minutes=self.edition.registration.hold_minutes + 1)
        if abandoning:
            await self._set_clock(self._now() + hold)
        entrants = await self._each(others, apply)
        late = [e for e in entrants if e.person.behaviour == "pays_late"]
        await self._each(
            [
                e
                for e in entrants
                if e.person.behaviour != "pays_late" and e.person.channel == "online"
            ],
            lambda e: pay(e, twice=e.person.behaviour == "pays_twice"),
        )
        granted = [e for e in entrants if e.person.channel == "free_slot"]
        await self._each(granted, self._free_slot)
        calls += 2 * len(granted)
        if listed:
            entrants += await self._corporate_batch(listed)
            calls += 2 + len(listed)
        payments = await self._each(late, self._start_payment)
        if late:
            await self._set_clock(self._now() + hold)  # RULES §3: paid after the hold ran out
            await self._each(payments, self._pay)
            calls += 2 * len(late)

        # reg 7.6: a distance change before the deadline, its fee paid online.
        changers = [e for e in entrants if e.person.races_distance != e.person.distance]

        async def change(entrant: Entrant) -> None:
            nonlocal calls
            await call(
                registration,
                "POST",
                f"/applications/{entrant.registration_id}/distance-change",
                json={"to_distance": entrant.person.races_distance},
                headers={"X-Personal-Token": entrant.token},
            )
            await pay(entrant)
            calls += 1

        await self._each(changers, change)

        async def state(entrant: Entrant) -> None:
            if entrant.token is None:  # a company's entry: the organizer's desk shows it
                data = await self._found(entrant.registration_id)
            else:
                answer = await call(
                    registration,
                    "GET",
                    f"/applications/{entrant.registration_id}",
                    headers={"X-Personal-Token": entrant.token},
                )
                data = answer.json()
            if data["status"] != "paid" or data["bib"] is None:
                self.report.mismatches.append(
                    f"registration {entrant.person.number}: {data['status']}, expected paid"
                )
                return
            if data["distance"] != entrant.person.races_distance:
                self.report.mismatches.append(
                    f"registration {entrant.person.number}: on {data['distance']}, expected "
                    f"{entrant.person.races_distance}"
                )
            entrant.bib = int(data["bib"])

        await self._each(entrants, state)
        relay = plan_relay(self.edition, self.options.relay_count(), self.options.seed)
        await self._each(relay, self._relay_team)
        calls += 4 * len(relay)
        if self.report.mismatches:  # racing a field that is not the one entered proves nothing
            raise SimulationError("registration went wrong: " + "; ".join(self.report.mismatches))
        self.entrants = [e for e in entrants if e.bib is not None]
        self.by_bib = {e.bib: e for e in self.entrants if e.bib is not None}
        counts = await call(registration, "GET", "/organizer/counts", headers=organizer)
        self.report.counts |= {
            "applicants": len(plan.people),
            "abandoned (hold expired)": len(abandoning),
            "paid twice (same callback again)": sum(
                e.person.behaviour == "pays_twice" for e in entrants
            ),
            "paid after the hold ran out": len(late),
            "distance changes": len(changers),
            "corporate entries (one bank transfer, reg 7.2)": len(listed),
            "free slots granted (reg 7.13)": len(granted),
            "participants": len(self.entrants),
            "relay teams (RULES §8)": len(self.relay),
        }
        paid = _paid_total(counts.json())
        if paid != len(self.entrants):
            self.report.mismatches.append(
                f"registration counts {paid} paid participants, expected {len(self.entrants)}"
            )
        return calls, f"{len(self.entrants)} participants of {len(plan.people)} applicants"

    async def _free_slot(self, entrant: Entrant) -> None:
        """reg 7.13: the request with the documents, then an organizer's grant from the pool."""
        registration = self.target.http("registration")
        person = entrant.person
        await call(
            registration,
            "POST",
            f"/applications/{entrant.registration_id}/free-slot-request",
            json={
                "full_name": person.full_name,
                "distance": person.distance,
                "documents": [f"https://docs.example.kz/disability/{person.number}.pdf"],
            },
            headers={"X-Personal-Token": entrant.token or ""},
            expect=(202,),
        )
        answer = await call(
            registration,
            "POST",
            f"/organizer/free-slots/{entrant.registration_id}/grant",
            headers=self.target.bearer("organizer"),
        )
        if not answer.json().get("granted"):
            self.report.mismatches.append(
                f"free slot for applicant {person.number} refused: {answer.json()}"
            )

    async def _corporate_batch(self, people: list[Person]) -> list[Entrant]:
        """reg 7.2: an organizer registers the company's list, then confirms its transfer."""
        registration = self.target.http("registration")
        organizer = self.target.bearer("organizer")
        batch = await call(
            registration,
            "POST",
            "/organizer/corporate-batches",
            json={
                "company_name": COMPANY,
                "contact": {
                    "first_name": "Aliya",
                    "last_name": "Zhakupova",
                    "email": "hr@techpark.sim.copa.example",
                    "language": "ru",
                },
                "entries": [
                    {
                        "distance": p.distance,
                        "first_name": p.first_name,
                        "last_name": p.last_name,
                        "gender": p.gender,
                        "birth_date": p.birth_date.isoformat(),
                        "email": p.email,
                        "phone": p.phone,
                        "language": p.language,
                        "club": p.club,
                    }
                    for p in people
                ],
            },
            headers=organizer,
            expect=(201,),
        )
        created = batch.json()
        expected_total = sum(self.edition.distance(p.distance).fee_kzt for p in people)
        if created["invoice_total_kzt"] != expected_total:
            self.report.mismatches.append(
                f"corporate invoice {created['invoice_total_kzt']} KZT, expected {expected_total}"
            )
        await call(
            registration,
            "POST",
            f"/organizer/corporate-batches/{created['corporate_batch_id']}/confirm",
            json={
                "transfer_reference": f"sim-transfer-{self.options.seed}",
                "amount_kzt": created["invoice_total_kzt"],
            },
            headers=organizer,
        )
        numbers = created["registration_numbers"]
        if len(numbers) != len(people):
            raise SimulationError(f"corporate batch: {len(numbers)} entries of {len(people)}")
        return [
            Entrant(person, str((await self._found(number))["id"]), None)
            for person, number in zip(people, numbers, strict=True)
        ]

    async def _found(self, term: str) -> dict[str, Any]:
        """The one paid participant the kit desk's search finds by registration ID or number."""
        answer = await call(
            self.target.http("registration"),
            "GET",
            "/organizer/kit-desk/search",
            params={"q": term},
            headers=self.target.bearer("organizer"),
        )
        found = answer.json()
        if len(found) != 1:
            raise SimulationError(f"the kit desk finds {len(found)} paid entries for {term}")
        return {**found[0], "status": "paid"}

    async def _relay_team(self, plan: RelayPlan) -> None:
        """RULES §8: a team of four in leg order, the team fee paid online."""
        registration = self.target.http("registration")
        captain = plan.captain
        answer = await call(
            registration,
            "POST",
            "/relay-teams",
            json={
                "team_name": plan.team_name,
                "captain_first_name": captain.first_name,
                "captain_last_name": captain.last_name,
                "captain_email": captain.email,
                "captain_phone": f"+7 702 000 {plan.number:04d}",
                "language": "en",
                "runners": [
                    {
                        "first_name": r.first_name,
                        "last_name": r.last_name,
                        "gender": r.gender,
                        "birth_date": r.birth_date.isoformat(),
                        "email": r.email,
                    }
                    for r in plan.runners
                ],
            },
            headers={"Idempotency-Key": f"sim-{self.options.seed}-relay-{plan.number}"},
            expect=(201,),
        )
        created = answer.json()
        team = RelayEntrant(plan, str(created["relay_team_id"]), created["personal_token"])
        token = {"X-Personal-Token": team.token}
        payment = await call(
            registration, "POST", f"/relay-teams/{team.team_id}/payments", headers=token
        )
        await self._pay(str(payment.json()["payment_id"]))
        data = (
            await call(registration, "GET", f"/relay-teams/{team.team_id}", headers=token)
        ).json()
        if data["status"] != "paid" or data["bib"] is None:
            self.report.mismatches.append(f"relay team {plan.team_name}: {data['status']}")
            return
        team.bib = int(data["bib"])
        team.member_ids = tuple(
            str(m["member_id"]) for m in sorted(data["members"], key=lambda m: m["leg"])
        )
        self.relay[team.bib] = team

    async def _start_payment(self, entrant: Entrant) -> str:
        answer = await call(
            self.target.http("registration"),
            "POST",
            f"/applications/{entrant.registration_id}/payments",
            headers={"X-Personal-Token": entrant.token},
        )
        return str(answer.json()["payment_id"])

    async def _pay(self, payment_id: str, *, twice: bool = False) -> None:
        transaction = f"sim-{payment_id}"
        for _ in range(2 if twice else 1):
            for attempt in range(3):  # 503: the callback was not delivered; pay again
                answer = await call(
                    self.target.http("registration"),
                    "POST",
                    f"/sandbox-pay/{payment_id}/pay",
                    json={"transaction_id": transaction},
                    expect=(200, 503),
                )
                if answer.status_code == 200:
                    callback = answer.json()
                    if callback.get("callback_status") != 200:
                        raise SimulationError(f"payment {payment_id}: callback {callback}")
                    break
                await asyncio.sleep(0.5 * (attempt + 1))
            else:
                raise SimulationError(f"payment {payment_id}: {answer.text[:300]}")

    async def _kits(self) -> tuple[int, str]:
        kit = self.edition.kit_issue
        day = dt.datetime.combine(kit.days[0], kit.opens_at, tzinfo=self.edition.zone)
        await self._set_clock(day + dt.timedelta(hours=1))
        organizer = self.target.bearer("organizer")

        async def issue(entrant: Entrant) -> None:
            entrant.chip = f"{900_000_000_000 + entrant.person.number:012d}"
            await call(
                self.target.http("registration"),
                "POST",
                f"/organizer/kit-desk/{entrant.registration_id}/issue",
                json={
                    "chip": entrant.chip,
                    "collected_by": "participant",
                    "id_document_seen": "original",
                    "health_acknowledgement_seen": "original",
                },
                headers=organizer,
            )

        async def issue_relay(team: RelayEntrant) -> None:
            team.chips = tuple(
                f"{950_000_000_000 + team.plan.number * 10 + leg:012d}"
                for leg in range(1, len(team.member_ids) + 1)
            )
            await call(
                self.target.http("registration"),
                "POST",
                f"/organizer/kit-desk/relay-teams/{team.team_id}/issue",
                json={"chips": dict(zip(team.member_ids, team.chips, strict=True))},
                headers=organizer,
            )

        await self._each(self.entrants, issue)
        await self._each(self.relay.values(), issue_relay)
        kits = len(self.entrants) + len(self.relay)
        return kits, (
            f"{len(self.entrants)} kits with chips (reg 8.1), {len(self.relay)} relay teams' "
            "chips (RULES §8)"
        )

    async def _team_applications(self) -> tuple[int, str]:
        """reg 4.2.4: each team's form of 5 men's and 5 women's results, submitted once the
        teams service knows the participants (it learns them from the bus)."""
        self.teams = plan_teams(
            self.edition,
            [(e.person, e.bib) for e in self.entrants if e.bib is not None],
            self.options.seed,
        )
        teams = self.target.http("teams")

        async def submit(plan: TeamPlan) -> None:
            body = {
                "team_name": plan.team_name,
                "classification": plan.classification,
                "entries": [
                    {"full_name": e.full_name, "bib": e.bib, "distance": e.distance}
                    for e in plan.entries
                ],
            }
            deadline = time.perf_counter() + self.options.wait_s
            while True:
                answer = await teams.post("/team-applications", json=body)
                if answer.status_code == 201 and answer.json()["state"] == "complete":
                    return
                unknown = answer.status_code == 422 and all(
                    e.get("code") == "unknown_bib" for e in answer.json().get("errors", [])
                )
                if not unknown or time.perf_counter() > deadline:
                    self.report.mismatches.append(
                        f"team {plan.team_name}: {answer.status_code} {answer.text[:300]}"
                    )
                    return
                await asyncio.sleep(0.5)  # the participants are still on their way

        await self._each(self.teams, submit)
        self.report.counts["team applications (reg 4.2.4)"] = len(self.teams)
        codes = sorted({t.classification for t in self.teams})
        return len(self.teams), f"{len(self.teams)} team applications ({', '.join(codes)})"

    async def _draw(self) -> tuple[int, str]:
        ranking = self.target.http("ranking")
        organizer = self.target.bearer("organizer")

        async def all_confirmed() -> bool:
            answer = await call(ranking, "GET", "/organizer/starters", headers=organizer)
            starters = answer.json()
            return bool(
                starters["confirmed"] == len(self.entrants)
                and starters["relay_teams"] == len(self.relay)
            )

        await self._wait(
            all_confirmed, "every confirmed starter and relay team on ranking's roster"
        )
        drawn = await call(
            ranking,
            "POST",
            "/organizer/draw",
            json={"seed": f"sim-{self.options.seed}"},
            headers=organizer,
        )
        draw = drawn.json()
        if not draw.get("fits", True):
            self.report.notes.append(f"the schedule does not fit the day: {draw.get('report')}")
        await call(ranking, "POST", "/organizer/schedule/publish", headers=organizer)
        for device, point in (("sim-start", "start"), *((f"sim-{f}", "finish") for f in FORMATS)):
            await call(
                self.target.http("timing-ingest"),
                "PUT",
                f"/devices/{device}",
                json={"time_zone": self.edition.time_zone, "timing_point": point},
                headers=self.target.bearer("organizer", "timing_device", device=device),
            )
        return 3, f"{draw['races']} races drawn and scheduled"

    async def _race_day(self) -> tuple[int, str]:
        ranking = self.target.http("ranking")
        done: set[str] = set()
        reads = 0
        waiting_since = time.perf_counter()
        while True:
            listed = (await call(ranking, "GET", "/public/races")).json()
            pending = sorted(
                (r for r in listed if r["race_id"] not in done),
                key=lambda r: (r["scheduled_start_at"], r["race_number"]),
            )
            if not pending:
                if self._finals_due():
                    if time.perf_counter() > waiting_since + self.options.wait_s:
                        raise SimulationError("a final was never published after its round 1")
                    await asyncio.sleep(0.2)
                    continue
                break
            waiting_since = time.perf_counter()
            race = pending[0]
            reads += await self._run_race(race)
            done.add(race["race_id"])
            self._say(f"   race {len(done)}: {_label(race)}")
        self.report.counts["races run"] = len(done)
        self.report.counts["reads posted (re-sends included)"] = reads
        return reads, f"{len(done)} races, {reads:,} reads posted"

    def _finals_due(self) -> bool:
        """A group with heats whose final is not published yet (it follows round 1's
        confirmation, reg 11.3.2)."""
        groups: dict[tuple[str, str, str], set[str]] = defaultdict(set)
        for race in self.races.values():
            groups[(race["distance"], race["gender"], race["category"])].add(race["round"])
        return any("heat" in rounds and "final" not in rounds for rounds in groups.values())

    async def _run_race(self, summary: dict[str, Any]) -> int:
        race_id = summary["race_id"]
        ranking = self.target.http("ranking")
        page = (await call(ranking, "GET", f"/public/races/{race_id}")).json()
        self.races[race_id] = page
        gun = dt.datetime.fromisoformat(page["scheduled_start_at"]) + dt.timedelta(
            microseconds=self.rng.randint(0, 999_999)
        )
        run = self._relay_run(page, gun) if _is_relay(self.edition, page) else self._run(page, gun)
        self.outcomes[race_id] = run.outcomes
        timing = self.target.http("timing-ingest")
        await call(
            timing,
            "POST",
            f"/races/{race_id}/start",
            json={
                "fired_at": gun.isoformat(),
                "source": "start_system",
                "signal_id": str(uuid.uuid4()),
            },
            headers=self.target.bearer("timing_device", device="sim-start"),
        )
        # The partner's page is watched while the devices post, as a partner's would be: a
        # runner's latency ends when the page first shows them placed, whatever came after.
        posting_done = asyncio.Event()
        watch = asyncio.create_task(self._await_results(race_id, run, posting_done))
        try:
            posted, finish_posted_at = await self._post_reads(run, gun)
            if run.lif is not None:
                await call(
                    timing,
                    "POST",
                    f"/races/{race_id}/photo-finish",
                    params={"file_name": f"race-{page['race_number']}.lif"},
                    content=run.lif.encode(),
                    headers={
                        **self.target.bearer("timing_device", device="sim-photo"),
                        "Content-Type": "text/plain",
                    },
                )
        except BaseException:
            watch.cancel()
            raise
        posting_done.set()
        placed_at = await watch
        for bib, acknowledged in finish_posted_at.items():
            if bib in placed_at:
                # Shown before the device's answer reached us: the pipeline beat the answer.
                latency = max(0.0, placed_at[bib] - acknowledged) * 1000
                self.report.latencies_ms.append(latency)
                label = f"race {page['race_number']}: {_label(page)}"
                self.report.race_latencies_ms.setdefault(label, []).append(latency)
        await self._judge(race_id, run)
        return posted

    def _run(self, page: dict[str, Any], gun: dt.datetime) -> RaceRun:
        runners = []
        for line in page["start_list"]:
            entrant = self.by_bib.get(line["bib"])
            if entrant is None or entrant.chip is None:
                self.report.mismatches.append(f"{_label(page)}: BIB {line['bib']} never entered")
                continue
            runners.append(
                Runner(
                    line["bib"],
                    entrant.chip,
                    line.get("lane"),
                    entrant.person.ability_us,
                    entrant.person.last_name,
                    entrant.person.first_name,
                    entrant.person.club,
                )
            )
        round_number = 2 if page["round"] == "final" else 1
        return run_race(
            self.rng,
            self.edition.distance(page["distance"]),
            runners,
            gun,
            race_label=(page["race_number"], round_number, page["heat_number"] or 1, _label(page)),
            time_zone=self.edition.zone,
            # The protest needs a disqualification in a race that decides places.
            force_dq=self.options.protest and page["round"] != "heat" and not self._protestable(),
        )

    def _relay_run(self, page: dict[str, Any], gun: dt.datetime) -> RaceRun:
        teams = []
        for line in page["start_list"]:
            team = self.relay.get(line["bib"])
            if team is None or not team.chips:
                self.report.mismatches.append(f"{_label(page)}: BIB {line['bib']} never entered")
                continue
            legs = tuple(r.leg_us for r in team.plan.runners)
            teams.append(RelayTeam(line["bib"], team.chips, legs))
        return run_relay(self.rng, self.edition.relay, teams, gun)

    async def _post_reads(self, run: RaceRun, gun: dt.datetime) -> tuple[int, dict[int, float]]:
        """Both devices' posts in time order, paced at ``speed``; when each finish went out."""
        finish_device = f"sim-{run.finish_format}"
        chip_bib = run.chip_bib
        # The read that carries a runner's finish: the earliest of the last crossing's reads
        # (crossings are a lap apart; a crossing's reads lie within 0.4 s of it).
        finish_read: dict[int, Read] = {}
        for read in sorted(run.finish_reads, key=lambda r: r.at):
            bib = chip_bib[read.chip]
            outcome = run.outcomes[bib]
            last = gun + dt.timedelta(microseconds=outcome.crossings_us[-1] - 400_000)
            if bib not in finish_read and outcome.status != "DNF" and read.at >= last:
                finish_read[bib] = read
        posts = [
            (reads, resend, finish_device, False)
            for reads, resend in device_posts(self.rng, run.finish_reads, zone=self.edition.zone)
        ]
        posts += [
            (reads, resend, "sim-start", True)
            for reads, resend in device_posts(
                self.rng, run.start_reads, resend_share=0.0, zone=self.edition.zone
            )
        ]
        posts.sort(key=lambda p: min(r.at for r in p[0]))
        timing = self.target.http("timing-ingest")
        tokens = {
            device: self.target.bearer("timing_device", device=device)
            for device in (finish_device, "sim-start")
        }
        finish_posted_at: dict[int, float] = {}
        started = time.perf_counter()
        first_at = min((min(r.at for r in p[0]) for p in posts), default=gun)
        count = 0
        sent_bodies: dict[int, tuple[str, str]] = {}
        for reads, resend, device, is_start in posts:
            due = (min(r.at for r in reads) - first_at).total_seconds() / self.options.speed
            delay = started + due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            if resend and id(reads) in sent_bodies:
                body, fmt = sent_bodies[id(reads)]  # a re-send is the same bytes again
            elif is_start:
                body, fmt = render_start_mat(reads), "csv"
            else:
                body, fmt = (
                    render_finish(run.finish_format, reads, self.edition.zone, self.sequence),
                    (run.finish_format),
                )
                self.sequence += len(reads)
            sent_bodies[id(reads)] = (body, fmt)
            answer = await call(
                timing,
                "POST",
                "/reads/raw",
                # The day the reads' times of day belong to: a long programme runs past midnight.
                params={"format": fmt, "day": local_day(reads[0], self.edition.zone).isoformat()},
                content=body.encode(),
                headers={**tokens[device], "Content-Type": "text/plain"},
            )
            acknowledged = time.perf_counter()
            result = answer.json()
            if result["rejected"]:
                self.report.mismatches.append(f"{device}: lines refused {result['rejected'][:3]}")
            if resend and result["new"] != 0:
                self.report.mismatches.append(f"{device}: a re-sent post stored {result['new']}")
            count += len(reads)
            if not resend and not is_start:
                for read in reads:
                    bib = chip_bib[read.chip]
                    if finish_read.get(bib) == read:
                        finish_posted_at[bib] = acknowledged
        return count, finish_posted_at

    async def _await_results(
        self, race_id: str, run: RaceRun, posting_done: asyncio.Event
    ) -> dict[int, float]:
        """Until every finisher is placed (as the chips or the photo say): when each was first
        shown placed. Woken by the public stream; the wait is bounded once posting is done."""
        ranking = self.target.http("ranking")
        expected = {b for b, o in run.outcomes.items() if o.status in ("OK", "DQ")}
        timed_by_photo = run.lif is not None
        placed_at: dict[int, float] = {}
        deadline: float | None = None
        while True:
            self.changes.clear()
            page = (await call(ranking, "GET", f"/public/races/{race_id}")).json()
            now = time.perf_counter()
            for line in page.get("results") or []:
                if line["place"] is not None:
                    placed_at.setdefault(line["bib"], now)
            placed_by_photo = all(
                line["time_source"] == "photo_finish"
                for line in page.get("results") or []
                if line["place"] is not None
            )
            if (
                posting_done.is_set()
                and expected <= placed_at.keys()
                and (placed_by_photo or not timed_by_photo)
            ):
                return placed_at
            if deadline is None and posting_done.is_set():
                deadline = now + self.options.wait_s
            if deadline is not None and now > deadline:
                raise SimulationError(
                    f"{_label(page)}: after {self.options.wait_s:.0f} s still unplaced: "
                    f"{sorted(expected - placed_at.keys())}"
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changes.wait(), timeout=1.0)

    async def _judge(self, race_id: str, run: RaceRun) -> None:
        """Rulings for what the timing cannot know, then the chief judge's confirmation."""
        ranking = self.target.http("ranking")
        judge = self.target.bearer("judge", subject="sim-judge")
        page = (await call(ranking, "GET", f"/public/races/{race_id}")).json()
        shown = {line["bib"]: line["status"] for line in page.get("results") or []}
        for bib, outcome in sorted(run.outcomes.items()):
            if outcome.status == "OK":
                continue
            already = shown.get(bib)
            if (
                already is not None
                and already.split()[0] == outcome.status
                and outcome.status != "DQ"
            ):
                continue  # the photo-finish file said so already
            body: dict[str, Any] = {
                "kind": "ruling",
                "bib": bib,
                "status": outcome.status,
                "reason": {
                    "DNS": "did not report to the start",
                    "DNF": "stepped off the track",
                    "DQ": "the umpire's report",
                }[outcome.status],
            }
            if outcome.status == "DQ":
                body["rule"] = outcome.dq_rule
            await call(
                ranking, "POST", f"/judges/races/{race_id}/decisions", json=body, headers=judge
            )
        chief = self.target.bearer("chief_judge", subject="sim-chief-judge")
        deadline = time.perf_counter() + self.options.wait_s
        while True:
            answer = await ranking.post(f"/judges/races/{race_id}/confirm", headers=chief)
            if answer.status_code == 200:
                break
            if answer.status_code != 409 or time.perf_counter() > deadline:
                raise SimulationError(f"confirm {_label(page)}: {answer.status_code} {answer.text}")
            await asyncio.sleep(0.2)

        async def official() -> bool:
            page = (await call(ranking, "GET", f"/public/races/{race_id}")).json()
            return bool(page["status"] == "official")

        await self._wait(official, f"{_label(page)} official")

    def _protestable(self) -> bool:
        return any(
            outcome.status == "DQ"
            for race_id, outcomes in self.outcomes.items()
            if self.races[race_id]["round"] != "heat"
            and not _is_relay(self.edition, self.races[race_id])
            for outcome in outcomes.values()
        )

    async def _protest(self) -> tuple[int, str]:
        """reg 17: a disqualified runner of a race that decides places protests; upheld."""
        candidates = [
            (race_id, outcome)
            for race_id, outcomes in self.outcomes.items()
            if self.races[race_id]["round"] != "heat"
            and not _is_relay(self.edition, self.races[race_id])
            for outcome in outcomes.values()
            if outcome.status == "DQ"
        ]
        if not candidates:
            self.report.notes.append("no disqualification outside heats: no protest was filed")
            return 0, "none (no disqualification to protest)"
        race_id, outcome = candidates[0]
        entrant = self.by_bib[outcome.bib]
        ranking = self.target.http("ranking")
        protest = await call(
            ranking,
            "POST",
            "/protests",
            json={
                "full_name": entrant.person.full_name,
                "race_id": race_id,
                "claim": "The lane infringement was caused by the runner in the next lane.",
                "evidence_url": "https://video.example.kz/finish-straight.mp4",
            },
            headers=self.target.bearer("participant", subject=entrant.registration_id),
        )
        protest_id = protest.json()["protest_id"]
        await call(
            ranking,
            "POST",
            f"/judges/protests/{protest_id}/answer",
            json={
                "decision": "upheld",
                "answer": "The video shows the runner was pushed: the disqualification is lifted.",
                "corrections": [
                    [
                        race_id,
                        {"kind": "clear_ruling", "bib": outcome.bib, "reason": "protest upheld"},
                    ]
                ],
            },
            headers=self.target.bearer("chief_judge", subject="sim-chief-judge"),
        )
        outcome.status, outcome.dq_rule = "OK", None  # the truth after the decision

        async def corrected() -> bool:
            page = (await call(ranking, "GET", f"/public/races/{race_id}")).json()
            line = next(r for r in page["results"] if r["bib"] == outcome.bib)
            return line["place"] is not None

        await self._wait(corrected, "the protest's correction")
        self.report.counts["protests upheld"] = 1
        return 2, f"BIB {outcome.bib}'s disqualification lifted in {_label(self.races[race_id])}"

    # --- verification ---------------------------------------------------------------------

    async def _verify(self) -> tuple[int, str]:
        ranking = self.target.http("ranking")
        checked = 0
        groups: dict[tuple[str, str, str], dict[str, list[str]]] = defaultdict(
            lambda: defaultdict(list)
        )
        relay_races: list[str] = []
        for race_id, race in self.races.items():
            if _is_relay(self.edition, race):  # its standings are the teams service's
                relay_races.append(race_id)
                continue
            groups[(race["distance"], race["gender"], race["category"])][race["round"]].append(
                race_id
            )
        await self._wait(self._settled, "every standings table recomputed")
        for race_id, outcomes in self.outcomes.items():
            page = (await call(ranking, "GET", f"/public/races/{race_id}")).json()
            expected = truth.race_lines(outcomes.values())
            if page["round"] == "heat":
                group = groups[(page["distance"], page["gender"], page["category"])]
                size = self.edition.distance(page["distance"]).division.final_size or 0
                round_one = [o for rid in group["heat"] for o in self.outcomes[rid].values()]
                qualified = truth.final_qualifiers(round_one, size)
                expected = {
                    bib: _with_mark(line, "q" if bib in qualified else None)
                    for bib, line in expected.items()
                }
            checked += self._compare(_label(page), expected, page.get("results") or [], marks=True)
            if page["status"] != "official":
                self.report.mismatches.append(f"{_label(page)}: {page['status']}, not official")
        by_gender: dict[tuple[str, str], list[tuple[dict[int, truth.Line], dict[int, int]]]] = (
            defaultdict(list)
        )
        for (distance, gender, category), rounds in sorted(groups.items()):
            first = rounds.get("heat") or rounds.get("timed_final") or []
            finals = rounds.get("final") or []
            if not first and finals:
                first, finals = finals, []  # one race: the final alone (reg 11.3.2)
            division = self.edition.distance(distance).division
            sizes = [len(self.outcomes[r]) for r in first]
            if sizes and not truth.balanced(sizes, division.race_max):
                self.report.mismatches.append(
                    f"{distance} {gender} {category}: round 1 of {sizes} is not balanced"
                )
            table = truth.group_standings(
                [list(self.outcomes[r].values()) for r in first],
                list(self.outcomes[finals[0]].values()) if finals else None,
            )
            by_gender[(distance, gender)].append(table)
            page = (
                await call(ranking, "GET", f"/public/standings/{distance}/{gender}/{category}")
            ).json()
            checked += self._compare(
                f"standings {distance} {gender} {category}", table[0], page["entries"]
            )
        overall: dict[tuple[str, str], dict[int, truth.Line]] = {}
        for (distance, gender), tables in sorted(by_gender.items()):
            page = (await call(ranking, "GET", f"/public/standings/{distance}/{gender}/all")).json()
            overall[(distance, gender)] = truth.gender_standings(tables)
            checked += self._compare(
                f"standings {distance} {gender} overall",
                overall[(distance, gender)],
                page["entries"],
            )
        checked += await self._verify_teams(overall)
        if relay_races:
            relay = truth.relay_standings(
                (self.outcomes[r].values() for r in relay_races), self.edition.relay.prize_fund_kzt
            )
            checked += await self._eventually(
                "relay standings", lambda document: _relay_problems(document, relay), "relay"
            )
        mail = await self._deliveries()
        self.report.counts["e-mails sent"] = mail
        if mail < len(self.entrants):
            self.report.mismatches.append(
                f"{mail} e-mails sent, fewer than the {len(self.entrants)} participants"
            )
        return checked, f"{checked:,} lines checked; {len(self.report.mismatches)} mismatches"

    async def _verify_teams(self, overall: dict[tuple[str, str], dict[int, truth.Line]]) -> int:
        """Each classification's table against the one the simulation scores itself."""
        checked = 0
        extra = self.edition.teams.penalty_extra_points
        for code in sorted({t.classification for t in self.teams}):
            applications = {
                t.team_name: [truth.TeamEntry(e.bib, e.distance, e.gender) for e in t.entries]
                for t in self.teams
                if t.classification == code
            }
            expected = truth.team_classification(applications, overall, extra)
            checked += await self._eventually(
                f"team classification {code}",
                functools.partial(_team_problems, expected=expected),
                code,
            )
        return checked

    async def _eventually(
        self,
        what: str,
        problems_of: Callable[[dict[str, Any]], tuple[int, list[str]]],
        table: str,
    ) -> int:
        """The teams service's table, once it holds what ranking published last (it follows
        the standings on the bus): its problems, when it stops changing or time is up."""
        teams = self.target.http("teams")
        deadline = time.perf_counter() + self.options.wait_s
        while True:
            document = (await call(teams, "GET", f"/standings/{table}")).json()
            checked, problems = problems_of(document)
            if not problems or time.perf_counter() > deadline:
                self.report.mismatches.extend(f"{what}: {p}" for p in problems)
                return checked
            await asyncio.sleep(0.5)

    async def _no_dead_letters(self, bootstrap: str) -> None:
        """Nothing the simulation sent was invalid: a dead letter on the bus is a message a
        service could not apply, lost to the tables it feeds."""
        letters = await dead_letters(bootstrap)
        self.report.counts["dead letters on the bus"] = sum(letters.values())
        for topic, count in sorted(letters.items()):
            self.report.mismatches.append(f"{count} dead letter(s) on {topic}")

    async def _settled(self) -> bool:
        """The last change seen on the stream is a while ago: standings are recomputed."""
        self.changes.clear()
        try:
            await asyncio.wait_for(self.changes.wait(), timeout=2.0)
        except TimeoutError:
            return True
        return False

    def _compare(
        self,
        what: str,
        expected: dict[int, truth.Line],
        published: list[dict[str, Any]],
        *,
        marks: bool = False,
    ) -> int:
        shown = {line["bib"]: line for line in published}
        if (different := _not_the_same("BIBs", expected, shown)) is not None:
            self.report.mismatches.append(f"{what}: {different}")
        for bib, line in expected.items():
            got = shown.get(bib)
            if got is None:
                continue
            status = (got.get("status") or "OK").split()[0]
            time_us = got.get("official_time_us")
            if time_us is None:
                time_us = truth.parse_time_us(got.get("time"))
            problems = []
            if got["place"] != line.place:
                problems.append(f"place {got['place']} (expected {line.place})")
            if status != line.status:
                problems.append(f"status {got.get('status')} (expected {line.status})")
            if line.status == "OK" and time_us != line.official_us:
                problems.append(f"time {got.get('time')} (expected {line.official_us} us)")
            if marks and got.get("qualified") != line.qualified:
                problems.append(f"qualified {got.get('qualified')} (expected {line.qualified})")
            if problems:
                self.report.mismatches.append(f"{what}: BIB {bib}: {', '.join(problems)}")
        return len(expected)

    async def _deliveries(self) -> int:
        notifications = self.target.http("notifications")
        organizer = self.target.bearer("organizer")
        answer = await call(
            notifications,
            "GET",
            "/deliveries",
            params={"status": "sent", "limit": 1},
            headers=organizer,
        )
        data = answer.json()
        if isinstance(data, dict) and "total" in data:
            return int(data["total"])
        return len(data) if isinstance(data, list) else 0

    # --- plumbing -------------------------------------------------------------------------

    async def _listen(self) -> None:
        """Wake waiters on every change the public stream announces (the partner's view)."""
        ranking = self.target.http("ranking")
        while True:
            try:
                async with ranking.stream("GET", "/public/stream", timeout=None) as answer:
                    async for line in answer.aiter_lines():
                        if line.startswith("data:"):
                            self.changes.set()
            except httpx.HTTPError:
                await asyncio.sleep(0.5)

    async def _set_clock(self, instant: dt.datetime) -> None:
        answer = await self.target.http("registration").put(
            "/testing/clock", json={"now": instant.isoformat()}
        )
        if answer.status_code == 404:
            raise SimulationError(
                "registration's clock cannot be moved: start the platform with "
                "`copa up --rehearsal` (COPA_REGISTRATION_CLOCK_CONTROL=1)"
            )
        answer.raise_for_status()
        self.clock_offset = instant - dt.datetime.now(dt.UTC)

    def _now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC) + self.clock_offset

    async def _each(self, items: Iterable[T], work: Callable[[T], Awaitable[Any]]) -> list[Any]:
        gate = asyncio.Semaphore(self.options.concurrency)

        async def one(item: T) -> Any:
            async with gate:
                return await work(item)

        return list(await asyncio.gather(*(one(item) for item in items)))

    async def _wait(self, check: Callable[[], Awaitable[bool]], what: str) -> None:
        deadline = time.perf_counter() + self.options.wait_s
        while not await check():
            if time.perf_counter() > deadline:
                raise SimulationError(
                    f"gave up after {self.options.wait_s:.0f} s waiting for {what}"
                )
            await asyncio.sleep(0.2)

    def _say(self, text: str) -> None:
        print(text, file=self.out, flush=True)


FORMATS = ("ipico", "chronotrack", "ultra")


def _with_mark(line: truth.Line, mark: str | None) -> truth.Line:
    return truth.Line(line.bib, line.place, line.status, line.official_us, line.dq_rule, mark)


def _not_the_same(what: str, expected: Iterable[T], shown: Iterable[T]) -> str | None:
    """What is missing from and unexpected in a published list, or None when it is the same."""
    wanted, published = set(expected), set(shown)
    if wanted == published:
        return None
    return f"{what} missing {sorted(wanted - published)}, unexpected {sorted(published - wanted)}"  # type: ignore[type-var]


def _team_problems(
    document: dict[str, Any], expected: list[truth.TeamLine]
) -> tuple[int, list[str]]:
    problems = []
    if document.get("status") != "official":
        problems.append(f"status {document.get('status')}, not official")
    shown = {team["team_name"]: team for team in document.get("standings") or []}
    if (different := _not_the_same("teams", {t.team_name for t in expected}, shown)) is not None:
        problems.append(different)
    for line in expected:
        got = shown.get(line.team_name)
        if got is None:
            continue
        for key, value in (
            ("place", line.place),
            ("points", line.points),
            ("last_scorer_points", line.last_scorer_points),
        ):
            if got.get(key) != value:
                problems.append(f"{line.team_name}: {key} {got.get(key)} (expected {value})")
        entries = {e["bib"]: e for e in got.get("entries") or []}
        for entry in line.entries:
            shown_entry = entries.get(entry.bib, {})
            if (
                shown_entry.get("place"),
                shown_entry.get("points"),
                shown_entry.get("penalty"),
            ) != (
                entry.place,
                entry.points,
                entry.penalty,
            ):
                problems.append(
                    f"{line.team_name}: BIB {entry.bib} place {shown_entry.get('place')}, points "
                    f"{shown_entry.get('points')}, penalty {shown_entry.get('penalty')} (expected "
                    f"{entry.place}, {entry.points}, {entry.penalty})"
                )
    return len(expected), problems


def _relay_problems(
    document: dict[str, Any], expected: dict[int, truth.RelayLine]
) -> tuple[int, list[str]]:
    problems = []
    if document.get("status") != "official":
        problems.append(f"status {document.get('status')}, not official")
    shown = {team["bib"]: team for team in document.get("standings") or []}
    if (different := _not_the_same("BIBs", expected, shown)) is not None:
        problems.append(different)
    for bib, line in expected.items():
        got = shown.get(bib)
        if got is None:
            continue
        published = (got.get("place"), got.get("status"), got.get("official_time_us"))
        if published != (line.place, line.status, line.official_us):
            problems.append(
                f"BIB {bib}: place, status, time {published} (expected "
                f"{(line.place, line.status, line.official_us)})"
            )
        if got.get("prize_kzt") != line.prize_kzt:
            problems.append(f"BIB {bib}: prize {got.get('prize_kzt')} (expected {line.prize_kzt})")
    return len(expected), problems


def _is_relay(edition: Edition, race: dict[str, Any]) -> bool:
    return bool(race["distance"] == edition.relay.code)


def _label(race: dict[str, Any]) -> str:
    heat = f" {race['heat_number']}" if race.get("heat_number") else ""
    return f"{race['distance']} {race['gender']} {race['category']} {race['round']}{heat}"


def _paid_total(counts: dict[str, Any]) -> int:
    """Paid participants in registration's ``/organizer/counts`` (its groups by status)."""
    return sum(int(g["count"]) for g in counts["groups"] if g["status"] == "paid")


async def dead_letters(bootstrap: str) -> dict[str, int]:
    """Records on every dead-letter topic of the bus, by topic (those holding any)."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    from copa_contracts.topic import dead_letter_topic
    from copa_contracts.topics import ALL_TOPICS

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        existing = await consumer.topics()
        partitions = [
            TopicPartition(name, partition)
            for name in (dead_letter_topic(t.name) for t in ALL_TOPICS)
            if name in existing
            for partition in consumer.partitions_for_topic(name) or ()
        ]
        if not partitions:
            return {}
        first = await consumer.beginning_offsets(partitions)
        last = await consumer.end_offsets(partitions)
    finally:
        await consumer.stop()
    counts: dict[str, int] = defaultdict(int)
    for tp in partitions:
        counts[tp.topic] += last[tp] - first[tp]
    return {topic: n for topic, n in counts.items() if n}


async def broker_round_trips(bootstrap: str, count: int) -> list[float]:
    """The bus alone: a record produced and consumed back, one at a time, in ms."""
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

    from copa_runtime.kafka import ensure_topics

    name = f"simulate.probe.{uuid.uuid4().hex[:8]}"
    await ensure_topics(bootstrap, [(name, 1)])
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    consumer = AIOKafkaConsumer(name, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await producer.start()
    await consumer.start()
    delays = []
    try:
        for n in range(count):
            started = time.perf_counter()
            await producer.send_and_wait(name, str(n).encode(), key=b"probe")
            await consumer.getone()
            delays.append((time.perf_counter() - started) * 1000)
    finally:
        await consumer.stop()
        await producer.stop()
    return delays
