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

import logging

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from core import action_queue, audit
from core.dots_gateway import client, dots_call
from core.errors import DotsCallError, DotsOutcomeUnknownError, DotsRejected, DotsUnavailable
from core.permissions import require_perm
from core.send_once import create_once, find_in_dots
from core.transitions import DOTS
from payables import controls, selectors
from payables import notify as payables_notify
from payables import seam as payables_seam
from payables.errors import (
    InsufficientFunds,
    InvalidTransition,
    NotReadyForDots,
    PermissionRefused,
    PossibleDuplicate,
    ReasonRequired,
    SegregationOfDutiesViolation,
)
from payables.models import Payable, PayableApproval

# Recording a payment's outcome and reading it back live in payables.payments; the sync and
# reconciliation read payable_reconcile_payment and payment_failure_reason from here too.
from payables.payments import (  # noqa: F401  (payment_failure_reason: see above)
    adopt_dots_answer,
    payable_reconcile_payment,
    payment_failure_reason,
    record_payment_answer,
    schedule_follow,
    snapshot,
)

logger = logging.getLogger(__name__)
S = Payable.Status


def _not_creator(payable: Payable, actor: User, doing: str) -> None:
    # Holds for superusers too: segregation of duties is not a permission.
    if payable.created_by_id == actor.pk:
        raise SegregationOfDutiesViolation(f"{payable}: you created it, so someone else must {doing} it.")


def _move(payable: Payable, *, from_statuses, to_status: str, **fields) -> bool:
    """Compare-and-set: move only if the payable is still in one of `from_statuses`.

    Each move must be one the transition table allows (InvalidTransition otherwise); the
    conditional UPDATE is the concurrency gate: of two callers, one moves.
    """
    for status in from_statuses:
        Payable.TRANSITIONS.ensure(payable, to_status, current=status)
    now = timezone.now()
    updated = Payable.objects.filter(pk=payable.pk, status__in=list(from_statuses)).update(
        status=to_status, status_changed_at=now, updated_at=now, **fields
    )
    return updated == 1


def _record_dots_failure(payable_id: int, exc: DotsCallError, *, actor: User, doing: str) -> None:
    with transaction.atomic():
        payable = Payable.objects.select_for_update().get(pk=payable_id)
        before = snapshot(payable)
        payable.last_dots_error = str(exc)
        payable.last_dots_attempt_at = timezone.now()
        payable.save(update_fields=["last_dots_error", "last_dots_attempt_at", "updated_at"])
        audit.record(
            actor=actor,
            action="payable.dots_error",
            target=payable,
            before=before,
            after=snapshot(payable),
            reason=doing,
        )


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
    return find_in_dots(
        client().iter_payables,
        matches=lambda candidate: candidate.external_id == _external_id(payable),
        what=str(payable),
    )


def _ensure_in_dots(payable: Payable, *, acting_user_id: int, actor: User) -> None:
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
        lost = {"answer": False, "not_found": False}

        def find():
            # Only after this attempt's answer was lost: look at once (Dots lists newest first).
            lost["answer"] = True
            found = _find_in_dots(payable)
            lost["not_found"] = found is None
            return found

        try:
            created, _found = create_once(
                create=lambda: client().create_payable(
                    acting_user_id=acting_user_id,
                    external_id=_external_id(payable),
                    funding_source=payable.funding_source,
                    **_dots_payable_fields(payable),
                ),
                find=find,
                what=f"create {payable} in Dots",
                look_first=False,
                look_after_lost_answer=True,
            )
        except DotsCallError:
            if not lost["answer"]:
                # Dots answered no, or was never reached: nothing was made, so the claim goes.
                Payable.objects.filter(pk=payable.pk, dots_status="creating").update(dots_status="")
                raise
            if lost["not_found"]:
                # The create takes no idempotency key and may still land (a timed-out call goes on in
                # Dots): the claim stays, so a retry cannot create a second one. Reconciliation looks
                # for it again once the claim is stale, and releases it only if Dots still lacks it.
                raise DotsUnavailable(
                    f"Dots did not confirm creating {payable} and does not show it yet; it "
                    "may still arrive. The sync checks Dots again within a few minutes; "
                    "submit it again after that."
                ) from None
            raise  # the look-up itself failed: the claim stays as well
        Payable.objects.filter(pk=payable.pk).update(dots_id=created.id, dots_status=created.status or "created")
        payable.dots_id = created.id
    if not payable.file and payable.dots_file_uploaded:
        # Removed here while Dots was away: Dots must not keep a PDF the payable no longer has.
        from payables.drafts import payable_file_remove_in_dots

        payable_file_remove_in_dots(payable_id=payable.pk, actor=actor)
    if payable.file and not payable.dots_file_uploaded:
        payable.file.open("rb")
        try:
            content = payable.file.read()
        finally:
            payable.file.close()
        with dots_call(f"upload the PDF of {payable} to Dots"):
            client().upload_payable_file(payable_id=payable.dots_id, file=content)
        Payable.objects.filter(pk=payable.pk).update(dots_file_uploaded=True)


