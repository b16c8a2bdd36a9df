"""RFC 9457 problem details for every HTTP error the platform returns."""

from __future__ import annotations

import logging
from typing import Any

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

from copa_runtime.errors import is_infrastructure_failure

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
RETRY_AFTER_S = 1
"""What a 503 answer's ``Retry-After`` says (seconds): a database restart takes about that."""
TYPE_BASE = "https://copa.run/problems/"


class Problem(Exception):
    """Raise to answer with a problem document; ``extra`` members are added to it."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str | None = None,
        *,
        type_: str = "about:blank",
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail or title)
        self.status = status
        self.title = title
        self.detail = detail
        self.type = type_ if type_ == "about:blank" or ":" in type_ else TYPE_BASE + type_
        self.headers = headers
        self.extra = extra


def problem_response(
    request: Request,
    status: int,
    title: str,
    detail: str | None = None,
    *,
    type_: str = "about:blank",
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {"type": type_, "title": title, "status": status}
    if detail:
        body["detail"] = detail
    body["instance"] = request.url.path
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def on_problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(
            request,
            exc.status,
            exc.title,
            exc.detail,
            type_=exc.type,
            headers=exc.headers,
            **exc.extra,
        )

    @app.exception_handler(StarletteHTTPException)
    async def on_http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        title = {404: "Not Found", 405: "Method Not Allowed"}.get(exc.status_code, "HTTP error")
        detail = exc.detail if isinstance(exc.detail, str) else None
        return problem_response(
            request, exc.status_code, title, detail, headers=getattr(exc, "headers", None)
        )

    @app.exception_handler(RequestValidationError)
    async def on_invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {
                "location": list(error.get("loc", ())),
                "message": error.get("msg", ""),
                "type": error.get("type", ""),
            }
            for error in exc.errors()
        ]
        return problem_response(
            request,
            422,
            "Invalid request",
            "The request does not match the schema; see `errors`.",
            type_=TYPE_BASE + "invalid-request",
            errors=errors,
        )

    @app.exception_handler(DBAPIError)
    async def on_database_error(request: Request, exc: DBAPIError) -> JSONResponse:
        if not _is_bad_value(exc):
            return await on_unexpected(request, exc)
        return problem_response(
            request,
            422,
            "Value not storable",
            "A value in the request cannot be stored (a NUL character, a number out of range, "
            "an invalid encoding).",
            type_=TYPE_BASE + "invalid-value",
        )

    @app.exception_handler(Exception)
    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        if is_infrastructure_failure(exc):
            # The database (or the broker) is down or restarting: nothing was done, and the
            # same request will work once it is back. Say so, so that a device re-sends.
            log.warning("request refused: infrastructure unavailable", exc_info=exc)
            return problem_response(
                request,
                503,
                "Service Unavailable",
                "A server this service needs (its database) is unavailable; nothing was "
                "stored. Send the same request again shortly.",
                type_=TYPE_BASE + "unavailable",
                headers={"Retry-After": str(RETRY_AFTER_S)},
            )
        log.exception("unhandled error")
        return problem_response(
            request,
            500,
            "Internal Server Error",
            "The error was logged with the request's correlation id.",
        )


def _is_bad_value(exc: DBAPIError) -> bool:
    """The database refused a value itself (SQLSTATE class 22, or asyncpg's own encoding
    checks): the client's fault, not the server's."""
    cause: BaseException | None = exc.orig
    while cause is not None:
        if isinstance(cause, asyncpg.exceptions.DataError):
            return True
        state = getattr(cause, "sqlstate", None)
        if isinstance(state, str) and state.startswith("22"):
            return True
        cause = cause.__cause__
    return False
