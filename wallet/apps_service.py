"""The organisation's apps: read from Dots (list, KYB state), created in Dots, their metrics read live."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from core import audit
from core.dots_gateway import client, dots_call
from core.models import AuditEvent
from core.permissions import require_perm
from core.send_once import create_once, find_in_dots
from core.sync_report import SyncReport
from dots.types import App as DotsApp
from wallet.models import App


def _store(dots_app: DotsApp, *, actor: User, source: str, created_by: User | None = None) -> tuple[App, str]:
    """Create or update the local row from Dots' answer. Answers the row and what changed ("" if nothing)."""
    with transaction.atomic():
        app = App.objects.select_for_update().filter(dots_app_id=dots_app.id).first()
        now = timezone.now()
        if app is None:
            app = App.objects.create(
                dots_app_id=dots_app.id,
                name=(dots_app.name or "")[:60],
                status=dots_app.status or App.Status.CREATED,
                created_by=created_by,
                read_from_dots_at=now,
            )
            return app, f"App {app}: found in Dots ({app.get_status_display()})"
        before = app.status
        app.name = (dots_app.name or app.name)[:60]
        app.status = dots_app.status or app.status
        app.read_from_dots_at = now
        app.save()
        if app.status != before:
            audit.record(
                actor=actor,
                action="app.read_from_dots",
                target=app,
                source=source,
                before={"status": before},
                after={"status": app.status},
            )
            return app, f"App {app}: {before} -> {app.status}"
    return app, ""


def apps_read_from_dots(*, actor: User, source: str = AuditEvent.Source.ADMIN) -> SyncReport:
    """Every app Dots lists for our credentials (only DOTS_APP_ID's when it is set), with its KYB state."""
    report = SyncReport("apps")
    with dots_call("read the apps"):
        apps = [client().retrieve_app(app_id=settings.DOTS_APP_ID)] if settings.DOTS_APP_ID else client().list_apps()
    for dots_app in apps:
        if not dots_app.id:
            continue
        report.checked += 1
        _app, change = _store(dots_app, actor=actor, source=source)
        if change:
            report.changes.append(change)
    return report


def app_create(*, actor: User, name: str) -> App:
    """Create an app in Dots (no idempotency key there: a lost answer is looked for by name first)."""
    require_perm(actor, "wallet.add_app", "create apps")
    name = (name or "").strip()
    taken = set(App.objects.values_list("dots_app_id", flat=True))

    def find() -> DotsApp | None:
        return find_in_dots(lambda: client().list_apps(), matches=lambda a: a.name == name, what="the app", taken=taken)

    dots_app, _found = create_once(
        create=lambda: client().create_app(name=name),
        find=find,
        what="create the app",
        look_first=False,
        look_after_lost_answer=True,
    )
    app, _ = _store(dots_app, actor=actor, source=AuditEvent.Source.ADMIN, created_by=actor)
    audit.record(actor=actor, action="app.created", target=app, after={"name": app.name, "status": app.status})
    return app


@dataclass(frozen=True)
class Metrics:
    balance_cents: int | None
    money_out_cents: int | None
    connected_users: int | None
    error: str = ""


def ach_account_in_dots(app: App) -> str:
    """The bank account Dots holds for the app, as Dots names it (masked), in words."""
    from core.dots_gateway import is_not_found
    from core.errors import DotsCallError, DotsRejected

    try:
        with dots_call("read the app's bank account"):
            answer = client().retrieve_app_ach_account(app_id=app.dots_app_id)
    except DotsRejected as exc:
        return "none" if is_not_found(exc) else f"unknown: {exc}"
    except DotsCallError as exc:
        return f"unknown: {exc}"
    mask = str(answer.get("mask") or "")[-4:]
    return str(answer.get("name") or "") or (f"••••{mask}" if mask else "none")


def app_metrics(app: App) -> Metrics:
    """What Dots says now: the wallet balance, money out and connected users (read as the page opens)."""
    from core.errors import DotsCallError

    try:
        with dots_call("read the app's wallet"):
            dots_app = client().retrieve_app(app_id=app.dots_app_id)
    except DotsCallError as exc:
        return Metrics(None, None, None, error=str(exc))
    return Metrics(dots_app.wallet_balance_cents, dots_app.money_out_cents, dots_app.connected_users)
