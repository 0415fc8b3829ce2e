"""Every state change of a payable, here and in Dots.

Order of work in each action: check the person and the state, commit our intent,
call Dots outside any transaction, then record Dots' answer in a second
transaction (with its audit event). A payable is created in Dots when it is first
submitted; until then it is a local draft that only its clerks see change.

Paying is the one call Dots takes no idempotency key for. `payable_pay` therefore
moves the payable to `pay_requested` with a compare-and-set (so two tabs, a double
click or two workers send one `pay` at most), and when Dots' answer is lost it
moves to `payment_outcome_unknown` and reads the payable back before anyone may
pay again (`payable_reconcile_payment`).
"""

import hashlib
import logging
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone
from django_q.tasks import async_task

from core import action_queue, audit
from core.dots_gateway import client, describe, dots_call
from core.errors import DotsCallError, DotsOutcomeUnknownError, DotsRejected, DotsUnavailable
from core.models import AuditEvent
from payables import seam as payables_seam
from payables import selectors
from payables.errors import (
    BankAccountNotVerified,
    InsufficientFunds,
    InvalidTransition,
    NotReadyForDots,
    PermissionRefused,
    PossibleDuplicate,
    ReasonRequired,
    SegregationOfDutiesViolation,
)
from payables.models import Payable, PayableApproval

logger = logging.getLogger(__name__)
S = Payable.Status

# Dots statuses we adopt as they are.
_DOTS_STATUSES = {
    s.value
    for s in (
        S.CREATED,
        S.SUBMITTED,
        S.APPROVED,
        S.REJECTED,
        S.CANCELED,
        S.PAYMENT_INITIATED,
        S.PAYMENT_COMPLETED,
        S.PAYMENT_FAILED,
    )
}
_PAYMENT_ACTIONS = {
    S.PAYMENT_INITIATED: "payable.payment_initiated",
    S.PAYMENT_COMPLETED: "payable.payment_completed",
    S.PAYMENT_FAILED: "payable.payment_failed",
}


def ensure_transition(payable: Payable, new_status: str) -> None:
    allowed = Payable.TRANSITIONS.get(payable.status, set())
    if new_status not in allowed:
        current = Payable.Status(payable.status).label.lower()
        raise InvalidTransition(f"{payable} is {current}: it cannot become {Payable.Status(new_status).label.lower()}.")


def _require_perm(actor, perm: str, doing: str) -> None:
    if not actor.has_perm(perm):
        raise PermissionRefused(f"Your role does not allow you to {doing}.")


def _not_creator(payable: Payable, actor, doing: str) -> None:
    # Holds for superusers too: segregation of duties is not a permission.
    if payable.created_by_id == actor.pk:
        raise SegregationOfDutiesViolation(f"{payable}: you created it, so someone else must {doing} it.")


def _acting_user_id(actor) -> int:
    """The Dots dashboard user acting for `actor` in create, submit, cancel and pay, or a clear refusal."""
    acting_user_id = selectors.acting_dots_user_id(actor)
    if acting_user_id is None:
        raise NotReadyForDots(
            "Your account is not linked to a Dots dashboard user and no default acting user "
            "is configured (DOTS_DEFAULT_ACTING_USER_ID)."
        )
    return acting_user_id


def _snapshot(payable: Payable) -> dict:
    return {
        "status": payable.status,
        "dots_status": payable.dots_status,
        "total": payable.total_cents,
        "last_dots_error": payable.last_dots_error,
    }


def _move(payable_id: int, *, from_statuses, to_status: str, **fields) -> bool:
    """Compare-and-set: move only if the payable is still in one of `from_statuses`."""
    now = timezone.now()
    updated = Payable.objects.filter(pk=payable_id, status__in=list(from_statuses)).update(
        status=to_status, status_changed_at=now, updated_at=now, **fields
    )
    return updated == 1


