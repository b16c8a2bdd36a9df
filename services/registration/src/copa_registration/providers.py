"""The payment provider port and its two adapters.

* :class:`CloudPayments`: shaped on CloudPayments' documented API (used in Kazakhstan): the
  hosted checkout is their widget (`cp.CloudPayments().pay('charge', {...})`) opened on a page
  we serve; their server calls our `Check` and `Pay` notification URLs with the payment's
  fields (``TransactionId``, ``Amount``, ``Currency``, ``InvoiceId``, ``AccountId``,
  ``Status``, ``DateTime``, ``TestMode``, ...), form-encoded by default or JSON, and the header
  ``Content-HMAC``: base64 of HMAC-SHA256 of the raw body with the site's API secret. Amounts
  are decimal numbers in the currency's units (tenge for KZT). The answer is ``{"code": 0}``.
* :class:`Sandbox`: a local provider for the embedded platform: its checkout page is served
  under ``/sandbox-pay``; "pay" sends a signed JSON callback to the service over real HTTP.

The service never trusts a notification before :meth:`PaymentProvider.parse` verified its
signature over the raw bytes (never over a re-serialized body).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol
from urllib.parse import parse_qsl

from copa_registration.entries import Notification


class InvalidNotification(Exception):
    """The body is not a notification of this provider (or its signature is wrong)."""


class PaymentProvider(Protocol):
    name: str

    def checkout_path(self, payment_id: str) -> str:
        """Where the payer's browser goes to pay (relative to the service's public URL)."""

    def parse(self, raw: bytes, headers: dict[str, str]) -> Notification:
        """Verify the signature over ``raw`` and read the notification (raises
        :class:`InvalidNotification`)."""


def hmac_base64(secret: str, raw: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), raw, hashlib.sha256).digest()).decode()


def whole_tenge(amount: str) -> int | None:
    """A decimal amount as integer KZT, or None when it is not a whole number of tenge."""
    try:
        value = Decimal(amount)
    except (InvalidOperation, ValueError):
        return None
    if not value.is_finite() or value != value.to_integral_value() or value < 0:
        return None
    return int(value)


class CloudPayments:
    name = "cloudpayments"

    def __init__(self, public_id: str, api_secret: str) -> None:
        self.public_id = public_id
        self.api_secret = api_secret

    def checkout_path(self, payment_id: str) -> str:
        return f"/payments/{payment_id}/checkout"

    def widget_options(
        self, *, payment_id: str, amount_kzt: int, account_id: str, email: str, description: str
    ) -> dict[str, Any]:
        """The options of the widget's ``pay('charge', options)`` call."""
        return {
            "publicId": self.public_id,
            "description": description,
            "amount": amount_kzt,
            "currency": "KZT",
            "invoiceId": payment_id,
            "accountId": account_id,
            "email": email,
            "skin": "classic",
        }

    def parse(self, raw: bytes, headers: dict[str, str]) -> Notification:
        if not self.api_secret:
            raise InvalidNotification("the CloudPayments API secret is not configured")
        signature = headers.get("content-hmac") or ""
        if not hmac.compare_digest(signature.encode(), hmac_base64(self.api_secret, raw).encode()):
            raise InvalidNotification("Content-HMAC does not match the body")
        content_type = headers.get("content-type", "")
        try:
            if "json" in content_type:
                fields = json.loads(raw)
                if not isinstance(fields, dict):
                    raise InvalidNotification("the JSON body is not an object")
            else:
                fields = dict(parse_qsl(raw.decode(), keep_blank_values=True))
        except (ValueError, UnicodeDecodeError) as exc:
            raise InvalidNotification(f"unreadable body: {exc}") from exc
        transaction = str(fields.get("TransactionId") or "")
        amount = str(fields.get("Amount") or "")
        if not transaction or not amount:
            raise InvalidNotification("TransactionId and Amount are required")
        status = str(fields.get("Status") or "")
        return Notification(
            provider=self.name,
            transaction_id=transaction,
            invoice_id=_opt(fields.get("InvoiceId")),
            account_id=_opt(fields.get("AccountId")),
            amount_kzt=whole_tenge(amount),
            amount_received=amount,
            currency=str(fields.get("Currency") or ""),
            # Pay is sent for a completed payment; a two-stage (Authorized) one is not money yet.
            completed=status in ("Completed", ""),
            raw=fields,
        )


class Sandbox:
    """The embedded platform's provider: JSON callbacks signed with ``X-Sandbox-Signature``."""

    name = "sandbox"

    def __init__(self, secret: str) -> None:
        self.secret = secret

    def checkout_path(self, payment_id: str) -> str:
        return f"/sandbox-pay/{payment_id}"

    def sign(self, raw: bytes) -> str:
        return hmac_base64(self.secret, raw)

    def body(
        self, *, transaction_id: str, payment_id: str, account_id: str, amount_kzt: int
    ) -> bytes:
        return json.dumps(
            {
                "transaction_id": transaction_id,
                "invoice_id": payment_id,
                "account_id": account_id,
                "amount": str(amount_kzt),
                "currency": "KZT",
                "status": "completed",
            }
        ).encode()

    def parse(self, raw: bytes, headers: dict[str, str]) -> Notification:
        signature = headers.get("x-sandbox-signature") or ""
        if not hmac.compare_digest(signature.encode(), self.sign(raw).encode()):
            raise InvalidNotification("X-Sandbox-Signature does not match the body")
        try:
            fields = json.loads(raw)
            transaction = str(fields["transaction_id"])
            amount = str(fields["amount"])
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidNotification(f"unreadable body: {exc}") from exc
        return Notification(
            provider=self.name,
            transaction_id=transaction,
            invoice_id=_opt(fields.get("invoice_id")),
            account_id=_opt(fields.get("account_id")),
            amount_kzt=whole_tenge(amount),
            amount_received=amount,
            currency=str(fields.get("currency") or ""),
            completed=fields.get("status") == "completed",
            raw=fields,
        )


def _opt(value: Any) -> str | None:
    return None if value in (None, "") else str(value)
