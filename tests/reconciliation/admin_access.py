"""Role matrix for the reconciliation app's admin pages (merged by tests/core/test_roles.py)."""

from django.utils import timezone

from core import roles

VIEW = {"changelist", "change", "history"}

EXPECTED = {
    "reconciliation.discrepancy": {roles.ADMINISTRATOR: VIEW, roles.PAYER: VIEW, roles.MANAGER: VIEW},
    "reconciliation.reconciliationrun": {roles.ADMINISTRATOR: VIEW, roles.MANAGER: VIEW},
    "reconciliation.appwallet": {roles.ADMINISTRATOR: VIEW, roles.PAYER: VIEW, roles.MANAGER: VIEW},
}


def _discrepancy():
    from reconciliation.models import Discrepancy

    return Discrepancy.objects.create(
        record_type="payout_link",
        local_id=1,
        dots_id="pl-1",
        label="Payout link #1",
        kind="status",
        local_value="created",
        dots_value="claimed",
        last_seen_at=timezone.now(),
    )


def _run():
    from reconciliation.models import ReconciliationRun

    return ReconciliationRun.objects.create(trigger="schedule")


def _wallet():
    from reconciliation.models import AppWallet

    return AppWallet.objects.create(dots_app_id="app-1", name="Main", balance_cents=100, synced_at=timezone.now())


INSTANCE_FACTORIES = {
    "reconciliation.discrepancy": _discrepancy,
    "reconciliation.reconciliationrun": _run,
    "reconciliation.appwallet": _wallet,
}
