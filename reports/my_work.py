"""What concerns each person, at the top of their home page: their own work, by role.

- AP clerks: my drafts, and my payables rejected in the last 30 days (with why);
- approvers: what waits for my approval, and since when;
- payers: approved payables ready to pay (bank account verified), and the app wallet's balance;
- payouts operators: payee imports and payout runs under way.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Count, Sum
from django.urls import reverse
from django.utils import timezone

from core.money import format_cents
from payables import next_step
from payables import selectors as payable_selectors
from payables.models import Payable
from payouts.models import PayeeImport, PayoutRun
from reports.figures import wallet_balance

P = Payable.Status
SHOWN = 8
REJECTED_DAYS = 30


def _payable_row(payable: Payable, **extra) -> dict[str, Any]:
    return {
        "number": payable.bill_number,
        "vendor": payable.vendor.name,
        "amount": format_cents(payable.total_cents),
        "due": payable.due_date,
        "url": reverse("admin:payables_payable_change", args=[payable.pk]),
        **extra,
    }


def _list(query: str) -> str:
    return f"{reverse('admin:payables_payable_changelist')}?{query}"


def clerk_panel(request) -> dict[str, Any]:
    mine = Payable.objects.filter(created_by=request.user).select_related("vendor")
    drafts = mine.filter(status=P.CREATED).order_by("-updated_at")
    since = timezone.now() - dt.timedelta(days=REJECTED_DAYS)
    rejected = mine.filter(status=P.REJECTED, closed_at__gte=since).order_by("-closed_at")
    return {
        "drafts": [_payable_row(p) for p in drafts[:SHOWN]],
        "draft_count": drafts.count(),
        "rejected": [
            _payable_row(p, reason=p.closed_reason, when=p.closed_at)
            for p in rejected.select_related("closed_by")[:SHOWN]
        ],
        "rejected_count": rejected.count(),
        "days": REJECTED_DAYS,
        "drafts_url": _list(f"status__exact={P.CREATED}"),
        "rejected_url": _list(f"status__exact={P.REJECTED}"),
    }


def approver_panel(request) -> dict[str, Any]:
    waiting = list(
        Payable.objects.filter(payable_selectors.waiting_for(request.user)).select_related("vendor").order_by("pk")
    )
    approvals = payable_selectors.last_approvals_by_step(waiting)
    rows = []
    for payable in waiting:
        since = payable_selectors.step_waiting_since(payable, approvals.get(payable.pk, {}))
        rows.append(_payable_row(payable, since=since, step=next_step.waiting_step(payable)))
    rows.sort(key=lambda row: row["since"] or timezone.now())
    return {"rows": rows[:SHOWN], "count": len(rows), "url": _list("waiting=me")}


def payer_panel(request) -> dict[str, Any]:
    ready = Payable.objects.filter(
        status__in=(P.APPROVED, P.PAYMENT_FAILED), bank_account__verified_at__isnull=False
    ).select_related("vendor")
    waiting_on_bank = Payable.objects.filter(
        status__in=(P.APPROVED, P.PAYMENT_FAILED), bank_account__verified_at__isnull=True
    ).count()
    found = ready.aggregate(n=Count("id"), cents=Sum("total_cents"))
    totals = {"count": found["n"], "cents": int(found["cents"] or 0)}
    balance, read_at = wallet_balance()
    return {
        "rows": [
            _payable_row(p, failed=p.status == P.PAYMENT_FAILED) for p in ready.order_by("due_date", "pk")[:SHOWN]
        ],
        "count": totals["count"],
        "total": format_cents(totals["cents"]),
        "waiting_on_bank": waiting_on_bank,
        "balance": format_cents(balance) if balance is not None else None,
        "balance_read_at": read_at,
        "short": balance is not None and balance < totals["cents"],
        "url": _list(f"status__exact={P.APPROVED}"),
    }


def operator_panel(request) -> dict[str, Any]:
    imports = PayeeImport.objects.filter(
        status__in=(
            PayeeImport.Status.CHECKING,
            PayeeImport.Status.PREVIEW,
            PayeeImport.Status.QUEUED,
            PayeeImport.Status.RUNNING,
        )
    ).order_by("-created_at")
    runs = PayoutRun.objects.filter(status__in=(PayoutRun.Status.AWAITING_APPROVAL, PayoutRun.Status.SENDING)).order_by(
        "-created_at"
    )
    return {
        "imports": [
            {
                "name": item.file_name,
                "status": item.get_status_display(),
                "rows": item.total_rows,
                "done": item.created_count + item.linked_count + item.failed_count,
                "url": reverse("admin:payouts_payeeimport_change", args=[item.pk]),
            }
            for item in imports[:SHOWN]
        ],
        "runs": [
            {
                "name": str(run),
                "status": run.get_status_display(),
                "count": run.item_count,
                "total": format_cents(run.total_cents),
                "url": reverse("admin:payouts_payoutrun_change", args=[run.pk]),
            }
            for run in runs[:SHOWN]
        ],
        "imports_url": reverse("admin:payouts_payeeimport_changelist"),
        "runs_url": reverse("admin:payouts_payoutrun_changelist"),
    }