def _record_dots_failure(payable_id: int, exc: DotsCallError, *, actor, doing: str) -> None:
    with transaction.atomic():
        payable = Payable.objects.select_for_update().get(pk=payable_id)
        before = _snapshot(payable)
        payable.last_dots_error = str(exc)
        payable.last_dots_attempt_at = timezone.now()
        payable.save(update_fields=["last_dots_error", "last_dots_attempt_at", "updated_at"])
        audit.record(
            actor=actor,
            action="payable.dots_error",
            target=payable,
            before=before,
            after=_snapshot(payable),
            reason=doing,
        )


def _adopt_dots_answer(payable: Payable, answer) -> None:
    """Copy what Dots said onto the row (the caller saves and audits)."""
    payable.dots_status = answer.status or ""
    payable.approval_steps = answer.approval_steps or []
    if answer.transfer_id:
        payable.dots_transfer_id = answer.transfer_id
    payable.last_dots_error = ""
    payable.last_dots_attempt_at = timezone.now()


# --- editing a draft ---------------------------------------------------------------------------


def payable_recalculate(*, payable: Payable) -> None:
    """Total = sum of line items, or the amount entered when there are none; PDF checksum."""
    items_total = sum(item.amount_cents for item in payable.items.all())
    payable.total_cents = items_total if payable.items.exists() else (payable.amount_cents or 0)
    if payable.file:
        payable.file.open("rb")
        try:
            digest = hashlib.sha256()
            for chunk in payable.file.chunks():
                digest.update(chunk)
        finally:
            payable.file.close()
        payable.file_sha256 = digest.hexdigest()
    else:
        payable.file_sha256 = ""
    payable.save(update_fields=["total_cents", "file_sha256", "updated_at"])


@transaction.atomic
def payable_record_edit(*, payable_id: int, actor, before: dict, created: bool) -> Payable:
    """After the admin saved a draft and its items: recompute the total and audit what changed."""
    payable = Payable.objects.select_for_update().get(pk=payable_id)
    if not created and before.get("status") not in {s.value for s in Payable.EDITABLE}:
        raise InvalidTransition(f"{payable} was submitted: it can no longer be edited.")
    payable_recalculate(payable=payable)
    after = payable_edit_snapshot(payable)
    if created:
        audit.record(actor=actor, action="payable.created", target=payable, before={}, after=after)
    else:
        changes = audit.diff(before, after)
        changes.pop("status", None)
        if changes:
            audit.record(actor=actor, action="payable.updated", target=payable, changes=changes)
    return payable


def payable_edit_snapshot(payable: Payable) -> dict:
    return {
        "status": payable.status,
        "bill_number": payable.bill_number,
        "vendor": str(payable.vendor) if payable.vendor_id else None,
        "bank_account": str(payable.bank_account) if payable.bank_account_id else None,
        "description": payable.description,
        "external_id": payable.external_id,
        "due_date": payable.due_date,
        "funding_source": payable.funding_source,
        "amount_cents": payable.amount_cents,
        "total_cents": payable.total_cents,
        "file": payable.file.name if payable.file else "",
        "items": [f"{i.name} {i.quantity} × {i.unit_price_cents}" for i in payable.items.all()],
    }


# --- submit ------------------------------------------------------------------------------------------


def _dots_items(payable: Payable) -> list[dict]:
    return [
        {
            "name": item.name,
            "description": item.description or None,
            "unit_price": item.unit_price_cents,
            "quantity": item.quantity,
            "amount": item.amount_cents,
        }
        for item in payable.items.all()
    ]


def _dots_payable_fields(payable: Payable) -> dict:
    items = _dots_items(payable)
    fields = {
        "number": payable.bill_number,
        "description": payable.description or None,
        "ap_vendor_id": payable.vendor.dots_id,
        "ap_payment_method_id": payable.bank_account.dots_id,
    }
    if items:
        fields["items"] = [{k: v for k, v in item.items() if v is not None} for item in items]
    else:
        fields["amount"] = payable.total_cents
    return fields


