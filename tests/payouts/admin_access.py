"""Role matrix for the payouts app's admin pages (merged by tests/core/test_roles.py)."""

import itertools

from core import roles
from tests.support import make_user

VIEW = {"changelist", "change", "history"}

EXPECTED = {
    "payouts.payee": {roles.PAYOUTS_OPERATOR: VIEW | {"add"}, roles.PAYER: VIEW, roles.MANAGER: VIEW},
    "payouts.payeeimport": {roles.PAYOUTS_OPERATOR: VIEW | {"add"}, roles.MANAGER: VIEW},
    "payouts.payoutrun": {roles.PAYOUTS_OPERATOR: VIEW, roles.PAYER: VIEW, roles.MANAGER: VIEW},
    "payouts.payoutlink": {roles.PAYOUTS_OPERATOR: VIEW | {"add"}, roles.PAYER: VIEW, roles.MANAGER: VIEW},
    "payouts.payoutrequest": {roles.PAYOUTS_OPERATOR: VIEW | {"add"}, roles.MANAGER: VIEW},
    "payouts.transfer": {roles.PAYOUTS_OPERATOR: VIEW, roles.PAYER: VIEW, roles.MANAGER: VIEW},
    "payouts.webhookdelivery": {roles.ADMINISTRATOR: VIEW, roles.MANAGER: VIEW},
    "payouts.payeetransfer": {roles.PAYOUTS_OPERATOR: VIEW | {"add"}, roles.PAYER: VIEW, roles.MANAGER: VIEW},
    "payouts.payeepayout": {roles.PAYOUTS_OPERATOR: VIEW | {"add"}, roles.PAYER: VIEW, roles.MANAGER: VIEW},
    "payouts.payoutbatch": {roles.PAYOUTS_OPERATOR: VIEW | {"add"}, roles.PAYER: VIEW, roles.MANAGER: VIEW},
}

_n = itertools.count(1)


def _user():
    return make_user(f"payouts-owner-{next(_n)}")


def _payee():
    from payouts.models import Payee

    n = next(_n)
    return Payee.objects.create(
        first_name="Ann", last_name="Lee", email=f"ann{n}@example.com", phone_e164=f"+1201556{n:04d}"
    )


def _import():
    from payouts.models import PayeeImport

    return PayeeImport.objects.create(file_name="payees.csv", uploaded_by=_user(), header=["first_name"])


def _run():
    from payouts.models import PayoutRun

    imp = _import()
    return PayoutRun.objects.create(payee_import=imp, created_by=imp.uploaded_by)


def _link():
    from payouts.models import PayoutLink

    return PayoutLink.objects.create(amount_cents=500, created_by=_user())


def _request():
    from payouts.models import PayoutRequest

    return PayoutRequest.objects.create(amount_cents=500, created_by=_user(), phone_e164="+12015550100")


def _transfer():
    from payouts.models import Transfer

    return Transfer.objects.create(dots_id=f"tr-{next(_n)}", type="payout", status="created", amount_cents=100)


def _payee_transfer():
    from payouts.models import PayeeTransfer

    payee = _payee()
    payee.dots_user_id = f"user-{next(_n)}"
    payee.save()
    return PayeeTransfer.objects.create(
        payee=payee, amount_cents=2_500, reason="Bonus", status="awaiting_approval", requested_by=_user()
    )


def _payee_payout():
    from payouts.models import PayeePayout

    payee = _payee()
    payee.dots_user_id = f"user-{next(_n)}"
    payee.save()
    return PayeePayout.objects.create(
        payee=payee,
        amount_cents=2_500,
        reason="Earnings",
        platform="ach",
        payout_method_id=f"pm-{next(_n)}",
        payout_method_words="Bank account, account ending 6789",
        status="awaiting_approval",
        requested_by=_user(),
    )


def _payout_batch():
    from payouts.models import PayoutBatch, PayoutBatchItem

    batch = PayoutBatch.objects.create(
        reason="March", status="awaiting_approval", item_count=1, total_cents=2_500, requested_by=_user()
    )
    PayoutBatchItem.objects.create(batch=batch, payee=_payee(), amount_cents=2_500)
    return batch


def _webhook_delivery():
    from payouts.models import WebhookDelivery

    return WebhookDelivery.objects.create(
        msg_id=f"msg_{next(_n)}",
        event_type="transfer.updated",
        outcome="accepted",
        payload={"event": "transfer.updated"},
    )


INSTANCE_FACTORIES = {
    "payouts.payee": _payee,
    "payouts.payeeimport": _import,
    "payouts.payoutrun": _run,
    "payouts.payoutlink": _link,
    "payouts.payoutrequest": _request,
    "payouts.transfer": _transfer,
    "payouts.webhookdelivery": _webhook_delivery,
    "payouts.payeetransfer": _payee_transfer,
    "payouts.payeepayout": _payee_payout,
    "payouts.payoutbatch": _payout_batch,
}
