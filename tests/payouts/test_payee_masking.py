"""A payee's SSN or EIN (W-9), foreign tax id (W-8BEN) and bank account number (payout method): typed once,
sent to Dots, and then in no page, log line, audit row or audit export (CSV)."""

import logging

import pytest
from django.urls import reverse

from core import roles
from core.models import AuditEvent
from payouts.services import payees
from tests.support import login_verified, make_user

from .conftest import phone
from .test_payee_w8ben import FORM as W8BEN_FORM
from .test_payee_w9 import FORM as W9_FORM

pytestmark = pytest.mark.django_db
TIN = "987654321"
TIN_TYPED = "987-65-4321"
FTIN = W8BEN_FORM["foreign_tax_id"]
ACCOUNT = "000555667788"
SECRETS = (TIN, TIN_TYPED, FTIN, ACCOUNT)


def _text(response) -> str:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content).decode()
    return response.content.decode()


def test_no_full_tax_id_or_account_number_in_pages_logs_audit_rows_or_the_audit_export(dots, operator, client, caplog):
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="dots")  # request bodies are logged at debug, redacted
    payee = payees.payee_create(
        first_name="Ann", last_name="Lee", email="ann@example.com", phone=phone(), actor=operator
    )
    base = f"/admin/payouts/payee/{payee.pk}"
    login_verified(client, operator)
    texts = []
    # Each form once refused (by us, then by Dots) and once accepted: the numbers typed every time.
    w9 = {**W9_FORM, "tin": TIN_TYPED}
    texts.append(_text(client.post(f"{base}/tax-form/", {**w9, "entity_type": "business"})))
    dots.add_fault(method="PUT", path="/v2/users/*/compliance", kind="status", status=400, count=1)
    texts.append(_text(client.post(f"{base}/tax-form/", w9)))
    assert client.post(f"{base}/tax-form/", w9).status_code == 302
    texts.append(_text(client.post(f"{base}/w-8ben/", {**W8BEN_FORM, "consent": ""})))
    dots.add_fault(method="PUT", path="/v2/users/*/compliance", kind="status", status=400, count=1)
    texts.append(_text(client.post(f"{base}/w-8ben/", W8BEN_FORM)))
    assert client.post(f"{base}/w-8ben/", W8BEN_FORM).status_code == 302
    bank = {"platform": "ach", "routing_number": "021000021", "account_number": ACCOUNT, "account_type": "checking"}
    texts.append(_text(client.post(f"{base}/payout-methods/", {**bank, "routing_number": "12"})))
    dots.add_fault(method="PUT", path="/v2/users/*/payout-methods", kind="status", status=400, count=1)
    texts.append(_text(client.post(f"{base}/payout-methods/", bank)))
    assert client.post(f"{base}/payout-methods/", {**bank, "is_default": "on"}).status_code == 302
    assert "body=" in caplog.text  # request bodies were logged (redacted), so the search below means something
    assert len(dots.received("PUT", f"/v2/users/{payee.dots_user_id}/compliance")) == 4
    assert len(dots.received("PUT", f"/v2/users/{payee.dots_user_id}/payout-methods")) == 2

    events = list(AuditEvent.objects.all())
    assert {"payee.compliance_set", "payee.w8ben_sent", "payee.payout_method_added"} <= {e.action for e in events}
    audit_rows = " ".join(f"{e.changes} {e.reason} {e.object_repr}" for e in events)
    pages = [
        f"{base}/change/",
        f"{base}/tax-form/",
        f"{base}/w-8ben/",
        f"{base}/payout-methods/",
        f"{base}/address/",
        reverse("admin:payouts_payee_changelist"),
        reverse("admin:core_auditevent_changelist"),
        *[reverse("admin:core_auditevent_change", args=[e.pk]) for e in events],
    ]
    texts += [_text(client.get(url)) for url in pages]
    login_verified(client, make_user("auditor", role=roles.MANAGER))
    texts += [_text(client.get(url)) for url in pages if "/payouts/payee/" not in url or "change" in url]
    texts.append(_text(client.get(f"{base}/payout-methods/")))
    export = client.get(reverse("admin:core_auditevent_export"))
    assert export.status_code == 200
    exported = _text(export)
    assert "W-8BEN" in exported and "0489" in exported and "4321" in exported and "7788" in exported  # last fours
    texts.append(exported)

    payee.refresh_from_db()
    for secret in SECRETS:
        assert secret not in caplog.text, secret
        assert secret not in audit_rows, secret
        assert secret not in str(payee.__dict__), secret
        for text in texts:
            assert secret not in text, secret
