"""Reads shared by the payables admin, services and tasks."""

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from core.errors import DotsUnavailable
from payables.models import Approver, Payable

DUPLICATE_AMOUNT_WINDOW = dt.timedelta(days=7)
_CLOSED = (Payable.Status.CANCELED, Payable.Status.REJECTED)


@dataclass(frozen=True)
class DuplicateMatch:
    other: Payable
    reason: str


def find_duplicates(payable: Payable) -> list[DuplicateMatch]:
    """Other live payables that look like the same bill, each with why."""
    others = Payable.objects.exclude(pk=payable.pk).exclude(status__in=_CLOSED).select_related("vendor")
    matches: dict[int, DuplicateMatch] = {}
    for other in others.filter(vendor_id=payable.vendor_id, bill_number_key=payable.bill_number_key)[:5]:
        matches[other.pk] = DuplicateMatch(other, f"same vendor and bill number ({other.bill_number})")
    created = payable.created_at or timezone.now()
    window = others.filter(
        vendor_id=payable.vendor_id,
        total_cents=payable.total_cents,
        created_at__gte=created - DUPLICATE_AMOUNT_WINDOW,
        created_at__lte=created + DUPLICATE_AMOUNT_WINDOW,
    )
    for other in window[:5]:
        matches.setdefault(
            other.pk, DuplicateMatch(other, f"same vendor and amount within 7 days ({other.bill_number})")
        )
    if payable.file_sha256:
        for other in others.filter(file_sha256=payable.file_sha256)[:5]:
            matches.setdefault(other.pk, DuplicateMatch(other, f"the same PDF file ({other.bill_number})"))
    return list(matches.values())


def acting_dots_user_id(user, *, own_only: bool = False) -> int | None:
    """The Dots dashboard user id that acts for `user`.

    Approvals must be the approver's own id (Dots checks step membership by it).
    Other actions fall back to DOTS_DEFAULT_ACTING_USER_ID when the user has no link.
    """
    approver = Approver.objects.filter(user=user).only("dots_user_id").first()
    if approver is not None:
        return approver.dots_user_id
    if own_only:
        return None
    return settings.DOTS_DEFAULT_ACTING_USER_ID


def app_wallet_balance_cents() -> int | None:
    """The app wallet's balance in Dots, or None when Dots does not say."""
    from core.dots_gateway import client, dots_call

    with dots_call("read the app wallet balance"):
        app_id = settings.DOTS_APP_ID
        if app_id:
            app = client().retrieve_app(app_id=app_id)
        else:
            apps = client().list_apps()
            if not apps:
                raise DotsUnavailable("Dots lists no app for these credentials, so the wallet cannot be read.")
            app = apps[0]
    return app.wallet_balance_cents


# The "waiting for my approval" filter looks at this many newest submitted payables.
WAITING_SCAN_LIMIT = 500


def waiting_for(user) -> Q:
    """Payables whose current approval step `user` may approve and has not decided yet.

    Uses the same rule as the approve service (payables.approvals), over the newest
    submitted payables: those are few, whatever the size of the table.
    """
    from payables import approvals

    if not Approver.objects.filter(user=user).exists():
        return Q(pk__in=[])
    ids = []
    candidates = Payable.objects.filter(status=Payable.Status.SUBMITTED).exclude(created_by=user)
    for payable in candidates.select_related("approval_policy").order_by("-id")[:WAITING_SCAN_LIMIT]:
        # The rule also refuses someone who already approved the current step.
        may, _why = approvals.user_may_approve_current_step(payable, user)
        if may:
            ids.append(payable.pk)
    return Q(pk__in=ids)


def overdue() -> Q:
    open_states = [
        Payable.Status.CREATED,
        Payable.Status.SUBMITTED,
        Payable.Status.APPROVED,
        Payable.Status.PAYMENT_FAILED,
    ]
    return Q(status__in=open_states, due_date__lt=timezone.localdate())
