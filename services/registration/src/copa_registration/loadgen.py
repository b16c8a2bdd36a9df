"""An opening-day burst against a running registration service: apply, start the payment, and
deliver the provider's signed callback, over real HTTP on many keep-alive connections at once.

Used by the concurrency test and by `bench/registration.py`. The client is a minimal HTTP/1.1
client on asyncio streams: a general-purpose client's pool costs more CPU than the service
under test on a small machine, and the burst must measure the service, not the client.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from copa_registration.providers import Sandbox


class Connection:
    """One keep-alive HTTP/1.1 connection (Content-Length bodies only, as uvicorn answers)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._reader is None or self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        return self._reader, self._writer

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(OSError):
                await self._writer.wait_closed()
        self._reader = self._writer = None

    async def request(
        self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> tuple[int, bytes]:
        for attempt in range(2):
            try:
                return await self._request(method, path, body, headers or {})
            except (ConnectionError, asyncio.IncompleteReadError):
                # The server closed an idle keep-alive connection: reconnect, send again
                # (every request of the burst carries an Idempotency-Key or is idempotent).
                await self.close()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    async def _request(
        self, method: str, path: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int, bytes]:
        reader, writer = await self._open()
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        lines.append(f"Content-Length: {len(body)}")
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        status = int(status_line.split(" ", 2)[1])
        length = 0
        for line in header_lines:
            name, _, value = line.partition(":")
            if name.lower() == "content-length":
                length = int(value)
        return status, await reader.readexactly(length) if length else b""


@dataclass
class BurstResult:
    outcomes: list[str] = field(default_factory=list)
    latencies_s: list[float] = field(default_factory=list)
    finished_s: list[float] = field(default_factory=list)  # since the burst started
    elapsed_s: float = 0.0

    def last_finish(self, outcome: str) -> float:
        """When the last flow with ``outcome`` finished, seconds after the start."""
        times = [t for o, t in zip(self.outcomes, self.finished_s, strict=True) if o == outcome]
        return max(times) if times else 0.0

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies_s)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


Flow = Callable[[Connection, Any], Awaitable[str]]


async def run_burst(
    base_url: str, items: Sequence[Any], flow: Flow, *, connections: int
) -> BurstResult:
    """Run ``flow(connection, item)`` for every item, ``connections`` at a time, all launched
    together; the latency of each flow is recorded."""
    url = urlsplit(base_url)
    queue: asyncio.Queue[Any] = asyncio.Queue()
    for item in items:
        queue.put_nowait(item)
    result = BurstResult()

    async def worker() -> None:
        connection = Connection(url.hostname or "127.0.0.1", url.port or 80)
        try:
            while True:
                try:
                    item = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                began = time.perf_counter()
                outcome = await flow(connection, item)
                finished = time.perf_counter()
                result.latencies_s.append(finished - began)
                result.finished_s.append(finished - started)
                result.outcomes.append(outcome)
        finally:
            await connection.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    result.elapsed_s = time.perf_counter() - started
    return result


def registration_flow(sandbox: Sandbox) -> Flow:
    """Apply; when a slot is held, start the payment and deliver the provider's signed
    callback (as the sandbox checkout sends it). Returns the outcome: ``applied`` or the
    refusal's reason."""

    async def flow(connection: Connection, body: dict[str, Any]) -> str:
        key = f"burst-{body['email']}-{body['last_name']}"
        status, raw = await connection.request(
            "POST",
            "/applications",
            json.dumps(body).encode(),
            {"Content-Type": "application/json", "Idempotency-Key": key},
        )
        answer = json.loads(raw)
        if status != 201:
            if status != 409:
                raise AssertionError(f"application answered {status}: {answer}")
            return str(answer["reason"])
        status, raw = await connection.request(
            "POST",
            f"/applications/{answer['registration_id']}/payments",
            b"",
            {"X-Personal-Token": answer["personal_token"], "Idempotency-Key": "pay-" + key},
        )
        if status != 201:
            raise AssertionError(f"payment start answered {status}: {raw!r}")
        payment = json.loads(raw)
        callback = sandbox.body(
            transaction_id=f"burst-{payment['payment_id']}",
            payment_id=payment["payment_id"],
            account_id=answer["registration_number"],
            amount_kzt=payment["amount_kzt"],
        )
        status, raw = await connection.request(
            "POST",
            "/payments/sandbox/notify",
            callback,
            {"Content-Type": "application/json", "X-Sandbox-Signature": sandbox.sign(callback)},
        )
        if status != 200:
            raise AssertionError(f"callback answered {status}: {raw!r}")
        return str(json.loads(raw)["result"])

    return flow


def trivial_flow(path: str = "/livez", requests: int = 3) -> Flow:
    """The baseline: the same HTTP stack answering a trivial endpoint, as many requests per
    flow as a registration takes."""

    async def flow(connection: Connection, _: Any) -> str:
        for _ in range(requests):
            status, _raw = await connection.request("GET", path)
            if status != 200:
                raise AssertionError(f"{path} answered {status}")
        return "ok"

    return flow
