"""The app's wallet settings in Dots: auto-refill, its amount and threshold, payout methods excluded.

Dots has no read of these settings: the app keeps what it last sent (and Dots answered),
and every change is audited with before and after.
"""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db import transaction

from core import audit
from core.dots_gateway import client, dots_call
from core.money import format_cents
from core.permissions import require_perm
from wallet.errors import InvalidSettings
from wallet.models import App

PAYOUT_METHODS = (
    ("ach", "Bank transfer (ACH)"),
    ("airtm", "Airtm"),
    ("cash_app", "Cash App"),
    ("crypto", "Crypto"),
    ("intl_bank", "International bank transfer"),
    ("paypal", "PayPal"),
    ("payoneer", "Payoneer"),
    ("venmo", "Venmo"),
)
MIN_CENTS, MAX_CENTS = 1_000, 1_000_000  # Dots' limits for the refill amount and threshold


def settings_change(
    *,
    actor: User,
    app_id: int,
    auto_refill_active: bool,
    refill_amount_cents: int | None,
    refill_threshold_cents: int | None,
    payout_options_excluded: list[str],
) -> App:
    require_perm(actor, "wallet.change_app", "change the app wallet's settings")
    errors = []
    for label, value in (("refill amount", refill_amount_cents), ("refill threshold", refill_threshold_cents)):
        if value is None:
            if auto_refill_active:
                errors.append(f"Give the {label} to turn auto-refill on.")
        elif not MIN_CENTS <= value <= MAX_CENTS:
            errors.append(f"The {label} must be {format_cents(MIN_CENTS)} to {format_cents(MAX_CENTS)}.")
    unknown = sorted(set(payout_options_excluded) - {code for code, _ in PAYOUT_METHODS})
    if unknown:
        errors.append(f"Unknown payout methods: {', '.join(unknown)}.")
    if errors:
        raise InvalidSettings(" ".join(errors))
    app = App.objects.get(pk=app_id)
    with dots_call("change the app's settings"):
        answer = client().change_app_settings(
            app_id=app.dots_app_id,
            payout_options_exclude_list=sorted(payout_options_excluded),
            auto_refill_active=auto_refill_active,
            refill_amount=refill_amount_cents,
            refill_threshold=refill_threshold_cents,
        )
    fields = ("auto_refill_active", "refill_amount_cents", "refill_threshold_cents", "payout_options_excluded")
    with transaction.atomic():
        app = App.objects.select_for_update().get(pk=app_id)
        before = {f: getattr(app, f) for f in fields}
        app.auto_refill_active = bool(answer.get("auto_refill_active", auto_refill_active))
        app.refill_amount_cents = answer.get("refill_amount", refill_amount_cents)
        app.refill_threshold_cents = answer.get("refill_threshold", refill_threshold_cents)
        app.payout_options_excluded = list(answer.get("payout_options_exclude_list", payout_options_excluded))
        app.save(update_fields=list(fields))
        audit.record(
            actor=actor,
            action="app.settings_changed",
            target=app,
            before=before,
            after={f: getattr(app, f) for f in fields},
        )
    return app
