"""The app factory every service uses: health, readiness, metrics, problems, workers."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient
from fastapi import Depends, FastAPI, Request, Response
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from copa_runtime import metrics
from copa_runtime.auth import Principal, Role, require_roles
from copa_runtime.consumer import BatchConsumer
from copa_runtime.db import Database
from copa_runtime.logging import correlation_id
from copa_runtime.outbox import OutboxRelay, backlog, republish
from copa_runtime.problems import install_problem_handlers
from copa_runtime.service import ServiceDefinition
from copa_runtime.settings import Settings

log = logging.getLogger(__name__)


class ProcessRole(StrEnum):
    """The same image runs as the HTTP tier, the worker tier, or both (embedded default)."""

    API = "api"
    WORKER = "worker"
    ALL = "all"


@dataclass
class Runtime:
    """What one service process holds while it runs."""

    definition: ServiceDefinition
    settings: Settings
    db: Database
    relay: OutboxRelay | None = None
    consumers: list[BatchConsumer] = field(default_factory=list)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def start_workers(self) -> None:
        self.relay = OutboxRelay(
            self.db,
            self.settings.kafka_bootstrap_servers,
            topics=self.definition.produces,
            service=self.definition.name,
            batch_size=self.settings.relay_batch_size,
            idle_poll_s=self.settings.relay_idle_poll_s,
        )
        self.tasks.append(asyncio.create_task(self.relay.run(), name="outbox-relay"))
        for subscription in self.definition.subscriptions:
            consumer = BatchConsumer(
                subscription,
                self.db,
                self.settings.kafka_bootstrap_servers,
                service=self.definition.name,
                fetch_max_wait_ms=self.settings.consumer_fetch_max_wait_ms,
                max_records=self.settings.consumer_max_records,
                session_timeout_ms=self.settings.consumer_session_timeout_ms,
                max_attempts=self.settings.consumer_max_attempts,
            )
            self.consumers.append(consumer)
            self.tasks.append(asyncio.create_task(consumer.run(), name=consumer.group_id))
        for worker in self.definition.workers:
            name = getattr(worker, "__name__", "worker")
            self.tasks.append(asyncio.create_task(worker(self.db, self.settings), name=name))

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.db.dispose()


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """The request's unit of work: commits if the handler returns, rolls back if it raises.

    Depend on it as ``Depends(get_session, scope="function")`` (checked by the app): an
    answer is a promise (a device drops the reads it was told are stored), so the commit must
    come before the response is sent, and a dependency with ``yield`` of FastAPI's default
    scope is closed only after the response went out, when a failing commit can no longer
    change the answer. With ``scope="function"`` it closes as soon as the handler returns, and
    a commit that fails is an error answer, never a 200 for something that was not stored.
    """
    runtime: Runtime = request.app.state.runtime
    async with runtime.db.unit_of_work() as session:
        yield session


SessionDep = Depends(get_session, scope="function")
"""A handler's unit of work, committed before the answer is sent."""


async def _broker_reachable(bootstrap_servers: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=3000)
    await admin.start()
    try:
        await admin.list_topics()
    finally:
        await admin.close()


def create_app(
    definition: ServiceDefinition,
    settings: Settings,
    *,
    role: ProcessRole = ProcessRole.ALL,
) -> FastAPI:
    """Build one service's ASGI app; its lifespan owns the database and the workers."""
    if not settings.jwt_secret:
        raise RuntimeError("COPA_JWT_SECRET is not set: the service cannot check tokens")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = Runtime(
            definition,
            settings,
            Database(
                settings.sqlalchemy_url, service=definition.name, pool_size=settings.db_pool_size
            ),
        )
        app.state.runtime = runtime
        if role in (ProcessRole.WORKER, ProcessRole.ALL):
            await runtime.start_workers()
        try:
            yield
        finally:
            await runtime.stop()

    description = definition.summary
    if definition.missing:
        description += "\n\n**Not built yet:**\n" + "\n".join(f"- {m}" for m in definition.missing)
    app = FastAPI(
        title=definition.title, description=description, version="0.1.0", lifespan=lifespan
    )
    app.state.settings = settings
    app.state.definition = definition
    install_problem_handlers(app)
    _install_observability(app, definition.name)
    origins = [o.strip() for o in settings.cors_allow_origins.split(",") if o.strip()]
    if origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=["*"],
            allow_headers=["*"],
            expose_headers=["X-Correlation-ID", "Location", "X-Total-Count", "ETag"],
        )
    _install_health(app, definition, settings, role)
    if role in (ProcessRole.API, ProcessRole.ALL):
        _install_operations(app, definition)
        for router in definition.routers:
            app.include_router(router)
        _check_sessions_commit_before_answering(app)
    return app


