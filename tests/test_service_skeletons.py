"""Every service starts on the shared runtime against the real database and broker: health,
readiness, metrics, OpenAPI, problem+json, roles; and ranking's roster follows registration's
participant events through the outbox and the bus."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import APIRouter, Depends
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from copa_contracts import topics
from copa_contracts.common import Contact
from copa_contracts.participants import KitIssued, ParticipantPaid
from copa_runtime.app import ProcessRole, create_app, get_session
from copa_runtime.auth import Principal, Role, issue_token, require_roles
from copa_runtime.migrations import upgrade_async
from copa_runtime.outbox import add_event
from copa_runtime.service import ServiceDefinition, load_service, service_names
from copa_runtime.settings import Settings

SECRET = "test-secret-" + uuid.uuid4().hex
SKELETONS = {"registration", "notifications"}  # their services say what they lack


@asynccontextmanager
async def running_service(
    definition: ServiceDefinition,
    postgres_server,
    kafka_bootstrap: str,
    role: ProcessRole = ProcessRole.ALL,
) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    database = f"svc_{definition.name.replace('-', '_')}_{uuid.uuid4().hex[:8]}"
    url = await postgres_server.create_database(database)
    await upgrade_async(definition.migrations_dir, url)
    settings = Settings(
        DATABASE_URL=url,
        KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap,
        COPA_JWT_SECRET=SECRET,
        COPA_SERVICE=definition.name,
    )  # type: ignore[call-arg]
    app = create_app(definition, settings, role=role)
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
                yield client, url
    finally:
        await postgres_server.drop_database(database)


def test_all_five_services_are_installed():
    assert service_names() == sorted(
        ["registration", "timing-ingest", "ranking", "teams", "notifications"]
    )


@pytest.mark.parametrize(
    "name", ["registration", "timing-ingest", "ranking", "teams", "notifications"]
)
async def test_service_answers_health_readiness_metrics_and_docs(
    name, postgres_server, kafka_bootstrap
):
    definition = load_service(name)
    async with running_service(definition, postgres_server, kafka_bootstrap) as (client, _):
        assert (await client.get("/livez")).json() == {"status": "alive", "service": name}
        ready = await client.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"]["database"] == "ok"
        assert ready.json()["checks"]["broker"] == "ok"
        if name in SKELETONS:
            assert ready.json()["missing"], "a skeleton must say what it lacks"
        metrics = await client.get("/metrics")
        assert "copa_http_requests_total" in metrics.text
        openapi = (await client.get("/openapi.json")).json()
        assert "/readyz" in openapi["paths"]
        if name in SKELETONS:
            assert "Not built yet" in openapi["info"]["description"]
        missing = await client.get("/no-such-thing")
        assert missing.status_code == 404
        assert missing.headers["content-type"] == "application/problem+json"
        assert missing.json()["status"] == 404
        assert missing.headers["x-correlation-id"]


async def test_readiness_fails_when_the_broker_is_gone(postgres_server, broker_factory):
    broker = broker_factory()
    definition = load_service("registration")
    async with running_service(definition, postgres_server, broker.bootstrap) as (client, _):
        assert (await client.get("/readyz")).status_code == 200
        broker.stop()
        down = await client.get("/readyz")
        assert down.status_code == 503
        assert down.json()["checks"]["broker"].startswith("unavailable")
        assert down.json()["checks"]["database"] == "ok"


async def test_the_http_tier_stays_ready_while_the_broker_is_gone(postgres_server, broker_factory):
    """An API process writes to its database only: a broker outage is reported, and it keeps
    taking requests (its events wait in the outbox)."""
    broker = broker_factory()
    definition = load_service("timing-ingest")
    async with running_service(definition, postgres_server, broker.bootstrap, ProcessRole.API) as (
        client,
        _,
    ):
        broker.stop()
        answer = await client.get("/readyz")
        assert answer.status_code == 200, answer.text
        assert answer.json()["checks"]["broker"].startswith("unavailable")


async def test_roles_guard_endpoints_and_errors_are_problem_details(
    postgres_server, kafka_bootstrap
):
    router = APIRouter()

    @router.get("/organizer-only")
    async def organizer_only(
        who: Principal = Depends(require_roles(Role.ORGANIZER)),
    ) -> dict[str, str]:
        return {"subject": who.subject}

    @router.get("/count/{n}")
    async def count(n: int) -> dict[str, int]:
        return {"n": n}

    @router.post("/note")
    async def note(body: dict[str, str], session: AsyncSession = Depends(get_session)) -> str:
        return str((await session.execute(text("SELECT CAST(:v AS text)"), body)).scalar())

    base = load_service("teams")
    definition = ServiceDefinition(
        name=base.name,
        title=base.title,
        summary=base.summary,
        migrations_dir=base.migrations_dir,
        routers=[router],
        missing=base.missing,
    )
    organizer = issue_token("alice", ["organizer"], SECRET, timedelta(hours=1))
    judge = issue_token("bob", ["judge"], SECRET, timedelta(hours=1))
    forged = issue_token(
        "mallory", ["organizer"], "another-secret-of-at-least-32-bytes", timedelta(hours=1)
    )
    async with running_service(definition, postgres_server, kafka_bootstrap) as (client, _):
        anonymous = await client.get("/organizer-only")
        assert anonymous.status_code == 401
        assert anonymous.headers["content-type"] == "application/problem+json"
        assert (await client.get("/organizer-only", headers=_bearer(judge))).status_code == 403
        assert (await client.get("/organizer-only", headers=_bearer(forged))).status_code == 401
        allowed = await client.get("/organizer-only", headers=_bearer(organizer))
        assert allowed.json() == {"subject": "alice"}
        invalid = await client.get("/count/seven")
        assert invalid.status_code == 422
        assert invalid.json()["errors"][0]["location"] == ["path", "n"]
        # A value the database refuses (a NUL in text) is the client's error, not a 500.
        assert (await client.post("/note", json={"v": "fine"})).json() == "fine"
        refused = await client.post("/note", json={"v": "nul\u0000here"})
        assert refused.status_code == 422, refused.text
        assert refused.headers["content-type"] == "application/problem+json"


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_ranking_roster_follows_participant_events(postgres_server, broker_factory):
    # A broker of its own: ranking's roster reads the participants topic from the start, and
    # the session's shared one carries every other test's runners.
    kafka_bootstrap = broker_factory().bootstrap
    registration = load_service("registration")
    ranking = load_service("ranking")
    participant = uuid.uuid4()
    # Other tests share the broker: this runner's BIB and chip are its own.
    bib = 90_000 + uuid.uuid4().int % 9_000
    chip = f"ROSTER-{uuid.uuid4().hex[:10]}"
    contact = Contact(
        first_name="Aigerim", last_name="Nurlanovna", email="a@example.kz", language="kk"
    )
    paid = ParticipantPaid(
        participant_id=participant,
        registration_number="R-000001",
        edition="2024",
        contact=contact,
        distance="100m",
        gender="F",
        age_category="18-34",
        bib=bib,
        amount_kzt=5000,
        payment_method="online",
        paid_at=datetime.now(UTC),
    )
    kit = KitIssued(
        participant_id=participant,
        registration_number="R-000001",
        edition="2024",
        contact=contact,
        bib=bib,
        chip=chip,
        chip_pre_paired=False,
        collected_by_proxy=False,
        issued_at=datetime.now(UTC),
    )
    async with (
        running_service(registration, postgres_server, kafka_bootstrap) as (reg_client, _),
        running_service(ranking, postgres_server, kafka_bootstrap) as (_, ranking_url),
    ):
        runtime = reg_client._transport.app.state.runtime  # type: ignore[attr-defined]
        async with runtime.db.unit_of_work() as session:
            for event in (paid, kit):
                await add_event(session, topics.PARTICIPANTS, event, key=str(participant))
        from copa_runtime.db import Database

        ranking_db = Database(ranking_url, service="ranking-test", pool_size=1)
        try:
            deadline = time.monotonic() + 60
            row = None
            while time.monotonic() < deadline:
                async with ranking_db.unit_of_work() as session:
                    row = (
                        await session.execute(
                            text(
                                "SELECT bib, chip, full_name, distance FROM roster "
                                "WHERE participant_id = :p"
                            ),
                            {"p": participant},
                        )
                    ).first()
                if row is not None and row.chip is not None:
                    break
                await asyncio.sleep(0.1)
        finally:
            await ranking_db.dispose()
    assert row is not None
    assert tuple(row) == (str(bib), chip, "Aigerim Nurlanovna", "100m")