def payable_submit(*, payable_id: int, actor: User, duplicate_reason: str = "", from_queue: bool = False) -> Payable:
    """Submit a draft for approval in Dots. Refuses a possible duplicate unless given a reason.

    While Dots is unreachable it is queued instead (ActionQueued); the queue runs it with `from_queue`.
    """
    payable = Payable.objects.select_related("vendor", "bank_account").get(pk=payable_id)
    require_perm(actor, "payables.submit_payable", "submit payables")
    Payable.TRANSITIONS.ensure(payable, S.SUBMITTED)
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
    acting_user_id = selectors.required_acting_dots_user_id(actor)
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
    policy, why = selectors.match_policy(payable)
    with transaction.atomic():
        payable = Payable.objects.select_for_update().get(pk=payable.pk)
        before = snapshot(payable)
        if payable.status != S.CREATED:
            return payable  # someone else recorded this submit already
        new_status = answer.status if answer.status in (S.SUBMITTED, S.APPROVED) else S.SUBMITTED
        Payable.TRANSITIONS.ensure(payable, S.SUBMITTED)
        if new_status == S.APPROVED:  # Dots approved it at once (nothing to wait for): its move, not ours
            Payable.TRANSITIONS.ensure(payable, S.APPROVED, by=DOTS, current=S.SUBMITTED)
        adopt_dots_answer(payable, answer)
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
            after={**snapshot(payable), "approval_policy": str(policy) if policy else why},
        )
        payables_notify.submitted(payable)
    return payable


# --- approve, reject, cancel ---------------------------------------------------------------------------


def _check_approver(payable: Payable, actor: User, doing: str, decided: str) -> int:
    require_perm(actor, "payables.approve_payable", f"{doing} payables")
    _not_creator(payable, actor, doing)
    Payable.TRANSITIONS.ensure(payable, decided)
    may, why = selectors.user_may_approve_current_step(payable, actor)
    if not may:
        raise PermissionRefused(f"{payable}: {why}")
    step = selectors.current_step_index(payable) or 0
    if PayableApproval.objects.filter(payable=payable, step=step, user=actor).exists():
        raise InvalidTransition(f"{payable}: you already decided on this approval step.")
    dots_user_id = selectors.acting_dots_user_id(actor, own_only=True)
    if dots_user_id is None:
        raise NotReadyForDots("Your account is not linked to a Dots approver.")
    return dots_user_id


def payable_approve(*, payable_id: int, actor: User, comment: str = "", from_queue: bool = False) -> Payable:
    controls.ensure_not_held(Payable.objects.get(pk=payable_id), "approve")
    return _decide(
        payable_id=payable_id,
        actor=actor,
        decision=PayableApproval.Decision.APPROVED,
        comment=comment,
        from_queue=from_queue,
    )


def payable_reject(
    *, payable_id: int, actor: User, reason: str, from_queue: bool = False, sending_back: bool = False
) -> Payable:
    """Reject in Dots (final there). `sending_back`: payables.send_back tells the clerk itself, in its own words."""
    reason = (reason or "").strip()
    if not reason:
        raise ReasonRequired("Say why the payable is rejected.")
    return _decide(
        payable_id=payable_id,
        actor=actor,
        decision=PayableApproval.Decision.REJECTED,
        comment=reason,
        from_queue=from_queue,
        tell=not sending_back,
    )


def _decide(
    *, payable_id: int, actor: User, decision: str, comment: str, from_queue: bool, tell: bool = True
) -> Payable:
    """One approver's decision on the current step, in Dots first, then here."""
    approving = decision == PayableApproval.Decision.APPROVED
    verb = "approve" if approving else "reject"
    payable = Payable.objects.get(pk=payable_id)
    dots_user_id = _check_approver(payable, actor, verb, S.APPROVED if approving else S.REJECTED)
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
    step = selectors.current_step_index(payable) or 0
    # A backup listed in the step decides as themselves; the audit says for whom ("approved for Avery Approver, away").
    covering = payables_notify.covering_text(payable, actor, approving=approving)
    send = client().approve_payable if approving else client().reject_payable
    try:
        with dots_call(f"{verb} {payable}"):
            answer = send(payable_id=payable.dots_id, acting_user_id=dots_user_id, comment=comment or None)
    except DotsCallError as exc:
        _record_dots_failure(payable.pk, exc, actor=actor, doing=verb)
        raise
    with transaction.atomic():
        payable = Payable.objects.select_for_update().get(pk=payable.pk)
        before = snapshot(payable)
        adopt_dots_answer(payable, answer)
        PayableApproval.objects.get_or_create(
            payable=payable,
            step=step,
            user=actor,
            # What was approved (payables.controls): paying is refused if it changes before payment.
            defaults={"decision": decision, "comment": comment, **controls.approval_binding(payable)},
        )
        if approving:
            # One approval may only complete a step; the payable is approved when Dots says so.
            new_status = S.APPROVED if answer.status == S.APPROVED else None
            action = "payable.approved" if new_status else "payable.step_approved"
        else:
            new_status, action = S.REJECTED, "payable.rejected"  # one rejection rejects
        # Someone may have decided meanwhile (here or in Dots): move only if it still may.
        if new_status and Payable.TRANSITIONS.allows(payable.status, new_status):
            payable.status = new_status
            payable.status_changed_at = timezone.now()
            if new_status == S.REJECTED:
                payable.closed_reason, payable.closed_by, payable.closed_at = comment, actor, payable.status_changed_at
        payable.save()
        audit.record(
            actor=actor,
            action=action,
            target=payable,
            before=before,
            after={**snapshot(payable), "step": step + 1, **({"on_behalf_of": covering} if covering else {})},
            reason=f"{covering}: {comment}" if covering and comment else covering or comment,
        )
        if tell:
            payables_notify.decided(payable, actor=actor, comment=comment)
    return payable


