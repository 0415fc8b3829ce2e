"""What a payable waits for, and why it was rejected or canceled, in words a person reads.

The payable's page, the list's "Next" column and the messages after approving share these,
so they never disagree. Everything here reads; nothing changes a payable.
"""

import datetime as dt
from dataclasses import dataclass

from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.html import format_html
from django.utils.safestring import SafeString

from core.people import full_name
from payables import selectors
from payables.models import Payable

S = Payable.Status

# Which action each status waits for, and whose it is (when nothing more particular applies).
NEXT_STEP = {
    S.CREATED: "Clerk: submit for approval",
    S.SUBMITTED: "Approver: approve or reject",
    S.APPROVED: "Payer: pay",
    S.PAY_REQUESTED: "Dots: answer the payment",
    S.OUTCOME_UNKNOWN: "Ledgerline: checking with Dots",
    S.PAYMENT_INITIATED: "Dots: complete the payment",
    S.PAYMENT_FAILED: "Payer: pay again or cancel",
    S.PAYMENT_COMPLETED: "Nothing: paid",
}
PAYABLE = (S.APPROVED, S.PAYMENT_FAILED)


def join_or(names: list[str]) -> str:
    """["A"] -> "A"; ["A", "B", "C"] -> "A, B or C"."""
    if not names:
        return "an approver"
    if len(names) == 1:
        return names[0]
    return f"{', '.join(names[:-1])} or {names[-1]}"


def when(moment: dt.datetime) -> str:
    """2025-12-06 14:02, in local time (no seconds)."""
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M")


# --- approval -----------------------------------------------------------------------------------------


def _current_step(payable: Payable, cache: selectors.StepCache | None) -> tuple[str, str]:
    """("step 2 of 2", "Avery Approver or Alex Second-Approver"), or ("", "") when no step waits."""
    steps = selectors.step_view(payable, cache)
    current = next((step for step in steps if step.is_current), None)
    if current is None:
        return "", ""
    left = [name for name in current.approvers if name not in current.approved_by]
    needed = current.required - len(current.approved_by)
    who = f"{needed} more approvals, from {join_or(left)}" if needed > 1 else join_or(left)
    return f"step {current.number} of {len(steps)}", who


def waiting_step(payable: Payable, cache: selectors.StepCache | None = None) -> str:
    """ "step 2 of 2 waits for Avery Approver or Alex Second-Approver"; "" when no step waits."""
    where, who = _current_step(payable, cache)
    return f"{where} waits for {who}" if where else ""


def may_approve(payable: Payable, user, cache: selectors.StepCache | None = None) -> bool:
    """Whether `user` can approve (or reject) the payable's current step now: it waits for
    approval, they may approve payables, are on the step's list, have not approved it yet, and
    did not create the payable. Pages offer "Approve…" only then."""
    if payable.status != S.SUBMITTED or payable.created_by_id == user.pk:
        return False
    if not user.has_perm("payables.approve_payable"):
        return False
    return selectors.user_may_approve_current_step(payable, user, cache)[0]


def approved_text(payable: Payable) -> str:
    """What one approval did, after the approve service returned `payable` (without its bill number:
    the message puts it in front). Dots approves the payable only when its last step completes."""
    if payable.status == S.APPROVED:
        return "approved: every approval step is complete, and it can be paid."
    waits = waiting_step(payable)
    return f"your approval is recorded; {waits}." if waits else "your approval is recorded."


# --- bank account ---------------------------------------------------------------------------------------


def waits_for_bank_account(payable: Payable) -> bool:
    """Approved (or failed) and so payable, but its bank account is not verified yet: nobody may pay."""
    return payable.status in PAYABLE and not payable.bank_account.is_verified


def bank_account_link(payable: Payable, user) -> SafeString:
    account = payable.bank_account
    if not user.has_perm("vendors.view_vendorbankaccount"):
        return format_html("{}", account)
    url = reverse("admin:vendors_vendorbankaccount_change", args=[account.pk])
    return format_html('<a href="{}" class="bank-account-link">{}</a>', url, account)


# --- rejected or canceled -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Closing:
    """Who rejected or canceled a payable, when, and why."""

    what: str  # "Rejected", "Canceled"
    by: str
    at: dt.datetime | None
    reason: str

    def text(self) -> str:
        said = self.what
        if self.by:
            said += f" by {self.by}"
        if self.at:
            said += f" on {when(self.at)}"
        return f"{said}: {self.reason}" if self.reason else f"{said} (no reason given)"


def closing(payable: Payable) -> Closing | None:
    """Why a rejected or canceled payable closed: from the payable itself (what the person who did
    it gave here), else from Dots' approval record (a rejection made in Dots' dashboard)."""
    if payable.status not in (S.REJECTED, S.CANCELED):
        return None
    what = payable.get_status_display()
    if payable.closed_by_id:
        return Closing(what, full_name(payable.closed_by), payable.closed_at, payable.closed_reason)
    for step in payable.approval_steps or []:
        for decision in (step.get("user_approvals") or []) if isinstance(step, dict) else []:
            if isinstance(decision, dict) and decision.get("approval_given") is False:
                at = parse_datetime(decision.get("approval_timestamp") or "") or payable.status_changed_at
                by = f"{decision.get('name') or 'an approver'} in Dots"
                return Closing(what, by, at, decision.get("approval_comment") or "")
    return Closing(what, "in Dots" if payable.dots_id else "", payable.status_changed_at, payable.closed_reason)


# --- the list's "Next" column and the page's "Next:" line --------------------------------------------------


def next_step(payable: Payable, user, cache: selectors.StepCache | None = None) -> SafeString | str:
    """What the payable waits for, for this user: their own approval, someone else's (named), the
    bank account's verification (with a link to it), or why it closed."""
    found = closing(payable)
    if found is not None:
        return found.text()
    if payable.status == S.SUBMITTED:
        where, who = _current_step(payable, cache)
        if may_approve(payable, user, cache):
            return f"Waits for your approval ({where})" if where else "Waits for your approval"
        return f"Approval: {where} waits for {who}" if where else NEXT_STEP[S.SUBMITTED]
    if waits_for_bank_account(payable):
        return format_html("Waits for bank account verification: {}", bank_account_link(payable, user))
    if payable.status == S.APPROVED and payable.pay_on and not payable.pay_run_outcome:
        return f"To be paid on {payable.pay_on.day} {payable.pay_on:%b %Y}, as scheduled"
    return NEXT_STEP.get(payable.status, "")
