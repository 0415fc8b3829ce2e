"""What the reconciliation app brings to the shared machinery (core/registry.py).

Reconciliation sits above the business apps: it runs the sync steps and reconcile checks
they declare, and never names one of them.
"""

import datetime as dt

from django.utils import timezone

from core import registry, roles
from core.registry import ScheduleSpec, SyncStep

APP = "reconciliation"

# --- roles: who sees and settles disagreements with Dots.

ROLE_PERMISSIONS = {
    # Adopting Dots' state rewrites local records: an Administrator's call; Managers review.
    roles.ADMINISTRATOR: (
        "reconciliation.view_discrepancy",
        "reconciliation.adopt_discrepancy",
        "reconciliation.view_reconciliationrun",
        "reconciliation.view_appwallet",
    ),
    roles.PAYER: ("reconciliation.view_discrepancy", "reconciliation.view_appwallet"),
}

# --- audit actions

ACTIONS = {
    "reconciliation.run": "Reconciliation with Dots ran",
    "discrepancy.opened": "Disagreement with Dots found",
    "discrepancy.closed": "Disagreement with Dots went away",
    "discrepancy.adopted": "Dots' state adopted",
    "app_wallet.synced": "App wallet balance changed in Dots",
    "sync.ran": "Sync with Dots ran",
}

registry.role_permissions(APP, ROLE_PERMISSIONS)
registry.audit_actions(APP, ACTIONS)


def _soon() -> dt.datetime:
    return timezone.now() + dt.timedelta(seconds=30)


def _tonight() -> dt.datetime:
    """03:00 local time next: the full sync reads every record, when nobody waits on the worker."""
    tonight = timezone.localtime().replace(hour=3, minute=0, second=0, microsecond=0)
    if tonight <= timezone.localtime():
        tonight += dt.timedelta(days=1)
    return tonight


registry.schedule(
    APP,
    ScheduleSpec(
        name="Sync with Dots (every record that may still change)",
        func="reconciliation.tasks.sync_dots",
        minutes=5,
        first_run=_soon,
    ),
)
registry.schedule(
    APP,
    ScheduleSpec(
        name="Full sync with Dots (nightly: every record, not only new ones)",
        func="reconciliation.tasks.sync_dots",
        kwargs="{'full': True}",
        minutes=24 * 60,
        first_run=_tonight,
    ),
)
registry.schedule(
    APP,
    ScheduleSpec(
        name="Reconcile with Dots (report disagreements, settle outcome-unknown records)",
        func="reconciliation.tasks.reconcile",
        minutes=60,
        first_run=_soon,
    ),
)
# Earlier names of the schedules above: removed from databases set up before them.
registry.retire_schedules(
    APP,
    (
        "Sync payout requests, payout links and transfers from Dots",
        "Sync with Dots (payables in flight, payouts, new transfers, payees, vendors, wallet)",
        "Full sync with Dots (every transfer)",
    ),
)
registry.sync_step(APP, SyncStep(name="app wallet", run="reconciliation.sync.app_wallet_step", order=80))
registry.metric(
    APP,
    "ledgerline_disagreements_open",
    "Open disagreements between a local record and Dots.",
    "reconciliation.selectors.open_disagreements_count",
)
