"""The payment provider adapters: signatures over the raw body, amounts in the provider's
units, and the CloudPayments notifications end to end against the running service."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from urllib.parse import urlencode

import httpx
import pytest

from copa_registration.providers import CloudPayments, InvalidNotification, Sandbox, whole_tenge

SECRET = "cp-api-secret-for-tests"


def _sign(body: bytes) -> str:
    return base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest()).decode()


def _form(**fields: str) -> bytes:
    base = {
        "TransactionId": "3012456789",
        "Amount": "5000.00",
        "Currency": "KZT",
        "PaymentAmount": "5000.00",
        "PaymentCurrency": "KZT",
        "OperationType": "Payment",
        "InvoiceId": "3f1c2d9e-0000-4000-8000-000000000001",
        "AccountId": "R000417",
        "DateTime": "2024-02-01 04:12:44",
        "TestMode": "0",
        "Status": "Completed",
    }
    base.update(fields)
    return urlencode(base).encode()


def test_cloudpayments_pay_notification_is_verified_over_the_raw_form_body():
    provider = CloudPayments("pk_test", SECRET)
    body = _form()
    n = provider.parse(
        body, {"content-hmac": _sign(body), "content-type": "application/x-www-form-urlencoded"}
    )
    assert (n.transaction_id, n.invoice_id, n.account_id) == (
        "3012456789",
        "3f1c2d9e-0000-4000-8000-000000000001",
        "R000417",
    )
    assert (n.amount_kzt, n.currency, n.completed) == (5000, "KZT", True)
    with pytest.raises(InvalidNotification):
        provider.parse(_form(Amount="50.00"), {"content-hmac": _sign(body)})


def test_cloudpayments_json_notifications_and_fractional_amounts():
    provider = CloudPayments("pk_test", SECRET)
    body = json.dumps({"TransactionId": 7, "Amount": 4999.5, "Currency": "KZT"}).encode()
    n = provider.parse(body, {"content-hmac": _sign(body), "content-type": "application/json"})
    assert n.amount_kzt is None
    assert n.amount_received == "4999.5"
    assert whole_tenge("7000.00") == 7000
    assert whole_tenge("-1") is None


def test_sandbox_signature():
    sandbox = Sandbox("s")
    body = sandbox.body(transaction_id="t", payment_id="p", account_id="a", amount_kzt=1)
    assert sandbox.parse(body, {"x-sandbox-signature": sandbox.sign(body)}).amount_kzt == 1
    with pytest.raises(InvalidNotification):
        sandbox.parse(body, {"x-sandbox-signature": Sandbox("other").sign(body)})


def test_cloudpayments_checkout_check_and_pay_against_the_service(
    registration_env, service_process, h
):
    registration_env.setenv("COPA_PAYMENT_PROVIDER", "cloudpayments")
    registration_env.setenv("COPA_CLOUDPAYMENTS_PUBLIC_ID", "pk_test_copa")
    registration_env.setenv("COPA_CLOUDPAYMENTS_API_SECRET", SECRET)
    registration_env.setenv("COPA_CORS_ALLOW_ORIGINS", "https://almaty-marathon.kz")
    service = service_process("registration")
    with httpx.Client(base_url=service.base_url, timeout=30) as http:
        preflight = http.options(
            "/applications",
            headers={
                "Origin": "https://almaty-marathon.kz",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type,idempotency-key",
            },
        )
        assert preflight.headers["access-control-allow-origin"] == "https://almaty-marathon.kz"
        created = http.post("/applications", json=h.runner(1)).json()
        started = http.post(
            f"/applications/{created['registration_id']}/payments", headers=h.token_header(created)
        ).json()
        assert started["provider"] == "cloudpayments"
        page = http.get(started["checkout_url"]).text
        assert "cp.CloudPayments" in page
        assert started["payment_id"] in page
        assert "pk_test_copa" in page
        # The sandbox is off when a real provider is configured.
        assert http.post(f"/sandbox-pay/{started['payment_id']}/pay").status_code == 404
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        check = _form(InvoiceId=started["payment_id"], AccountId=created["registration_number"])
        answer = http.post(
            "/payments/cloudpayments/check",
            content=check,
            headers={**form, "Content-HMAC": _sign(check)},
        )
        assert answer.json() == {"code": 0}
        wrong = _form(InvoiceId=started["payment_id"], Amount="4000.00")
        answer = http.post(
            "/payments/cloudpayments/check",
            content=wrong,
            headers={**form, "Content-HMAC": _sign(wrong)},
        )
        assert answer.json() == {"code": 12}
        pay = _form(InvoiceId=started["payment_id"], AccountId=created["registration_number"])
        bad = http.post(
            "/payments/cloudpayments/pay",
            content=pay,
            headers={**form, "Content-HMAC": _sign(pay + b"x")},
        )
        assert bad.status_code == 401
        for _ in range(2):  # the provider retries: applied once
            answer = http.post(
                "/payments/cloudpayments/pay",
                content=pay,
                headers={**form, "Content-HMAC": _sign(pay)},
            )
            assert answer.json() == {"code": 0}
        state = http.get(
            f"/applications/{created['registration_id']}", headers=h.token_header(created)
        ).json()
        assert (state["status"], state["amount_paid_kzt"], state["bib"]) == ("paid", 5000, 1)


def test_checkout_widget_options_cannot_close_their_script_element() -> None:
    from copa_registration.api import _script_json

    text = _script_json({"description": "Copa </script><script>alert(1)</script> <!--"})
    assert "<" not in text
    assert ">" not in text
    assert json.loads(text) == {"description": "Copa </script><script>alert(1)</script> <!--"}