def _external_id(payable: Payable) -> str:
    # Lets us find the payable in Dots after a create whose answer was lost.
    return f"ledgerline-payable-{payable.pk}"


def _find_in_dots(payable: Payable):
    for candidate in client().iter_payables():
        if candidate.external_id == _external_id(payable):
            return candidate
    return None


def _ensure_in_dots(payable: Payable, *, acting_user_id: int, actor) -> None:
    """Create (or bring up to date) the payable in Dots, and its PDF. Never creates two."""
    if payable.dots_id:
        with dots_call(f"update {payable} in Dots"):
            client().update_payable(payable_id=payable.dots_id, **_dots_payable_fields(payable))
    else:
        # Only one submit may create: claim the create with a compare-and-set on dots_status.
        # The claim's time lets reconciliation tell a create still under way from one a dead process left.
        claimed = Payable.objects.filter(pk=payable.pk, dots_id__isnull=True, dots_status="").update(
            dots_status="creating", last_dots_attempt_at=timezone.now()
        )
        if not claimed:
            raise InvalidTransition(f"{payable} is already being sent to Dots; try again in a moment.")
        try:
            with dots_call(f"create {payable} in Dots"):
                created = client().create_payable(
                    acting_user_id=acting_user_id,
                    external_id=_external_id(payable),
                    funding_source=payable.funding_source,
                    **_dots_payable_fields(payable),
                )
        except DotsOutcomeUnknownError:
            with dots_call(f"look for {payable} in Dots"):
                created = _find_in_dots(payable)
            if created is None:
                # The create takes no idempotency key and may still land (a timed-out call goes on in
                # Dots): the claim stays, so a retry cannot create a second one. Reconciliation looks
                # for it again once the claim is stale, and releases it only if Dots still lacks it.
                raise DotsUnavailable(
                    f"Dots did not confirm creating {payable} and does not show it yet; it "
                    "may still arrive. The sync checks Dots again within a few minutes; "
                    "submit it again after that."
                ) from None
        except DotsCallError:
            Payable.objects.filter(pk=payable.pk, dots_status="creating").update(dots_status="")
            raise
        Payable.objects.filter(pk=payable.pk).update(dots_id=created.id, dots_status=created.status or "created")
        payable.dots_id = created.id
    if payable.file and not payable.dots_file_uploaded:
        payable.file.open("rb")
        try:
            content = payable.file.read()
        finally:
            payable.file.close()
        with dots_call(f"upload the PDF of {payable} to Dots"):
            client().upload_payable_file(payable_id=payable.dots_id, file=content)
        Payable.objects.filter(pk=payable.pk).update(dots_file_uploaded=True)


