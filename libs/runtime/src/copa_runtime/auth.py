"""JWT bearer auth with the platform's roles (ARCHITECTURE.md, "Who may do what")."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import jwt
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from copa_runtime.problems import Problem

ISSUER = "copa-run"
ALGORITHM = "HS256"


class Role(StrEnum):
    ORGANIZER = "organizer"
    JUDGE = "judge"
    CHIEF_JUDGE = "chief_judge"
    TIMING_DEVICE = "timing_device"
    PARTNER = "partner"
    PARTICIPANT = "participant"


@dataclass(frozen=True)
class Principal:
    """Who is calling: the token's subject, its roles, and the device for timing tokens."""

    subject: str
    roles: frozenset[Role]
    device: str | None = None


def issue_token(
    subject: str,
    roles: list[str],
    secret: str,
    ttl: timedelta,
    extra: dict[str, Any] | None = None,
) -> str:
    """Sign a bearer token; used by ``copa token`` and by tests."""
    if not secret:
        raise ValueError("a JWT secret is required")
    now = datetime.now(UTC)
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "sub": subject,
        "roles": sorted(Role(role).value for role in roles),
        "iat": now,
        "exp": now + ttl,
        "jti": str(uuid.uuid4()),
    }
    claims.update(extra or {})
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def decode_token(token: str, secret: str) -> Principal:
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            options={"require": ["exp", "sub"]},
        )
        roles = frozenset(Role(role) for role in claims.get("roles", []))
    except (jwt.PyJWTError, ValueError) as exc:
        raise Problem(401, "Invalid token", str(exc), type_="unauthorized") from exc
    return Principal(subject=claims["sub"], roles=roles, device=claims.get("device"))


_bearer = HTTPBearer(auto_error=False)


def require_roles(*roles: Role) -> Callable[..., Awaitable[Principal]]:
    """A dependency that admits a caller holding any of ``roles``."""
    wanted = frozenset(roles)

    async def dependency(
        request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)
    ) -> Principal:
        if credentials is None:
            raise Problem(
                401,
                "Authentication required",
                "Send a bearer token.",
                type_="unauthorized",
                headers={"WWW-Authenticate": "Bearer"},
            )
        principal = decode_token(credentials.credentials, request.app.state.settings.jwt_secret)
        if wanted and not principal.roles & wanted:
            raise Problem(
                403,
                "Forbidden",
                f"This needs one of the roles: {', '.join(sorted(wanted))}.",
                type_="forbidden",
            )
        return principal

    return dependency
