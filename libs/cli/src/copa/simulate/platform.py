"""The running platform as the simulation talks to it: five services over HTTP, the broker.

Built from ``run/platform.json`` (``copa up``) or given directly (tests). Tokens are signed
with the platform's JWT secret, as its login system would issue them to organizers, judges,
timing devices and participants.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from copa.state import CopaHome, PlatformRecord
from copa_contracts.edition import Edition, find_editions_dir, load_edition
from copa_runtime.auth import issue_token

SERVICES = ("registration", "timing-ingest", "ranking", "teams", "notifications")


class PlatformUnavailable(RuntimeError):
    """The platform is not up, or not in a state a simulation can run on."""


@dataclass
class Target:
    urls: dict[str, str]
    secret: str
    bootstrap: str | None
    editions_dir: Path | None = None
    clients: dict[str, httpx.AsyncClient] = field(default_factory=dict)

    @classmethod
    def from_platform(cls, home: CopaHome) -> Target:
        record = PlatformRecord.read(home.platform_file)
        if record is None:
            raise PlatformUnavailable(
                f"the platform is not up (no {home.platform_file}): start it with "
                "`copa up --rehearsal` (or ./dev up --rehearsal)"
            )
        urls = {c.name: c.url for c in record.components if c.kind == "service"}
        missing = [name for name in SERVICES if name not in urls]
        if missing:
            raise PlatformUnavailable(f"services not running: {', '.join(missing)}")
        kafka = next((c.url for c in record.components if c.kind == "kafka"), None)
        editions = home.root / "editions"
        return cls(urls, home.jwt_secret(), kafka, editions if editions.is_dir() else None)

    async def __aenter__(self) -> Target:
        # Idle connections are dropped well before the server's keep-alive timeout (uvicorn:
        # 5 s), so a request never goes out on a connection the server is closing.
        limits = httpx.Limits(
            max_connections=64, max_keepalive_connections=64, keepalive_expiry=1.0
        )
        for name, url in self.urls.items():
            self.clients[name] = httpx.AsyncClient(base_url=url, timeout=60, limits=limits)
        return self

    async def __aexit__(self, *exc: object) -> None:
        for client in self.clients.values():
            await client.aclose()

    def http(self, service: str) -> httpx.AsyncClient:
        return self.clients[service]

    def token(self, *roles: str, subject: str = "copa-simulate", device: str | None = None) -> str:
        extra = {"device": device} if device else None
        return issue_token(subject, list(roles), self.secret, dt.timedelta(hours=12), extra)

    def bearer(
        self, *roles: str, subject: str = "copa-simulate", device: str | None = None
    ) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(*roles, subject=subject, device=device)}"}

    async def edition(self) -> Edition:
        """The edition the platform runs, read from the same file its services read."""
        answer = await self.http("ranking").get("/public/competition")
        answer.raise_for_status()
        code = answer.json()["edition"]
        for directory in (self.editions_dir, None):
            try:
                return load_edition(code, directory or find_editions_dir())
            except FileNotFoundError:
                continue
        raise PlatformUnavailable(f"edition {code!r}: no editions/{code}.toml found here")


async def call(
    client: httpx.AsyncClient,
    method: str,
    path: str,
    *,
    expect: tuple[int, ...] = (200, 201),
    **kwargs: Any,
) -> httpx.Response:
    """One request; an answer outside ``expect`` is an error naming the problem it carried."""
    try:
        answer = await client.request(method, path, **kwargs)
    except (httpx.ReadError, httpx.RemoteProtocolError):
        # The connection closed under the request. Everything the simulation sends may go
        # again: applications carry an idempotency key, reads and start signals are stored
        # once, payments are per transaction.
        answer = await client.request(method, path, **kwargs)
    if answer.status_code not in expect:
        raise SimulationError(
            f"{method} {client.base_url}{path}: {answer.status_code} {answer.text[:600]}"
        )
    return answer


class SimulationError(RuntimeError):
    """The platform refused something the simulation had every right to do."""