def payable_submit(*, payable_id: int, actor, duplicate_reason: str = "", from_queue: bool = False) -> Payable:
    """Submit a draft for approval in Dots. Refuses a possible duplicate unless given a reason.

    While Dots is unreachable it is queued instead (ActionQueued); the queue runs it with `from_queue`.
    """
    payable = Payable.objects.select_related("vendor", "bank_account").get(pk=payable_id)
    _require_perm(actor, "payables.submit_payable", "submit payables")
    ensure_transition(payable, S.SUBMITTED)
    if payable.total_cents <= 0:
        raise InvalidTransition(f"{payable} has no amount: add line items or an amount first.")
    if payable.bank_account.vendor_id != payable.vendor_id:
        raise InvalidTransition(f"{payable}: the bank account belongs to another vendor.")
    if not payable.vendor.dots_id or not payable.bank_account.dots_id:
        raise NotReadyForDots(f"{payable}: its vendor or bank account is not in Dots yet (send it to Dots first).")
    matches = selectors.find_duplicates(payable)
    duplicate_reason = (duplicate_reason or "").strip()
    if matches and not duplicate_reason:
        listed = "; ".join(m.reason for m in matches)
        raise PossibleDuplicate(
            f"{payable} may be a duplicate: {listed}. Give a reason to submit it anyway.", matches=matches
        )
    acting_user_id = _acting_user_id(actor)
    action_queue.queue_if_unreachable(
        kind=payables_seam.PAYABLE_SUBMIT,
        target=payable,
        actor=actor,
        arguments={"duplicate_reason": duplicate_reason} if matches else {},
        from_queue=from_queue,
    )
    try:
        _ensure_in_dots(payable, acting_user_id=acting_user_id, actor=actor)
        with dots_call(f"submit {payable} for approval"):
            answer = client().submit_payable_for_approval(payable_id=payable.dots_id, acting_user_id=acting_user_id)
    except DotsCallError as exc:
        _record_dots_failure(payable.pk, exc, actor=actor, doing="submit for approval")
        raise
    from payables import approvals  # the policies module: which policy matched and why

    policy, why = approvals.match_policy(payable)
    with transaction.atomic():
        payable = Payable.objects.select_for_update().get(pk=payable.pk)
        before = _snapshot(payable)
        if payable.status != S.CREATED:
            return payable  # someone else recorded this submit already
        new_status = answer.status if answer.status in (S.SUBMITTED, S.APPROVED) else S.SUBMITTED
        _adopt_dots_answer(payable, answer)
        payable.status = new_status
        payable.status_changed_at = timezone.now()
        payable.submitted_by = actor
        payable.submitted_at = timezone.now()
        payable.approval_policy = policy
        payable.approval_policy_reason = why
        if matches:
            payable.duplicate_override_reason = duplicate_reason
        payable.save()
        if matches:
            audit.record(
                actor=actor,
                action="payable.duplicate_overridden",
                target=payable,
                changes={"possible_duplicates": {"before": None, "after": [m.reason for m in matches]}},
                reason=duplicate_reason,
            )
        audit.record(
            actor=actor,
            action="payable.submitted",
            target=payable,
            before=before,
            after={**_snapshot(payable), "approval_policy": str(policy) if policy else why},
        )
    return payable


# --- approve, reject, cancel ---------------------------------------------------------------------------


def _check_approver(payable: Payable, actor, doing: str) -> int:
    from payables import approvals

    _require_perm(actor, "payables.approve_payable", f"{doing} payables")
    _not_creator(payable, actor, doing)
    if payable.status != S.SUBMITTED:
        raise InvalidTransition(
            f"{payable} is {Payable.Status(payable.status).label.lower()}: there is nothing to {doing}."
        )
    may, why = approvals.user_may_approve_current_step(payable, actor)
    if not may:
        raise PermissionRefused(f"{payable}: {why}")
    step = approvals.current_step_index(payable) or 0
    if PayableApproval.objects.filter(payable=payable, step=step, user=actor).exists():
        raise InvalidTransition(f"{payable}: you already decided on this approval step.")
    dots_user_id = selectors.acting_dots_user_id(actor, own_only=True)
    if dots_user_id is None:
        raise NotReadyForDots("Your account is not linked to a Dots approver.")
    return dots_user_id


def payable_approve(*, payable_id: int, actor, comment: str = "", from_queue: bool = False) -> Payable:
    return _decide(
        payable_id=payable_id,
        actor=actor,
        decision=PayableApproval.Decision.APPROVED,
        comment=comment,
        from_queue=from_queue,
    )


def payable_reject(*, payable_id: int, actor, reason: str, from_queue: bool = False) -> Payable:
    reason = (reason or "").strip()
    if not reason:
        raise ReasonRequired("Say why the payable is rejected.")
    return _decide(
        payable_id=payable_id,
        actor=actor,
        decision=PayableApproval.Decision.REJECTED,
        comment=reason,
        from_queue=from_queue,
    )


