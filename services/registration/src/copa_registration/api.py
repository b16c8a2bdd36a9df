"""The public HTTP API: applications, their state, payment start, provider callbacks, sandbox.

Public endpoints never show another person's data: an application is seen and changed only
with its personal token (``X-Personal-Token``), issued once with the registration ID.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import html
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any
from urllib.parse import parse_qsl

import httpx
from fastapi import APIRouter, Depends, FastAPI, Header, Request
from fastapi.responses import HTMLResponse, JSONResponse
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from copa_registration import capacity, entries
from copa_registration.config import Context, context
from copa_registration.idempotency import remember, replay_or_reserve, request_hash, respond
from copa_registration.providers import CloudPayments, InvalidNotification, PaymentProvider, Sandbox
from copa_registration.schemas import (
    ApplicationCreate,
    ApplicationCreated,
    ApplicationPublic,
    ClockSet,
    PaymentStarted,
)
from copa_runtime.app import Runtime, get_session
from copa_runtime.problems import Problem

Session = Annotated[AsyncSession, Depends(get_session, scope="function")]
Token = Annotated[str | None, Header(alias="X-Personal-Token")]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key")]


def get_context() -> Context:
    return context()


Ctx = Annotated[Context, Depends(get_context)]


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Counter rows from the edition config before the first request (idempotent)."""
    runtime: Runtime = app.state.runtime
    async with runtime.db.unit_of_work() as session:
        await capacity.seed(session, context().edition)
    app.state.http = httpx.AsyncClient(timeout=10)
    try:
        yield
    finally:
        await app.state.http.aclose()


router = APIRouter(lifespan=lifespan)

PROBLEM = {"model": dict[str, Any], "description": "Refused: problem+json with reason and clause"}


def provider_of(ctx: Context) -> PaymentProvider:
    if ctx.settings.payment_provider == "cloudpayments":
        return CloudPayments(
            ctx.settings.cloudpayments_public_id, ctx.settings.cloudpayments_api_secret
        )
    return Sandbox(ctx.settings.sandbox_secret)


@router.get("/edition", tags=["public"], summary="The edition: distances, fees, window, places")
async def edition_info(session: Session, ctx: Ctx) -> dict[str, Any]:
    edition = ctx.edition
    counts = await capacity.counts(session)
    on = await entries.competition_date(session, edition)

    def free(scope: str) -> int:
        c = counts.get(scope, {"limit": 0, "taken": 0})
        return max(0, c["limit"] - c["taken"])

    return {
        "edition": edition.code,
        "name": edition.name,
        "date": on,
        "registration": {
            "opens_at_local": edition.registration.opens_at_local,
            "closes_at_local": edition.registration.closes_at_local,
            "time_zone": edition.time_zone,
            "places_free": free(capacity.TOTAL),
        },
        "distances": [
            {
                "code": d.code,
                "fee_kzt": d.fee_kzt,
                "qualification_required": d.qualification_required,
                "places_free": min(free(d.code), free(capacity.TOTAL)),
            }
            for d in edition.distances
        ],
        "relay": {"code": edition.relay.code, "team_fee_kzt": edition.relay.team_fee_kzt},
    }