def payable_cancel(*, payable_id: int, actor: User, reason: str, from_queue: bool = False) -> Payable:
    reason = (reason or "").strip()
    if not reason:
        raise ReasonRequired("Say why the payable is canceled.")
    payable = Payable.objects.get(pk=payable_id)
    require_perm(actor, "payables.submit_payable", "cancel payables")
    Payable.TRANSITIONS.ensure(payable, S.CANCELED)
    if payable.dots_id:
        # Refuses clearly when nobody acts for this user in Dots.
        acting_user_id = selectors.required_acting_dots_user_id(actor)
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
        before = snapshot(payable)
        Payable.TRANSITIONS.ensure(payable, S.CANCELED)
        payable.status = S.CANCELED
        payable.status_changed_at = timezone.now()
        payable.closed_reason, payable.closed_by, payable.closed_at = reason, actor, payable.status_changed_at
        fields = ["status", "status_changed_at", "closed_reason", "closed_by", "closed_at", "updated_at"]
        if payable.dots_id:  # Dots took the cancel: an earlier error no longer stands
            payable.last_dots_error, payable.last_dots_attempt_at = "", timezone.now()
            fields += ["last_dots_error", "last_dots_attempt_at"]
        payable.save(update_fields=fields)
        audit.record(
            actor=actor,
            action="payable.canceled",
            target=payable,
            before=before,
            after=snapshot(payable),
            reason=reason,
        )
    return payable


# --- pay -----------------------------------------------------------------------------------------------


def payable_pay(*, payable_id: int, actor: User, from_queue: bool = False) -> Payable:
    """Pay an approved (or failed, for a retry) payable in Dots. Sends `pay` at most once per request.

    While Dots is unreachable the payment is queued (ActionQueued) and the payable stays
    approved: a queued pay is not `pay_requested`, which reconciliation would read as an
    interrupted call. A second pay while one is queued is refused.
    """
    payable = Payable.objects.select_related("bank_account").get(pk=payable_id)
    require_perm(actor, "payables.pay_payable", "pay payables")
    _not_creator(payable, actor, "pay")
    if payable.status in Payable.PAYMENT_IN_FLIGHT:
        raise InvalidTransition(
            f"{payable}: a payment is already under way ({Payable.Status(payable.status).label.lower()})."
        )
    Payable.TRANSITIONS.ensure(payable, S.PAY_REQUESTED)
    # Hold, bank account verified, approver is not payer, still what was approved (or an override).
    overrides = controls.ensure_payable_may_be_paid(payable, actor)
    acting_user_id = selectors.required_acting_dots_user_id(actor)
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
            payable,
            from_statuses=[previous],
            to_status=S.PAY_REQUESTED,
            pay_requested_by=actor,
            pay_requested_at=timezone.now(),
            last_dots_error="",
        ):
            raise InvalidTransition(f"{payable}: someone else is paying it right now.")
        controls.pass_pay_gate(payable, overrides, actor=actor)
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
                payable,
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
                    payable,
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
                    payable,
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
            schedule_follow(payable.pk)
            raise exc from None
        if payable.status == S.OUTCOME_UNKNOWN:
            schedule_follow(payable.pk)
            raise exc
        if payable.status in (S.APPROVED, S.PAYMENT_FAILED):
            raise DotsUnavailable(
                f"Dots did not take the payment of {payable} ({exc}); it shows no payment "
                "under way, so it can be paid again.",
                dots_error=exc.dots_error,
            ) from exc
        if payable.status in Payable.PAYMENT_IN_FLIGHT:
            schedule_follow(payable.pk)
        return payable
    payable = record_payment_answer(payable.pk, answer, actor=actor, expected=[S.PAY_REQUESTED])
    if payable.status in Payable.PAYMENT_IN_FLIGHT:
        schedule_follow(payable.pk)
    return payable