def _decide(*, payable_id: int, actor, decision: str, comment: str, from_queue: bool) -> Payable:
    """One approver's decision on the current step, in Dots first, then here."""
    from payables import approvals

    approving = decision == PayableApproval.Decision.APPROVED
    verb = "approve" if approving else "reject"
    payable = Payable.objects.get(pk=payable_id)
    dots_user_id = _check_approver(payable, actor, verb)
    if approving:
        action_queue.queue_if_unreachable(
            kind=payables_seam.PAYABLE_APPROVE,
            target=payable,
            actor=actor,
            arguments={"comment": comment},
            from_queue=from_queue,
        )
    else:
        action_queue.queue_if_unreachable(
            kind=payables_seam.PAYABLE_REJECT,
            target=payable,
            actor=actor,
            arguments={"reason": comment},
            from_queue=from_queue,
        )
    step = approvals.current_step_index(payable) or 0
    send = client().approve_payable if approving else client().reject_payable
    try:
        with dots_call(f"{verb} {payable}"):
            answer = send(payable_id=payable.dots_id, acting_user_id=dots_user_id, comment=comment or None)
    except DotsCallError as exc:
        _record_dots_failure(payable.pk, exc, actor=actor, doing=verb)
        raise
    with transaction.atomic():
        payable = Payable.objects.select_for_update().get(pk=payable.pk)
        before = _snapshot(payable)
        _adopt_dots_answer(payable, answer)
        PayableApproval.objects.get_or_create(
            payable=payable, step=step, user=actor, defaults={"decision": decision, "comment": comment}
        )
        if approving:
            # One approval may only complete a step; the payable is approved when Dots says so.
            new_status = S.APPROVED if answer.status == S.APPROVED else None
            action = "payable.approved" if new_status else "payable.step_approved"
        else:
            new_status, action = S.REJECTED, "payable.rejected"  # one rejection rejects
        if new_status and payable.status == S.SUBMITTED:
            payable.status = new_status
            payable.status_changed_at = timezone.now()
        payable.save()
        audit.record(
            actor=actor,
            action=action,
            target=payable,
            before=before,
            after={**_snapshot(payable), "step": step + 1},
            reason=comment,
        )
    return payable


def payable_cancel(*, payable_id: int, actor, reason: str, from_queue: bool = False) -> Payable:
    reason = (reason or "").strip()
    if not reason:
        raise ReasonRequired("Say why the payable is canceled.")
    payable = Payable.objects.get(pk=payable_id)
    _require_perm(actor, "payables.submit_payable", "cancel payables")
    ensure_transition(payable, S.CANCELED)
    if payable.dots_id:
        acting_user_id = _acting_user_id(actor)  # refuses clearly when nobody acts for this user in Dots
        action_queue.queue_if_unreachable(
            kind=payables_seam.PAYABLE_CANCEL,
            target=payable,
            actor=actor,
            arguments={"reason": reason},
            from_queue=from_queue,
        )
        try:
            with dots_call(f"cancel {payable} in Dots"):
                client().cancel_payable(payable_id=payable.dots_id, acting_user_id=acting_user_id, comment=reason)
        except DotsCallError as exc:
            _record_dots_failure(payable.pk, exc, actor=actor, doing="cancel")
            raise
    with transaction.atomic():
        payable = Payable.objects.select_for_update().get(pk=payable.pk)
        before = _snapshot(payable)
        ensure_transition(payable, S.CANCELED)
        payable.status = S.CANCELED
        payable.status_changed_at = timezone.now()
        fields = ["status", "status_changed_at", "updated_at"]
        if payable.dots_id:  # Dots took the cancel: an earlier error no longer stands
            payable.last_dots_error, payable.last_dots_attempt_at = "", timezone.now()
            fields += ["last_dots_error", "last_dots_attempt_at"]
        payable.save(update_fields=fields)
        audit.record(
            actor=actor,
            action="payable.canceled",
            target=payable,
            before=before,
            after=_snapshot(payable),
            reason=reason,
        )
    return payable


