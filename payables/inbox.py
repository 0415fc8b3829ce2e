"""What payables wait for a person, for their "My tasks" page (declared in payables/seam.py).

Approvals follow the approve service's own rule (selectors.user_may_approve_current_step). While a
colleague is away and named this person their backup, the colleague's waiting payables are listed too,
"for Avery Approver (out until 12 Dec)": approvable by the backup when Dots lists them in the step,
otherwise shown with what an Administrator can do (payables.covering).
"""

from __future__ import annotations

from django.contrib.auth.models import User
from django.urls import reverse

from core.registry import InboxItem
from notifications import selectors as notification_selectors
from payables import covering, selectors
from payables.models import Payable, PayableApproval
from payables.notify import describe

READY_TO_PAY_LIMIT = 200


def _url(payable: Payable) -> str:
    return reverse("admin:payables_payable_change", args=[payable.pk])


def _step(payable: Payable) -> str:
    index = selectors.current_step_index(payable)
    steps = len(payable.approval_steps or [])
    return f" (step {index + 1} of {steps})" if index is not None and steps > 1 else ""


def waiting_for_my_approval(user: User) -> list[InboxItem]:
    cache = selectors.StepCache()
    mine_ids = list(Payable.objects.filter(selectors.waiting_for(user)).values_list("pk", flat=True))
    absences = notification_selectors.covered_by(user)
    covered: dict[int, str] = {}  # payable id -> "for Avery Approver (out until 12 Dec)"
    for absence in absences:
        for pk in Payable.objects.filter(selectors.waiting_for(absence.user)).values_list("pk", flat=True):
            covered.setdefault(pk, notification_selectors.away_text(absence))
    ids = set(mine_ids) | set(covered)
    if not ids:
        return []
    payables = Payable.objects.filter(pk__in=ids).select_related("vendor").order_by("-submitted_at", "-id")
    items = []
    for payable in payables:
        mine = payable.pk in mine_ids
        note = ""
        if not mine:
            note = covering.not_listed_text(payable, user, cache)
        items.append(
            InboxItem(
                title=f"{describe(payable)} waits for approval{_step(payable)}",
                url=_url(payable),
                for_whom=covered.get(payable.pk, ""),
                note=note,
                since=payable.submitted_at or payable.status_changed_at,
            )
        )
    return items


def ready_for_me_to_pay(user: User) -> list[InboxItem]:
    """Approved payables this person may pay: not theirs, not approved by them, account verified."""
    if not user.has_perm("payables.pay_payable"):
        return []
    approved_by_me = PayableApproval.objects.filter(user=user).values("payable_id")
    payables = (
        Payable.objects.filter(status=Payable.Status.APPROVED, bank_account__verified_at__isnull=False)
        .exclude(created_by=user)
        .exclude(pk__in=approved_by_me)
        .select_related("vendor")
        .order_by("-status_changed_at", "-id")[:READY_TO_PAY_LIMIT]
    )
    return [
        InboxItem(
            title=f"{describe(payable)} is approved and ready to pay",
            url=_url(payable),
            note=f"Due {payable.due_date:%d %b %Y}." if payable.due_date else "",
            since=payable.status_changed_at,
        )
        for payable in payables
    ]
