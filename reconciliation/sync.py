"""One sync with Dots, step by step: what `sync_dots` and the scheduled sync run.

Each step reads one kind of record from Dots and adopts what Dots changed on its own
(every change audited with the actor "system" and the source "sync"); each answers a
`SyncReport` saying what it checked and what changed. A step whose calls fail is
reported and the others go on: one unreachable endpoint does not stop the rest.
"""

import logging
from collections.abc import Callable

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core import audit
from core.dots_gateway import client, dots_call
from core.errors import DomainError, DotsCallError
from core.models import AuditEvent
from core.money import format_cents
from core.sync_report import SyncReport
from reconciliation.models import AppWallet

logger = logging.getLogger(__name__)
SYNC = AuditEvent.Source.SYNC


def sync_all(*, actor=None, full: bool = False, steps: list[str] | None = None) -> list[SyncReport]:
    """Run every step (or the named ones). `full` reads every transfer, not just the new ones."""
    actor = actor or audit.system_user()
    reports = []
    for name, step in _steps(full).items():
        if steps is not None and name not in steps:
            continue
        try:
            report = step(actor)
        except (DotsCallError, DomainError) as exc:
            report = SyncReport(name, errors=[str(exc)])
        reports.append(report)
    return reports


def _steps(full: bool) -> dict[str, Callable[..., SyncReport]]:
    # Imported here: each app's sync module imports its services, which import this app's models.
    from payables.sync import payables_in_flight_sync
    from payouts.reconcile import payees_sync

    return {
        "approvers": approvers_step,
        "vendors": vendors_step,
        "payables in flight": lambda actor: payables_in_flight_sync(actor=actor, source=SYNC),
        "payout requests": payout_requests_step,
        "payout links": payout_links_step,
        "transfers": lambda actor: transfers_step(actor, full=full),
        "payees": lambda actor: payees_sync(actor=actor, source=SYNC),
        "app wallet": app_wallet_step,
    }


def step_names() -> tuple[str, ...]:
    """The steps, in the order they run (what `sync_dots --only` accepts)."""
    return tuple(_steps(full=False))


def approvers_step(actor) -> SyncReport:
    from payables import approvals

    result = approvals.approvers_sync(actor=actor)
    report = SyncReport("approvers", checked=len(result.created) + len(result.updated) + result.unchanged)
    report.changes += [f"approver {name} added" for name in result.created]
    report.changes += [f"approver {name} changed" for name in result.updated]
    report.changes += [f"approver {name} linked to a user" for name in result.linked]
    return report


def vendors_step(actor) -> SyncReport:
    """Vendors whose create in Dots ended without an answer: look in Dots, adopt or send again."""
    from vendors import services as vendor_services
    from vendors.models import Vendor

    report = SyncReport("vendors")
    for vendor in Vendor.objects.filter(dots_id__isnull=True, dots_status=Vendor.DotsStatus.UNKNOWN):
        report.checked += 1
        try:
            vendor = vendor_services.vendor_send_to_dots(actor=actor, vendor_id=vendor.pk)
        except (DotsCallError, DomainError) as exc:
            report.errors.append(f"Vendor {vendor.name}: {exc}")
            continue
        report.changes.append(f"Vendor {vendor.name}: outcome unknown -> {vendor.get_dots_status_display()}")
    return report


def payout_requests_step(actor) -> SyncReport:
    from payouts.models import PayoutRequest
    from payouts.services import payout_requests

    open_requests = PayoutRequest.objects.filter(status=PayoutRequest.Status.CREATED)
    return _refresh_each(
        "payout requests",
        open_requests,
        lambda pk: payout_requests.payout_request_refresh(payout_request_id=pk, actor=actor, source=SYNC),
        label="Payout request",
    )


def payout_links_step(actor) -> SyncReport:
    from payouts.models import PayoutLink
    from payouts.services import payout_links

    S = PayoutLink.Status
    open_links = PayoutLink.objects.filter(status__in=[S.CREATED, S.SENT, S.DELIVERED], dots_id__isnull=False)
    return _refresh_each(
        "payout links",
        open_links,
        lambda pk: payout_links.payout_link_refresh(payout_link_id=pk, actor=actor, source=SYNC),
        label="Payout link",
    )


def _refresh_each(name: str, queryset, refresh: Callable, *, label: str) -> SyncReport:
    report = SyncReport(name)
    for pk, before in list(queryset.order_by("pk").values_list("pk", "status")):
        report.checked += 1
        try:
            after = refresh(pk).status
        except DotsCallError as exc:
            report.errors.append(f"{label} #{pk}: {exc}")
            continue
        if after != before:
            report.changes.append(f"{label} #{pk}: {before} -> {after}")
    return report


def transfers_step(actor, *, full: bool) -> SyncReport:
    from payouts.transfers import transfers_sync

    result = transfers_sync(actor=actor, full=full)
    return SyncReport("transfers", checked=result.seen, changes=list(result.lines), errors=list(result.errors))


def app_wallet_step(actor) -> SyncReport:
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