# --- pay -----------------------------------------------------------------------------------------------


def payable_pay(*, payable_id: int, actor, from_queue: bool = False) -> Payable:
    """Pay an approved (or failed, for a retry) payable in Dots. Sends `pay` at most once per request.

    While Dots is unreachable the payment is queued (ActionQueued) and the payable stays
    approved: a queued pay is not `pay_requested`, which reconciliation would read as an
    interrupted call. A second pay while one is queued is refused.
    """
    payable = Payable.objects.select_related("bank_account").get(pk=payable_id)
    _require_perm(actor, "payables.pay_payable", "pay payables")
    _not_creator(payable, actor, "pay")
    if payable.status in Payable.PAYMENT_IN_FLIGHT:
        raise InvalidTransition(
            f"{payable}: a payment is already under way ({Payable.Status(payable.status).label.lower()})."
        )
    if payable.status not in (S.APPROVED, S.PAYMENT_FAILED):
        raise InvalidTransition(
            f"{payable} is {Payable.Status(payable.status).label.lower()}: only approved payables can be paid."
        )
    if not payable.bank_account.is_verified:
        raise BankAccountNotVerified(
            f"{payable}: the bank account {payable.bank_account} waits for verification by a second person."
        )
    acting_user_id = _acting_user_id(actor)
    # Before the balance check, which asks Dots: during an outage the payment queues (and the
    # balance is checked when the queue runs it).
    action_queue.queue_if_unreachable(
        kind=payables_seam.PAYABLE_PAY, target=payable, actor=actor, from_queue=from_queue
    )
    if payable.funding_source == Payable.FundingSource.DOTS_BALANCE:
        balance = selectors.app_wallet_balance_cents()
        if balance is not None and balance < payable.total_cents:
            from core.money import format_cents

            raise InsufficientFunds(
                f"{payable}: the app wallet holds {format_cents(balance)}, "
                f"less than {format_cents(payable.total_cents)}. Deposit funds first."
            )
    previous = payable.status
    # The gate: exactly one caller moves the payable to pay_requested.
    with transaction.atomic():
        if not _move(
            payable.pk,
            from_statuses=[previous],
            to_status=S.PAY_REQUESTED,
            pay_requested_by=actor,
            pay_requested_at=timezone.now(),
            last_dots_error="",
        ):
            raise InvalidTransition(f"{payable}: someone else is paying it right now.")
        Payable.objects.filter(pk=payable.pk).update(pay_attempts=payable.pay_attempts + 1)
        audit.record(
            actor=actor,
            action="payable.pay_requested",
            target=payable,
            before={"status": previous},
            after={"status": S.PAY_REQUESTED},
        )
    try:
        with dots_call(f"pay {payable}"):
            answer = client().pay_payable(payable_id=payable.dots_id, acting_user_id=acting_user_id)
    except DotsRejected as exc:
        # Dots answered no: nothing was paid. Back to where it was, with Dots' reason.
        with transaction.atomic():
            _move(
                payable.pk,
                from_statuses=[S.PAY_REQUESTED],
                to_status=previous,
                last_dots_error=str(exc),
                last_dots_attempt_at=timezone.now(),
            )
            audit.record(
                actor=actor,
                action="payable.pay_refused",
                target=payable,
                before={"status": S.PAY_REQUESTED},
                after={"status": previous},
                reason=str(exc),
            )
        raise
    except (DotsOutcomeUnknownError, DotsUnavailable) as exc:
        never_sent = (
            isinstance(exc, DotsUnavailable) and exc.dots_error is not None and not exc.dots_error.may_have_reached_dots
        )
        with transaction.atomic():
            if never_sent:
                _move(
                    payable.pk,
                    from_statuses=[S.PAY_REQUESTED],
                    to_status=previous,
                    last_dots_error=str(exc),
                    last_dots_attempt_at=timezone.now(),
                )
                audit.record(
                    actor=actor,
                    action="payable.dots_error",
                    target=payable,
                    before={"status": S.PAY_REQUESTED},
                    after={"status": previous},
                    reason=str(exc),
                )
            else:
                _move(
                    payable.pk,
                    from_statuses=[S.PAY_REQUESTED],
                    to_status=S.OUTCOME_UNKNOWN,
                    last_dots_error=str(exc),
                    last_dots_attempt_at=timezone.now(),
                )
                audit.record(
                    actor=actor,
                    action="payable.payment_outcome_unknown",
                    target=payable,
                    before={"status": S.PAY_REQUESTED},
                    after={"status": S.OUTCOME_UNKNOWN},
                    reason=str(exc),
                )
        if never_sent:
            raise
        # Read it back now: often Dots answers the second time and the question is settled.
        try:
            payable = payable_reconcile_payment(payable_id=payable.pk, actor=actor)
        except DotsCallError:
            _schedule_follow(payable.pk)
            raise exc from None
        if payable.status == S.OUTCOME_UNKNOWN:
            _schedule_follow(payable.pk)
            raise exc
        if payable.status in (S.APPROVED, S.PAYMENT_FAILED):
            raise DotsUnavailable(
                f"Dots did not take the payment of {payable} ({exc}); it shows no payment "
                "under way, so it can be paid again.",
                dots_error=exc.dots_error,
            ) from exc
        if payable.status in Payable.PAYMENT_IN_FLIGHT:
            _schedule_follow(payable.pk)
        return payable
    payable = _record_payment_answer(payable.pk, answer, actor=actor, expected=[S.PAY_REQUESTED])
    if payable.status in Payable.PAYMENT_IN_FLIGHT:
        _schedule_follow(payable.pk)
    return payable


