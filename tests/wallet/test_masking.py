"""The bank account number, the EIN and the SSNs: in no page, log line, audit row or audit export."""

import logging

import pytest
from django.urls import reverse

from core.models import AuditEvent
from tests.support import login_verified
from tests.wallet.conftest import ACCOUNT_NUMBER, COMPLIANCE
from wallet import ach_accounts, kyb

pytestmark = pytest.mark.django_db
EIN, SSN = COMPLIANCE["company_info"]["ein"], COMPLIANCE["directors"][0]["ssn"]
SECRETS = (ACCOUNT_NUMBER, EIN, SSN)


def test_no_full_number_in_logs_audit_rows_exports_or_pages(client, dots, wallet_app, team, caplog):
    caplog.set_level(logging.DEBUG, logger="dots")  # request bodies are logged at debug, redacted
    kyb.compliance_send(actor=team.admin, app_id=wallet_app.pk, body=COMPLIANCE)
    account = ach_accounts.ach_account_add(
        actor=team.admin,
        app_id=wallet_app.pk,
        holder_name="Ledgerline Inc",
        routing_number="021000021",
        account_number=ACCOUNT_NUMBER,
        account_type="checking",
    )
    ach_accounts.ach_account_verify(actor=team.payer, ach_account_id=account.pk, how_confirmed="bank letter")
    assert "body=" in caplog.text  # the bodies were logged, so the check below means something

    audit_rows = " ".join(f"{e.changes} {e.reason} {e.object_repr}" for e in AuditEvent.objects.all())
    login_verified(client, team.manager)
    pages = [
        reverse("admin:wallet_app_change", args=[wallet_app.pk]),
        reverse("admin:wallet_app_changelist"),
        reverse("admin:wallet_achaccount_change", args=[account.pk]),
        reverse("admin:wallet_achaccount_changelist"),
        reverse("admin:core_auditevent_changelist"),
    ]
    texts = [client.get(url).content.decode() for url in pages]
    export = client.get(reverse("admin:core_auditevent_export"))
    texts.append(b"".join(export.streaming_content).decode() if export.streaming else export.content.decode())
    login_verified(client, team.admin)
    texts.append(client.get(reverse("admin:wallet_app_kyb", args=[wallet_app.pk])).content.decode())
    for secret in SECRETS:
        assert secret not in caplog.text
        assert secret not in audit_rows
        for text in texts:
            assert secret not in text
