"""What a service declares about itself; the runtime wires the rest (the composition root)."""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path

from fastapi import APIRouter
from sqlalchemy.ext.asyncio import AsyncSession

from copa_contracts.topic import Topic
from copa_runtime.consumer import Subscription
from copa_runtime.db import Database
from copa_runtime.settings import Settings

Worker = Callable[[Database, Settings], Coroutine[None, None, None]]
"""A service's own background loop (a sender, a scheduler): runs in the worker role until
cancelled, next to the outbox relay and the consumers."""

Republisher = Callable[[AsyncSession], Coroutine[None, None, int]]
"""Queues again, in the caller's unit of work, what a service publishes from a store of its
own besides the outbox (timing ingest's reads table); returns how many events."""

ENTRY_POINT_GROUP = "copa.services"


@dataclass(frozen=True)
class ServiceDefinition:
    """One service: its HTTP routers, what it consumes and produces, its migrations.

    ``missing`` lists, in plain words, what the service does not do yet; it is shown on the
    service's OpenAPI page and at ``/`` so that no skeleton pretends to work.
    """

    name: str
    title: str
    summary: str
    migrations_dir: Path
    routers: Sequence[APIRouter] = ()
    subscriptions: Sequence[Subscription] = ()
    produces: Sequence[Topic] = ()
    workers: Sequence[Worker] = ()
    republishers: Mapping[str, Republisher] = field(default_factory=dict)
    """Streams published from elsewhere than the outbox, by name, for ``POST /ops/republish``."""
    missing: Sequence[str] = field(default_factory=tuple)


def load_service(name: str) -> ServiceDefinition:
    """Find a service by name among the installed ``copa.services`` entry points."""
    found = {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}
    if name not in found:
        raise LookupError(f"no service {name!r}; installed: {', '.join(sorted(found)) or 'none'}")
    definition = found[name].load()
    if not isinstance(definition, ServiceDefinition):
        raise TypeError(f"entry point {name!r} is not a ServiceDefinition")
    return definition


def service_names() -> list[str]:
    return sorted(ep.name for ep in entry_points(group=ENTRY_POINT_GROUP))