def _record_payment_answer(
    payable_id: int, answer, *, actor, expected, source: str = AuditEvent.Source.ADMIN
) -> Payable:
    """Adopt Dots' payment state for a payable we believe is in flight."""
    dots_status = answer.status or ""
    reason = ""
    if dots_status == S.PAYMENT_FAILED:
        reason = payment_failure_reason(answer)
    with transaction.atomic():
        payable = Payable.objects.select_for_update().get(pk=payable_id)
        before = _snapshot(payable)
        _adopt_dots_answer(payable, answer)
        if payable.status in expected:
            if dots_status in _PAYMENT_ACTIONS:
                payable.status = dots_status
                payable.status_changed_at = timezone.now()
            elif dots_status == S.APPROVED and _settled_since_attempt(payable):
                # Dots shows no payment under way, long enough after our call: safe to pay again.
                payable.status = S.APPROVED
                payable.status_changed_at = timezone.now()
        if payable.status == S.PAYMENT_FAILED:
            payable.failure_reason = reason
        payable.save()
        if payable.status != before["status"]:
            action = _PAYMENT_ACTIONS.get(payable.status, "payable.reconciled")
            audit.record(
                actor=actor,
                action=action,
                target=payable,
                before=before,
                after=_snapshot(payable),
                reason=reason,
                source=source,
            )
    return payable


def _settled_since_attempt(payable: Payable) -> bool:
    from django.conf import settings

    attempted = payable.pay_requested_at or payable.status_changed_at
    if attempted is None:
        return True
    return (timezone.now() - attempted).total_seconds() >= settings.PAY_OUTCOME_SETTLE_SECONDS


def payment_failure_reason(answer) -> str:
    """Dots' reason for a failed payment, read from its transfer (a call to Dots: never inside a transaction)."""
    if not answer.transfer_id:
        return "Dots reports the payment failed (no reason given)."
    try:
        with dots_call("read the failed payment's transfer"):
            transfer = client().retrieve_transfer(transfer_id=answer.transfer_id)
    except DotsCallError as exc:
        detail = describe(exc.dots_error) if exc.dots_error else exc
        return f"Dots reports the payment failed; its reason could not be read ({detail})."
    reason = transfer.raw.get("failure_reason") or transfer.raw.get("reason")
    return f"Dots reports the payment failed: {reason}" if reason else "Dots reports the payment failed."


