"""Who payables tell, and in which words (notifications.services.notify does the telling).

Called by the services inside the transaction that records the change: the inbox rows are written
with it, the emails leave after it commits. Each call is keyed (dedupe_key), so a change recorded
twice (a retried task, the sync after a person's own request) tells each person once.
"""

from __future__ import annotations

from django.contrib.auth.models import User

from core.money import format_cents
from core.people import full_name
from notifications import selectors as notification_selectors
from notifications.services import notify
from payables import seam, selectors
from payables.models import Payable, PayableApproval


def describe(payable: Payable) -> str:
    """ "INV-104 from Acme Supplies ($250.00)" """
    return f"{payable.bill_number} from {payable.vendor.name} ({format_cents(payable.total_cents)})"


def _facts(payable: Payable) -> list[str]:
    lines = [f"Vendor: {payable.vendor.name}", f"Amount: {format_cents(payable.total_cents)}"]
    if payable.due_date:
        lines.append(f"Due: {payable.due_date:%d %b %Y}")
    if payable.description:
        lines.append(f"For: {payable.description[:200]}")
    return lines


def _step_text(payable: Payable) -> str:
    index = selectors.current_step_index(payable)
    steps = len(payable.approval_steps or [])
    return f"step {index + 1} of {steps}" if index is not None and steps > 1 else ""


def waiting_for_approval(payable: Payable) -> None:
    """The approvers of the step the payable now waits for (their backups while they are away)."""
    index = selectors.current_step_index(payable)
    if index is None:
        return
    users = [approver.user for approver in selectors.approvers_waiting(payable)]
    step = _step_text(payable)
    notify(
        event=seam.WAITING_FOR_APPROVAL,
        recipients=users,
        target=payable,
        title=f"{describe(payable)} waits for your approval" + (f" ({step})" if step else ""),
        body="\n".join(
            [*_facts(payable), f"Submitted by: {full_name(payable.submitted_by or payable.created_by)}"]
            + ["", "Open it to approve or reject it."]
        ),
        dedupe_key=f"payable:{payable.pk}:waiting:{payable.dots_id}:step{index}",
    )


def payers_for(payable: Payable) -> list[User]:
    """People who may pay it: Payers, but not its creator nor anyone who approved a step of it."""
    approvers = set(PayableApproval.objects.filter(payable=payable).values_list("user_id", flat=True))
    excluded = approvers | {payable.created_by_id}
    return [user for user in notification_selectors.users_with_perm("payables.pay_payable") if user.pk not in excluded]


def approved(payable: Payable) -> None:
    """Its creator is told; so are the people who may pay it."""
    notify(
        event=seam.APPROVED,
        recipients=[payable.created_by],
        target=payable,
        title=f"{describe(payable)} was approved",
        body="\n".join([*_facts(payable), "", "Every approval step is complete; a Payer can pay it now."]),
        dedupe_key=f"payable:{payable.pk}:approved",
    )
    unverified = not payable.bank_account.is_verified
    notify(
        event=seam.READY_TO_PAY,
        recipients=payers_for(payable),
        target=payable,
        title=f"{describe(payable)} is approved and ready to pay",
        body="\n".join(
            [*_facts(payable), ""]
            + (
                [f"Its bank account {payable.bank_account} still waits for a second person's verification."]
                if unverified
                else ["Open it to pay it."]
            )
        ),
        dedupe_key=f"payable:{payable.pk}:ready_to_pay",
    )


def rejected(payable: Payable, *, by: User, reason: str) -> None:
    notify(
        event=seam.REJECTED,
        recipients=[payable.created_by],
        target=payable,
        title=f"{describe(payable)} was rejected by {full_name(by)}",
        body="\n".join([*_facts(payable), "", f"Reason: {reason or 'none given'}"]),
        dedupe_key=f"payable:{payable.pk}:rejected",
    )


def sent_back(original: Payable, draft: Payable, *, by: User, reason: str) -> None:
    """The clerk (the original's creator, who owns the new draft) is told what to change."""
    notify(
        event=seam.SENT_BACK,
        recipients=[original.created_by],
        target=draft,
        title=f"{describe(original)} was sent back for changes by {full_name(by)}",
        body="\n".join(
            [*_facts(original), "", f"What to change: {reason}", ""]
            + ["A new draft with the same vendor, items and file waits for you; correct it and submit it again."]
        ),
        dedupe_key=f"payable:{original.pk}:sent_back",
    )


def decided(payable: Payable, *, actor: User, comment: str) -> None:
    """After one approver's decision was recorded: tell whoever is concerned by where it now stands."""
    if payable.status == Payable.Status.REJECTED:
        rejected(payable, by=actor, reason=comment)
    elif payable.status == Payable.Status.APPROVED:
        approved(payable)
    elif payable.status == Payable.Status.SUBMITTED:
        waiting_for_approval(payable)  # the next step's approvers (or the same step's, still short)


def submitted(payable: Payable) -> None:
    if payable.status == Payable.Status.APPROVED:  # Dots approved it at once (nothing to wait for)
        approved(payable)
    else:
        waiting_for_approval(payable)


def payment_failed(payable: Payable) -> None:
    """The payer who asked and the payable's creator."""
    notify(
        event=seam.PAYMENT_FAILED,
        recipients=[user for user in (payable.pay_requested_by, payable.created_by) if user is not None],
        target=payable,
        title=f"The payment of {describe(payable)} failed",
        body="\n".join(
            [*_facts(payable), "", payable.failure_reason or "Dots reports the payment failed.", ""]
            + ["A Payer can pay it again or a clerk can cancel it."]
        ),
        dedupe_key=f"payable:{payable.pk}:payment_failed:{payable.pay_attempts}",
    )


# --- on behalf of an absent approver ----------------------------------------------------------------------


def covering_text(payable: Payable, actor: User, *, approving: bool) -> str:
    """ "approved for Avery Approver, away" when `actor` decides on a step that waits for a colleague who
    is away today and named them backup (the actor is listed in the step and decides as themselves)."""
    waiting = {approver.user_id for approver in selectors.approvers_waiting(payable) if approver.user_id}
    if not waiting:
        return ""
    covered = [a.user for a in notification_selectors.covered_by(actor) if a.user_id in waiting]
    if not covered:
        return ""
    names = ", ".join(full_name(user) for user in covered)
    return f"{'approved' if approving else 'rejected'} for {names}, away"
