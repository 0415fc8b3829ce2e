"""Emergency overrides: one payable let through one control, once, on two Administrators' word.

An Administrator asks, with a reason; a second, different Administrator confirms; the control
(payables.controls) then lets the payable through once and records the use. A hold is never
overridden. Both steps and the use are audited, and the admin home page lists the overrides
of the last 30 days for Managers and Administrators.
"""

import datetime as dt
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from core import audit
from core.people import full_name
from core.permissions import require_perm
from payables.errors import OverrideRefused, ReasonRequired, SegregationOfDutiesViolation
from payables.models import ControlOverride, Payable

PANEL_DAYS = 30
PANEL_SHOWN = 20
# Overridable only while the payable may still be paid.
OPEN = (Payable.Status.APPROVED, Payable.Status.PAYMENT_FAILED, Payable.Status.SUBMITTED)


def override_request(*, payable_id: int, actor: User, control: str, reason: str) -> ControlOverride:
    """Ask to let `payable` through `control` once; it does nothing until a second Administrator confirms."""
    require_perm(actor, "payables.override_control", "ask for emergency overrides")
    reason = (reason or "").strip()
    if not reason:
        raise ReasonRequired("Say why this payable must go through the control.")
    if control not in ControlOverride.Control.values:
        raise OverrideRefused("Choose the control to override (a hold cannot be overridden: release it instead).")
    with transaction.atomic():
        payable = Payable.objects.select_for_update().get(pk=payable_id)
        if payable.status not in OPEN:
            raise OverrideRefused(f"{payable} is {payable.get_status_display().lower()}: there is nothing to override.")
        if ControlOverride.objects.filter(payable=payable, control=control, used_at__isnull=True).exists():
            raise OverrideRefused(f"{payable} already has an unused override of this control.")
        override = ControlOverride.objects.create(payable=payable, control=control, reason=reason, requested_by=actor)
        audit.record(
            actor=actor,
            action="payable.override_requested",
            target=payable,
            after={"override": override.get_control_display(), "confirmed": False},
            reason=reason,
        )
    return override


def override_confirm(*, override_id: int, actor: User) -> ControlOverride:
    """A second Administrator confirms an override asked for by someone else (never their own)."""
    require_perm(actor, "payables.override_control", "confirm emergency overrides")
    with transaction.atomic():
        override = ControlOverride.objects.select_related("payable", "requested_by").get(pk=override_id)
        if override.requested_by_id == actor.pk:
            raise SegregationOfDutiesViolation(
                f"You asked for this override of {override.payable}; a second Administrator must confirm it."
            )
        now = timezone.now()
        confirmed = (
            ControlOverride.objects.filter(pk=override.pk, confirmed_at__isnull=True)
            .exclude(requested_by=actor)
            .update(confirmed_by=actor, confirmed_at=now)
        )
        if not confirmed:
            raise OverrideRefused(f"This override of {override.payable} was confirmed already.")
        override.refresh_from_db()
        audit.record(
            actor=actor,
            action="payable.override_confirmed",
            target=override.payable,
            before={"override": override.get_control_display(), "confirmed": False},
            after={
                "override": override.get_control_display(),
                "confirmed": True,
                "requested_by": override.requested_by.get_username(),
            },
            reason=override.reason,
        )
    return override


def waiting_confirmation(payable: Payable) -> list[ControlOverride]:
    return list(
        ControlOverride.objects.filter(payable=payable, confirmed_at__isnull=True).select_related("requested_by")
    )


def dashboard_panel(request) -> dict[str, Any]:
    """Overrides asked for in the last 30 days, newest first: who asked, who confirmed, whether used."""
    since = timezone.now() - dt.timedelta(days=PANEL_DAYS)
    rows = []
    for override in (
        ControlOverride.objects.filter(requested_at__gte=since)
        .select_related("payable", "requested_by", "confirmed_by")
        .order_by("-requested_at", "-id")[:PANEL_SHOWN]
    ):
        if override.used_at:
            state = "used"
        elif override.confirmed_at:
            state = "confirmed, not used yet"
        else:
            state = "waiting for a second Administrator"
        rows.append(
            {
                "when": override.requested_at,
                "payable": override.payable.bill_number,
                "url": reverse("admin:payables_payable_change", args=[override.payable_id]),
                "control": override.get_control_display(),
                "reason": override.reason,
                "requested_by": full_name(override.requested_by, nobody=""),
                "confirmed_by": full_name(override.confirmed_by, nobody=""),
                "state": state,
            }
        )
    return {"rows": rows, "days": PANEL_DAYS}