def payable_reconcile_payment(*, payable_id: int, actor, source: str = AuditEvent.Source.ADMIN) -> Payable:
    """Read a payable whose payment is in flight back from Dots and adopt what Dots says.

    `pay_requested` is left alone: its `pay` call may still be on its way (the payer's
    own request records the answer, or moves it to outcome unknown).
    """
    payable = Payable.objects.get(pk=payable_id)
    if payable.status not in (S.OUTCOME_UNKNOWN, S.PAYMENT_INITIATED) or not payable.dots_id:
        return payable
    with dots_call(f"read {payable} back from Dots"):
        answer = client().retrieve_payable(payable_id=payable.dots_id)
    return _record_payment_answer(
        payable.pk, answer, actor=actor, source=source, expected=[S.OUTCOME_UNKNOWN, S.PAYMENT_INITIATED]
    )


# --- following payments to the end -------------------------------------------------------------------------


def _schedule_follow(payable_id: int) -> None:
    """Ask the worker to follow this payment to its end (payables.tasks.follow_payment)."""
    transaction.on_commit(
        lambda: async_task("payables.tasks.follow_payment", payable_id, 0, task_name=f"follow-payment-{payable_id}")
    )


@dataclass(frozen=True)
class FollowResult:
    settled: bool
    status: str


def payable_follow_payment(*, payable_id: int) -> FollowResult:
    """One look at Dots for a payment in flight; the task decides when to look again."""
    payable = payable_reconcile_payment(payable_id=payable_id, actor=audit.system_user(), source=AuditEvent.Source.TASK)
    return FollowResult(settled=payable.status not in Payable.PAYMENT_IN_FLIGHT, status=payable.status)


# --- create from a PDF ---------------------------------------------------------------------------------


def payable_create_from_file(*, actor, upload, vendor, bank_account) -> Payable:
    """Dots reads the PDF (upload-from-file); a local draft opens prefilled for the clerk to check."""
    from django.core.files.base import ContentFile

    _require_perm(actor, "payables.add_payable", "create payables")
    if bank_account.vendor_id != vendor.pk:
        raise InvalidTransition(f"“{bank_account}” belongs to {bank_account.vendor}, not to {vendor}.")
    acting_user_id = _acting_user_id(actor)
    upload.seek(0)
    content = upload.read()
    with dots_call("read the bill from the PDF"):
        answer = client().create_payable_from_file(
            acting_user_id=acting_user_id, file=content, filename=upload.name or "bill.pdf"
        )
    with transaction.atomic():
        payable = Payable(
            bill_number=(answer.number or "")[:100],
            description=answer.description or "",
            vendor=vendor,
            bank_account=bank_account,
            amount_cents=answer.amount if not answer.items else None,
            funding_source=answer.funding_source or Payable.FundingSource.DOTS_BALANCE,
            created_by=actor,
            dots_id=answer.id,
            dots_status=answer.status or "created",
            dots_file_uploaded=True,
        )
        payable.file.save(upload.name or "bill.pdf", ContentFile(content), save=False)
        payable.save()
        for item in answer.items or []:
            payable.items.create(
                name=str(item.get("name") or "Item")[:200],
                description=str(item.get("description") or "")[:500],
                unit_price_cents=int(item.get("unit_price") or item.get("amount") or 0),
                quantity=int(item.get("quantity") or 1),
            )
        payable_recalculate(payable=payable)
        audit.record(
            actor=actor,
            action="payable.created_from_file",
            target=payable,
            before={},
            after=payable_edit_snapshot(payable),
        )
    return payable
