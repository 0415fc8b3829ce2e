"""One sync with Dots, step by step: what `sync_dots` and the scheduled sync run.

The steps are declared by the apps (`core.registry.sync_step` in each app's seam.py); this
module runs them in order (each under its lease, core.sync_runner) and owns only the app wallet's
step. The scheduled sync runs each step as its own task instead (reconciliation.tasks). Each step reads one kind
of record from Dots and adopts what Dots changed on its own (every change audited with
the actor "system" and the source "sync"); each answers a `SyncReport` saying what it
checked and what changed. A step whose calls fail is reported and the others go on: one
unreachable endpoint does not stop the rest.
"""

import logging

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from core import audit, registry, sync_runner
from core.dots_gateway import client, dots_call
from core.models import AuditEvent
from core.money import format_cents
from core.sync_report import SyncReport
from reconciliation.models import AppWallet

logger = logging.getLogger(__name__)
SYNC = AuditEvent.Source.SYNC


def sync_all(*, actor: User, full: bool = False, steps: list[str] | None = None) -> list[SyncReport]:
    """Run every step every app declares (or the named ones), in order, each to its end: a person
    asked (`sync_dots`), so every followed record is read, with no time budget. `full`: every
    transfer, not only new ones. A step the worker is running right now is left to it (said so)."""
    reports = []
    for step in registry.sync_steps():
        if steps is not None and step.name not in steps:
            continue
        reports.append(sync_runner.run_step(step, actor=actor, full=full, scheduled=False))
    return reports


def step_names(*, scheduled_only: bool = False) -> tuple[str, ...]:
    """The steps, in the order they run (what `sync_dots --only` accepts)."""
    return tuple(step.name for step in registry.sync_steps() if step.scheduled or not scheduled_only)


def app_wallet_step(*, actor: User, full: bool = False) -> SyncReport:
    report = SyncReport("app wallet")
    with dots_call("read the app wallet"):
        apps = [client().retrieve_app(app_id=settings.DOTS_APP_ID)] if settings.DOTS_APP_ID else client().list_apps()
    for app in apps:
        if not app.id:
            continue
        report.checked += 1
        with transaction.atomic():
            wallet = AppWallet.objects.select_for_update().filter(dots_app_id=app.id).first()
            before = wallet.balance_cents if wallet else None
            if wallet is None:
                wallet = AppWallet(dots_app_id=app.id)
            wallet.name = app.name or ""
            wallet.balance_cents = app.wallet_balance_cents
            wallet.synced_at = timezone.now()
            wallet.save()
            if before != wallet.balance_cents:
                audit.record(
                    actor=actor,
                    action="app_wallet.synced",
                    target=wallet,
                    source=SYNC,
                    before={"balance_cents": before},
                    after={"balance_cents": wallet.balance_cents},
                )
                report.changes.append(
                    f"App wallet {wallet}: "
                    f"{format_cents(before) if before is not None else '-'} -> "
                    f"{format_cents(wallet.balance_cents) if wallet.balance_cents is not None else '-'}"
                )
    return report
