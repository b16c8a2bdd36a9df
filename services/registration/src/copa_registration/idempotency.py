"""`Idempotency-Key`: the same key with the same request gives the first answer again.

The key is reserved in the request's own transaction; a concurrent request with the same key
waits on the primary key until the first one commits, then replays its answer. A key reused
for a different request is refused.
"""

from __future__ import annotations

import hashlib
from typing import Any

from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from copa_runtime.problems import PROBLEM_JSON, Problem


def request_hash(*parts: bytes | str) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode() if isinstance(part, str) else part)
        digest.update(b"\0")
    return digest.hexdigest()


async def replay_or_reserve(
    session: AsyncSession, scope: str, key: str | None, fingerprint: str
) -> JSONResponse | None:
    """The stored answer for ``key``, or None after reserving it for this request."""
    if key is None:
        return None
    if not 1 <= len(key) <= 200:
        raise Problem(422, "Invalid Idempotency-Key", "Use 1 to 200 characters.")
    reserved = await session.scalar(
        text(
            """INSERT INTO idempotency_keys (scope, key, request_hash) VALUES (:s, :k, :h)
            ON CONFLICT (scope, key) DO NOTHING RETURNING 1"""
        ),
        {"s": scope, "k": key, "h": fingerprint},
    )
    if reserved is not None:
        return None
    row = (
        await session.execute(
            text(
                "SELECT request_hash, status_code, body FROM idempotency_keys "
                "WHERE scope = :s AND key = :k"
            ),
            {"s": scope, "k": key},
        )
    ).one()
    if row.request_hash != fingerprint:
        raise Problem(
            422,
            "Idempotency-Key reused",
            "This Idempotency-Key was used for a different request.",
            type_="idempotency-key-reused",
        )
    return respond(row.status_code, row.body, replayed=True)


async def remember(
    session: AsyncSession, scope: str, key: str | None, status: int, body: Any
) -> JSONResponse:
    encoded = jsonable_encoder(body)
    if key is not None:
        await session.execute(
            text(
                """UPDATE idempotency_keys SET status_code = :c, body = CAST(:b AS jsonb)
                WHERE scope = :s AND key = :k"""
            ),
            {"c": status, "b": _dumps(encoded), "s": scope, "k": key},
        )
    return respond(status, encoded)


def _dumps(value: Any) -> str:
    import json

    return json.dumps(value, ensure_ascii=False)


def respond(status: int, body: Any, *, replayed: bool = False) -> JSONResponse:
    media = PROBLEM_JSON if status >= 400 else "application/json"
    headers = {"Idempotent-Replayed": "true"} if replayed else None
    return JSONResponse(body, status_code=status, media_type=media, headers=headers)