def _check_sessions_commit_before_answering(app: FastAPI) -> None:
    """Refuse to build an app with a handler whose unit of work would commit after the
    answer was sent (``Depends(get_session)`` without ``scope="function"``)."""
    pending = [(route.path, route.dependant) for route in app.routes if isinstance(route, APIRoute)]
    while pending:
        path, dependant = pending.pop()
        for sub in dependant.dependencies:
            if sub.call is get_session and sub.scope != "function":
                raise RuntimeError(
                    f"{path}: Depends(get_session) needs scope='function' (see get_session)"
                )
            pending.append((path, sub))


class RepublishOut(BaseModel):
    service: str
    republished: dict[str, int] = Field(
        description="Events queued again, by stream: `outbox` (every event this service "
        "produced through its outbox), and the service's own streams (timing ingest: `reads`)."
    )


def _install_operations(app: FastAPI, definition: ServiceDefinition) -> None:
    @app.post(
        "/ops/republish",
        tags=["operations"],
        response_model=RepublishOut,
        summary="Queue every event this service ever published for publication again",
    )
    async def republish_everything(
        request: Request, principal: Principal = Depends(require_roles(Role.ORGANIZER))
    ) -> RepublishOut:
        """For a broker that lost its content (the embedded one keeps nothing across a
        restart): every event goes out again in its original order with its own event id, so
        consumers that applied it skip it and the broker holds the whole stream again.
        ``copa republish`` calls this on every service of the running platform."""
        runtime: Runtime = request.app.state.runtime
        async with runtime.db.unit_of_work() as session:
            counts = {"outbox": await republish(session)}
            for name, republisher in definition.republishers.items():
                counts[name] = await republisher(session)
        log.info("republish requested", extra={"by": principal.subject, "counts": counts})
        return RepublishOut(service=definition.name, republished=counts)


def _install_observability(app: FastAPI, service: str) -> None:
    @app.middleware("http")
    async def correlate_and_measure(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        cid = request.headers.get("x-correlation-id") or uuid.uuid4().hex
        token = correlation_id.set(cid)
        started = time.perf_counter()
        try:
            response = await call_next(request)
        finally:
            correlation_id.reset(token)
        route = request.scope.get("route")
        path = getattr(route, "path", "unmatched")
        metrics.HTTP_REQUESTS.labels(service, request.method, path, str(response.status_code)).inc()
        metrics.HTTP_SECONDS.labels(service, request.method, path).observe(
            time.perf_counter() - started
        )
        response.headers["X-Correlation-ID"] = cid
        return response


def _install_health(
    app: FastAPI, definition: ServiceDefinition, settings: Settings, role: ProcessRole
) -> None:
    # The HTTP tier writes to its database only (events wait in the outbox), so a broker
    # outage must not take it out of rotation: only processes that relay or consume need it.
    needs_broker = role != ProcessRole.API

    @app.get("/livez", tags=["health"], summary="The process is alive")
    async def livez() -> dict[str, str]:
        return {"status": "alive", "service": definition.name}

    @app.get(
        "/readyz",
        tags=["health"],
        summary="The database answers (and the broker, for a process that relays or consumes)",
    )
    async def readyz(request: Request) -> JSONResponse:
        runtime: Runtime = request.app.state.runtime
        checks: dict[str, Any] = {}
        ready = True
        try:
            await asyncio.wait_for(runtime.db.ping(), 3)
            checks["database"] = "ok"
            pending = await asyncio.wait_for(backlog(runtime.db), 3)
            checks["outbox_backlog"] = pending
            metrics.OUTBOX_BACKLOG.labels(definition.name).set(pending)
        except Exception as exc:
            ready = False
            checks["database"] = f"unavailable: {type(exc).__name__}"
        try:
            await asyncio.wait_for(_broker_reachable(settings.kafka_bootstrap_servers), 4)
            checks["broker"] = "ok"
        except Exception as exc:
            ready = ready and not needs_broker
            checks["broker"] = f"unavailable: {type(exc).__name__}"
        checks["consumers"] = {c.group_id: c.ready.is_set() for c in runtime.consumers}
        body = {
            "status": "ready" if ready else "not ready",
            "service": definition.name,
            "checks": checks,
            "missing": list(definition.missing),
        }
        return JSONResponse(body, status_code=200 if ready else 503)

    @app.get("/metrics", tags=["health"], summary="Prometheus metrics")
    async def prometheus_metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    @app.get("/", tags=["health"], summary="What this service is and what it lacks")
    async def about() -> dict[str, Any]:
        return {
            "service": definition.name,
            "title": definition.title,
            "summary": definition.summary,
            "missing": list(definition.missing),
            "docs": "/docs",
        }