@router.post(
    "/applications",
    tags=["public"],
    status_code=201,
    response_model=ApplicationCreated,
    summary="Apply for a distance (reg 7.3): registration ID and personal token at once",
    responses={403: PROBLEM, 409: PROBLEM, 422: PROBLEM},
)
async def apply(
    request: Request,
    body: ApplicationCreate,
    ctx: Ctx,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    fingerprint = request_hash("POST /applications", await request.body())
    db = request.app.state.runtime.db
    now = ctx.clock.now()
    try:
        async with capacity.checked_unit_of_work(db) as session:
            replay = await replay_or_reserve(session, "applications", idempotency_key, fingerprint)
            if replay is not None:
                return replay
            status, answer = await entries.create_application(session, ctx, body, now)
            response = await remember(session, "applications", idempotency_key, status, answer)
    except capacity.CapacityFull as full:
        # The last slot went to another application at commit: refused, in a new transaction.
        async with db.unit_of_work() as session:
            replay = await replay_or_reserve(session, "applications", idempotency_key, fingerprint)
            if replay is not None:
                return replay
            status, answer = await entries.refuse_for_capacity(session, ctx, body, now, full.scope)
            response = await remember(session, "applications", idempotency_key, status, answer)
    return response


@router.get(
    "/applications/{application_id}",
    tags=["public"],
    response_model=ApplicationPublic,
    summary="The application's state (needs its personal token)",
)
async def application_state(
    application_id: uuid.UUID, session: Session, ctx: Ctx, token: Token = None
) -> dict[str, Any]:
    row = await entries.owned_application(session, application_id, token)
    view = entries.public_view(row, ctx.clock.now())
    change = (
        await session.execute(
            text(
                """SELECT to_distance, change_fee_kzt + fee_difference_kzt AS due,
                hold_expires_at FROM distance_changes WHERE application_id = :id
                AND status = 'held' AND hold_expires_at > :now"""
            ),
            {"id": row.id, "now": ctx.clock.now()},
        )
    ).first()
    if change is not None:
        view["pending_distance_change"] = {
            "to_distance": change.to_distance,
            "amount_due_kzt": change.due,
            "hold_expires_at": change.hold_expires_at,
        }
    return view


@router.post(
    "/applications/{application_id}/payments",
    tags=["public"],
    status_code=201,
    response_model=PaymentStarted,
    summary="Start paying the fee due: returns the provider's hosted checkout URL",
)
async def start_payment(
    application_id: uuid.UUID,
    request: Request,
    session: Session,
    ctx: Ctx,
    token: Token = None,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    scope = f"payments:{application_id}"
    fingerprint = request_hash(scope, await request.body())
    # The owner is checked before a stored answer is replayed (a key is no credential).
    await entries.owned_application(session, application_id, token)
    replay = await replay_or_reserve(session, scope, idempotency_key, fingerprint)
    if replay is not None:
        return replay
    started = await entries.start_payment(session, ctx, application_id, token, ctx.clock.now())
    return await remember(session, scope, idempotency_key, 201, checkout(request, ctx, started))


def checkout(request: Request, ctx: Context, started: dict[str, Any]) -> dict[str, Any]:
    provider = provider_of(ctx)
    base = str(request.base_url).rstrip("/")
    return {
        **started,
        "provider": provider.name,
        "currency": "KZT",
        "checkout_url": base + provider.checkout_path(str(started["payment_id"])),
    }


# --- provider callbacks ----------------------------------------------------------------------


def _headers(request: Request) -> dict[str, str]:
    return {k.lower(): v for k, v in request.headers.items()}


@router.post(
    "/payments/sandbox/notify",
    tags=["payment provider"],
    summary="Sandbox provider's signed payment callback",
)
async def sandbox_notify(request: Request, ctx: Ctx) -> dict[str, Any]:
    provider = _sandbox(ctx)
    raw = await request.body()
    try:
        notification = provider.parse(raw, _headers(request))
    except InvalidNotification as exc:
        raise Problem(401, "Invalid signature", str(exc), type_="invalid-signature") from exc
    outcome = await apply_payment(request, ctx, notification)
    return {"result": outcome.result, "reason": outcome.reason}


async def apply_payment(
    request: Request, ctx: Context, notification: entries.Notification
) -> entries.Outcome:
    """Apply a verified notification; when its commit finds the slot gone (a hold that expired
    and was sold meanwhile), record the money as unmatched in a new transaction."""
    db = request.app.state.runtime.db
    now = ctx.clock.now()
    try:
        async with capacity.checked_unit_of_work(db) as session:
            return await entries.apply_notification(session, ctx, notification, now)
    except capacity.CapacityFull:
        async with db.unit_of_work() as session:
            return await entries.record_sold_out(session, ctx, notification, now)


@router.post(
    "/payments/cloudpayments/check",
    tags=["payment provider"],
    summary="CloudPayments Check notification: may this payment be taken?",
)
async def cloudpayments_check(request: Request, session: Session, ctx: Ctx) -> dict[str, int]:
    notification = _cloudpayments_notification(ctx, await request.body(), request)
    return {"code": await entries.check_payable(session, notification, ctx.clock.now())}


@router.post(
    "/payments/cloudpayments/pay",
    tags=["payment provider"],
    summary="CloudPayments Pay notification: the payment went through",
)
async def cloudpayments_pay(request: Request, ctx: Ctx) -> dict[str, int]:
    notification = _cloudpayments_notification(ctx, await request.body(), request)
    await apply_payment(request, ctx, notification)
    # Money that cannot be applied is recorded for an organizer; the provider is told it was
    # received (code 0), so it does not retry a payment that is already ours (reg 7.7).
    return {"code": 0}


def _cloudpayments_notification(ctx: Context, raw: bytes, request: Request) -> entries.Notification:
    provider = CloudPayments(
        ctx.settings.cloudpayments_public_id, ctx.settings.cloudpayments_api_secret
    )
    try:
        return provider.parse(raw, _headers(request))
    except InvalidNotification as exc:
        raise Problem(401, "Invalid signature", str(exc), type_="invalid-signature") from exc


async def _payment_page_data(session: AsyncSession, payment_id: uuid.UUID) -> Any:
    row = (
        await session.execute(
            text(
                """SELECT p.id, p.amount_kzt, p.status, p.purpose,
                coalesce(a.registration_number, t.registration_number) AS account,
                coalesce(a.email, t.captain->>'email') AS email
                FROM payments p LEFT JOIN applications a ON a.id = p.application_id
                LEFT JOIN relay_teams t ON t.id = p.relay_team_id WHERE p.id = :id"""
            ),
            {"id": payment_id},
        )
    ).first()
    if row is None:
        raise Problem(404, "Not Found", "No such payment.")
    return row


@router.get(
    "/payments/{payment_id}/checkout",
    tags=["payment provider"],
    response_class=HTMLResponse,
    summary="CloudPayments hosted checkout: the widget opened for this payment",
)
async def cloudpayments_checkout(payment_id: uuid.UUID, session: Session, ctx: Ctx) -> str:
    row = await _payment_page_data(session, payment_id)
    provider = CloudPayments(
        ctx.settings.cloudpayments_public_id, ctx.settings.cloudpayments_api_secret
    )
    options = provider.widget_options(
        payment_id=str(row.id),
        amount_kzt=row.amount_kzt,
        account_id=row.account,
        email=row.email,
        description=f"{ctx.edition.name}: {row.account}",
    )
    return f"""<!doctype html><html><head><meta charset="utf-8">
<title>{html.escape(ctx.edition.name)}</title>
<script src="{html.escape(ctx.settings.cloudpayments_widget_url)}"></script></head>
<body><p>{row.amount_kzt} KZT</p><button id="pay">Pay</button><script>
document.getElementById('pay').onclick = function () {{
  new cp.CloudPayments().pay('charge', {_script_json(options)}, {{}});
}};
</script></body></html>"""


def _script_json(value: object) -> str:
    """JSON safe inside a ``<script>`` element: no ``</script>`` or ``<!--`` can close it."""
    return json.dumps(value).replace("<", "\\u003c").replace(">", "\\u003e")


# --- the sandbox provider --------------------------------------------------------------------


def _sandbox(ctx: Context) -> Sandbox:
    if ctx.settings.payment_provider != "sandbox":
        raise Problem(404, "Not Found", "The sandbox provider is not enabled here.")
    return Sandbox(ctx.settings.sandbox_secret)


@router.get(
    "/sandbox-pay/{payment_id}",
    tags=["sandbox provider"],
    response_class=HTMLResponse,
    summary="Sandbox hosted checkout page",
)
async def sandbox_page(payment_id: uuid.UUID, session: Session, ctx: Ctx) -> str:
    _sandbox(ctx)
    row = await _payment_page_data(session, payment_id)
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>Sandbox checkout</title>
</head><body><h1>Sandbox checkout</h1><p>{html.escape(ctx.edition.name)}:
{html.escape(row.account)}</p><p>Amount: {row.amount_kzt} KZT</p>
<form method="post" action="/sandbox-pay/{row.id}/pay"><button>Pay</button></form>
</body></html>"""


@router.post(
    "/sandbox-pay/{payment_id}/pay",
    tags=["sandbox provider"],
    summary="Pay in the sandbox: sends the signed callback to this service over HTTP",
)
async def sandbox_pay(
    payment_id: uuid.UUID,
    request: Request,
    ctx: Ctx,
) -> JSONResponse:
    """The page's form (or a test's JSON) may set ``amount_kzt`` and ``transaction_id``."""
    provider = _sandbox(ctx)
    fields = await _form_or_json(request)
    amount_kzt = int(fields["amount_kzt"]) if fields.get("amount_kzt") else None
    transaction_id = fields.get("transaction_id") or None
    runtime: Runtime = request.app.state.runtime
    async with runtime.db.unit_of_work() as session:
        row = await _payment_page_data(session, payment_id)
    # A payer may pay a wrong amount (the sandbox lets a test do so) and the provider may send
    # the same transaction twice: both are the callback receiver's problem, as in production.
    body = provider.body(
        transaction_id=transaction_id or f"sbx-{uuid.uuid4().hex}",
        payment_id=str(row.id),
        account_id=row.account,
        amount_kzt=row.amount_kzt if amount_kzt is None else amount_kzt,
    )
    client: httpx.AsyncClient = request.app.state.http
    # A provider delivers its notification until it is answered with success; the same
    # transaction again is applied once (RULES §3). A kept-alive connection the server has
    # just closed, or a 503 (the receiver's transaction lost a deadlock and was rolled back),
    # is worth another attempt.
    failure = ""
    for attempt in range(1, SANDBOX_CALLBACK_ATTEMPTS + 1):
        try:
            answer = await client.post(
                str(request.base_url).rstrip("/") + "/payments/sandbox/notify",
                content=body,
                headers={
                    "Content-Type": "application/json",
                    "X-Sandbox-Signature": provider.sign(body),
                },
            )
        except httpx.TransportError as error:
            failure = repr(error)
        else:
            if answer.status_code < 500:
                break
            failure = f"the receiver answered {answer.status_code}"
        if attempt == SANDBOX_CALLBACK_ATTEMPTS:
            raise Problem(
                503,
                "Callback not delivered",
                f"The sandbox could not deliver the payment notification ({failure}); "
                "pay again: the same transaction is applied once.",
                type_="callback-not-delivered",
            )
        await asyncio.sleep(0.1 * attempt)
    return respond(200, {"callback_status": answer.status_code, "callback": answer.json()})


SANDBOX_CALLBACK_ATTEMPTS = 5


async def _form_or_json(request: Request) -> dict[str, str]:
    raw = await request.body()
    if not raw:
        return {}
    try:
        if "json" in request.headers.get("content-type", ""):
            data = json.loads(raw)
            return {str(k): str(v) for k, v in data.items() if v is not None}
        return dict(parse_qsl(raw.decode()))
    except (ValueError, AttributeError, UnicodeDecodeError) as exc:
        raise Problem(422, "Invalid request", "Send a form or a JSON object.") from exc


# --- the injectable clock (tests, demos) -----------------------------------------------------


@router.put("/testing/clock", tags=["testing"], summary="Move the service's clock (tests only)")
async def set_clock(body: ClockSet, ctx: Ctx) -> dict[str, dt.datetime]:
    if not ctx.settings.clock_control:
        raise Problem(404, "Not Found", "The clock is not controllable here.")
    ctx.clock.set(body.now)
    return {"now": ctx.clock.now()}
