"""Controls a payable passes before money moves, beyond its status: who may pay it, whether it is still
what was approved, whether it is on hold, and the emergency overrides that let one payable through one
control once.

- **Approver is not payer**: whoever approved any step (here, in Dots' dashboard as the Dots user linked
  to them, or again here after a change) does not pay it, superusers included.
- **Approvals bound to what was approved**: each approval records a fingerprint of the amount, the vendor,
  the bank account (its Dots id and last four), the line items and the PDF's checksum. When any of these
  differs before payment, paying is refused until approvers of the same steps approve the payable again
  here (`payable_approve_again`): Dots treats its approval as done, so the new approval is ours.
- **Hold**: a held payable is neither approved nor paid (payables.holds places and releases holds).
- **Overrides** (payables.overrides asks for and confirms them): a confirmed, unused override of a control
  for a payable lets that payable through that control once; the pay service uses it up at its gate.

`ensure_payable_may_be_paid` is the one call the pay service makes (before it queues or calls Dots), and
`pass_pay_gate` the one it makes inside its compare-and-set transaction.
"""

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.utils import timezone

from core import audit
from core.money import format_cents
from core.people import full_name
from core.permissions import require_perm
from payables import selectors
from payables.errors import (
    ApprovalOutdated,
    ApproverMayNotPay,
    BankAccountNotVerified,
    InvalidTransition,
    PayableOnHold,
    PermissionRefused,
    SegregationOfDutiesViolation,
)
from payables.models import ControlOverride, Payable, PayableApproval, PayableHold, PayableReapproval

S = Payable.Status
C = ControlOverride.Control
# Statuses in which a payable may be paid (so may need approving again): approved, or failed for a retry.
PAYABLE_STATUSES = (S.APPROVED, S.PAYMENT_FAILED)


# --- the fingerprint of what was approved -------------------------------------------------------------


def fingerprint_parts(payable: Payable) -> dict[str, Any]:
    """What an approval approves, as plain values (stored on the approval, compared in words later)."""
    account = payable.bank_account
    return {
        "total": payable.total_cents,
        "vendor": {"id": payable.vendor.dots_id or f"local-{payable.vendor_id}", "name": payable.vendor.name},
        # Deleted counts: a payable keeps its account (PROTECT), so a vendor's account deleted and
        # replaced after approval leaves the payable pointing at the deleted one.
        "bank_account": {
            "id": account.dots_id or f"local-{account.pk}",
            "last4": account.account_last4,
            "deleted": account.retired_at is not None,
        },
        "items": [[item.name, item.amount_cents, item.quantity] for item in payable.items.all()],
        "file": payable.file_sha256 or "",
    }


def fingerprint_of(parts: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def approval_binding(payable: Payable) -> dict[str, Any]:
    """The fields an approval stores: `PayableApproval.objects.create(..., **approval_binding(payable))`."""
    parts = fingerprint_parts(payable)
    return {"fingerprint": fingerprint_of(parts), "fingerprint_parts": parts}


def _items_text(items: list) -> str:
    return "; ".join(f"{name} × {quantity} {format_cents(amount)}" for name, amount, quantity in items) or "none"


def _account_text(account: dict[str, Any]) -> str:
    return f"••••{account.get('last4', '')}" + (" (deleted)" if account.get("deleted") else "")


def describe_changes(before: dict[str, Any], now: dict[str, Any]) -> list[str]:
    """What differs, in words: "bank account ••••6789 → ••••4321", "total $1,200.00 → $1,250.00"."""
    changes = []
    if before.get("total") != now.get("total"):
        changes.append(f"total {format_cents(before.get('total'))} → {format_cents(now.get('total'))}")
    old_vendor, new_vendor = before.get("vendor") or {}, now.get("vendor") or {}
    if old_vendor.get("id") != new_vendor.get("id"):
        changes.append(f"vendor {old_vendor.get('name', '?')} → {new_vendor.get('name', '?')}")
    old_account, new_account = before.get("bank_account") or {}, now.get("bank_account") or {}
    if old_account != new_account:
        old_text, new_text = _account_text(old_account), _account_text(new_account)
        if old_text == new_text:
            new_text += " (another account with the same last four digits)"
        changes.append(f"bank account {old_text} → {new_text}")
    if before.get("items") != now.get("items"):
        changes.append(f"line items {_items_text(before.get('items') or [])} → {_items_text(now.get('items') or [])}")
    if before.get("file") != now.get("file"):
        if not now.get("file"):
            changes.append("the bill (PDF) was removed")
        elif not before.get("file"):
            changes.append("a bill (PDF) was attached")
        else:
            changes.append("the bill (PDF) was replaced by another file")
    return changes


@dataclass(frozen=True)
class StepToApproveAgain:
    """A step whose approval no longer matches the payable: how many approvals it needs again, who gave them."""

    step: int  # 0-based, as on PayableApproval
    needed: int
    given: list[str]  # who approved it again already

    @property
    def number(self) -> int:
        return self.step + 1


@dataclass(frozen=True)
class Binding:
    """The payable as it is now compared with what its approvers approved."""

    fingerprint: str
    changes: list[str]  # in words, against the earliest approval that differs; empty when nothing changed
    approved_at: Any  # when that approval was given
    steps: list[StepToApproveAgain]  # steps still to approve again (empty: it may be paid)

    @property
    def changed(self) -> bool:
        return bool(self.changes)

    @property
    def must_approve_again(self) -> bool:
        return bool(self.steps)


def binding(payable: Payable) -> Binding:
    """Whether what was approved is still what would be paid. Approvals recorded before fingerprints
    existed, or given only in Dots' dashboard, bind nothing (there is nothing to compare)."""
    now_parts = fingerprint_parts(payable)
    now = fingerprint_of(now_parts)
    approvals = list(
        PayableApproval.objects.filter(payable=payable, decision=PayableApproval.Decision.APPROVED)
        .exclude(fingerprint="")
        .select_related("user")
        .order_by("decided_at", "id")
    )
    stale = [a for a in approvals if a.fingerprint != now]
    if not stale:
        return Binding(now, [], None, [])
    again = list(
        PayableReapproval.objects.filter(payable=payable, fingerprint=now).select_related("user").order_by("id")
    )
    steps = []
    for step in sorted({a.step for a in approvals}):
        originals = [a for a in approvals if a.step == step]
        if all(a.fingerprint == now for a in originals):
            continue
        # Approvals that still match count, and each person's approval again counts once.
        still = {a.user_id for a in originals if a.fingerprint == now}
        given = [r for r in again if r.step == step and r.user_id not in still]
        if len(still) + len({r.user_id for r in given}) < len(originals):
            steps.append(StepToApproveAgain(step, len(originals) - len(still), [full_name(r.user) for r in given]))
    first = stale[0]
    return Binding(now, describe_changes(first.fingerprint_parts or {}, now_parts), first.decided_at, steps)


# --- hold -------------------------------------------------------------------------------------------


def active_hold(payable: Payable) -> PayableHold | None:
    return PayableHold.objects.filter(payable=payable, released_at__isnull=True).select_related("placed_by").first()


def hold_text(hold: PayableHold) -> str:
    until = f" until {hold.release_on:%d %b %Y}" if hold.release_on else " until someone releases it"
    since = timezone.localtime(hold.placed_at).strftime("%d %b %Y, %H:%M").lstrip("0")
    return f"on hold since {since}, placed by {full_name(hold.placed_by)},{until}: {hold.reason}"


def ensure_not_held(payable: Payable, doing: str) -> None:
    hold = active_hold(payable)
    if hold is not None:
        raise PayableOnHold(f"{payable} is {hold_text(hold)}. Release the hold before you {doing} it.")


# --- approver is not payer --------------------------------------------------------------------------


def approved_by(payable: Payable, user: User) -> bool:
    """Whether `user` approved any step of the payable: here, again here, or in Dots as their Dots user."""
    if PayableApproval.objects.filter(payable=payable, user=user, decision=PayableApproval.Decision.APPROVED).exists():
        return True
    if PayableReapproval.objects.filter(payable=payable, user=user).exists():
        return True
    approver = getattr(user, "dots_approver", None) if user.pk else None
    if approver is None:
        return False
    for step in payable.approval_steps or []:
        for decision in (step.get("user_approvals") or []) if isinstance(step, dict) else []:
            if (
                isinstance(decision, dict)
                and decision.get("approval_given")
                and decision.get("user_id") == (approver.dots_user_id)
            ):
                return True
    return False


# --- overrides --------------------------------------------------------------------------------------


def usable_override(payable: Payable, control: str) -> ControlOverride | None:
    """A confirmed override of `control` for this payable that has not been used yet."""
    return (
        ControlOverride.objects.filter(
            payable=payable, control=control, confirmed_at__isnull=False, used_at__isnull=True
        )
        .order_by("confirmed_at", "id")
        .first()
    )


# --- the pay service's checks -----------------------------------------------------------------------


def ensure_payable_may_be_paid(payable: Payable, actor: User) -> list[ControlOverride]:
    """Refuse paying when a control says no; answer the overrides this payment relies on.

    Checks, in order: a hold (never overridable), the bank account's verification by a second
    person, approver is not payer (superusers included), and that the payable is still what was
    approved. The overrides answered are used up by `pass_pay_gate` when the payment is sent.
    """
    ensure_not_held(payable, "pay")
    needed: list[ControlOverride] = []
    if not payable.bank_account.is_verified:
        override = usable_override(payable, C.BANK_ACCOUNT_VERIFIED)
        if override is None:
            raise BankAccountNotVerified(
                f"{payable}: the bank account {payable.bank_account} waits for verification by a second person."
            )
        needed.append(override)
    if approved_by(payable, actor):
        override = usable_override(payable, C.APPROVER_IS_NOT_PAYER)
        if override is None:
            raise ApproverMayNotPay(f"{payable}: you approved it, so someone else must pay it.")
        needed.append(override)
    ensure_approval_current(payable, "paid")
    return needed


def ensure_approval_current(payable: Payable, before: str) -> None:
    """Refuse when the payable changed since it was approved and a step must approve it again, saying
    what changed and which steps; `before` is what waits for that ("paid", "scheduled")."""
    bound = binding(payable)
    if bound.must_approve_again:
        steps = ", ".join(str(s.number) for s in bound.steps)
        raise ApprovalOutdated(
            f"{payable} changed since it was approved ({'; '.join(bound.changes)}): "
            f"approvers of step {steps} must approve it again before it is {before}."
        )


def pass_pay_gate(payable: Payable, overrides: list[ControlOverride], *, actor: User) -> None:
    """Inside the pay service's compare-and-set transaction: refuse (rolling the move back) if a hold
    was placed meanwhile, and use up each override once (compare-and-set on `used_at`)."""
    if PayableHold.objects.filter(payable=payable, released_at__isnull=True).exists():
        raise PayableOnHold(f"{payable} was put on hold meanwhile; it was not paid.")
    now = timezone.now()
    for override in overrides:
        if not ControlOverride.objects.filter(pk=override.pk, used_at__isnull=True).update(used_at=now):
            raise InvalidTransition(f"{payable}: the override it relied on was used meanwhile; it was not paid.")
        audit.record(
            actor=actor,
            action="payable.override_used",
            target=payable,
            before={"override": override.get_control_display(), "used_at": None},
            after={"override": override.get_control_display(), "used_at": now},
            reason=override.reason,
        )


# --- approving again after a change ------------------------------------------------------------------


def _steps_user_may_approve(payable: Payable, user: User, steps: list[StepToApproveAgain]) -> list[int]:
    """The steps (0-based) among `steps` whose approver list holds `user`'s Dots approver."""
    cache = selectors.StepCache()
    approver = cache.approver_of(user)
    if approver is None:
        return []
    policy_steps = cache.policy_steps(payable)
    allowed = []
    for step in steps:
        if policy_steps:
            if step.step < len(policy_steps) and approver.pk in {a.pk for a in policy_steps[step.step].approvers.all()}:
                allowed.append(step.step)
        elif approver.dots_role in selectors.DEFAULT_APPROVER_ROLES:
            allowed.append(step.step)
    return allowed


def may_approve_again(payable: Payable, user: User) -> bool:
    """Whether the page offers `user` "Approve again…" (the service checks the same, and more)."""
    if payable.status not in PAYABLE_STATUSES or payable.created_by_id == user.pk:
        return False
    if not user.has_perm("payables.approve_payable"):
        return False
    bound = binding(payable)
    if not bound.must_approve_again:
        return False
    return bool(_steps_user_may_approve(payable, user, _open_to(bound.steps, payable, user, bound.fingerprint)))


def _open_to(steps: list[StepToApproveAgain], payable: Payable, user: User, fingerprint: str):
    done = set(
        PayableReapproval.objects.filter(payable=payable, user=user, fingerprint=fingerprint).values_list(
            "step", flat=True
        )
    )
    return [s for s in steps if s.step not in done]


def payable_approve_again(*, payable_id: int, actor: User, comment: str = "") -> Payable:
    """Approve, here, a payable that changed after it was approved: as it is now, for the first step
    that needs it and whose approver list holds `actor`. Nothing is sent to Dots (its approval stands).

    Segregation of duties as for approving: never its creator; one person counts once per step.
    """
    require_perm(actor, "payables.approve_payable", "approve payables")
    with transaction.atomic():
        payable = Payable.objects.select_for_update().select_related("vendor", "bank_account").get(pk=payable_id)
        if payable.created_by_id == actor.pk:
            raise SegregationOfDutiesViolation(f"{payable}: you created it, so someone else must approve it.")
        if payable.status not in PAYABLE_STATUSES:
            raise InvalidTransition(
                f"{payable} is {payable.get_status_display().lower()}: only an approved payable is approved again."
            )
        ensure_not_held(payable, "approve")
        bound = binding(payable)
        if not bound.must_approve_again:
            raise InvalidTransition(f"{payable} is still what was approved: there is nothing to approve again.")
        open_steps = _open_to(bound.steps, payable, actor, bound.fingerprint)
        if not open_steps:
            raise InvalidTransition(f"{payable}: you already approved it again; another approver must too.")
        steps = _steps_user_may_approve(payable, actor, open_steps)
        if not steps:
            numbers = ", ".join(str(s.number) for s in open_steps)
            raise PermissionRefused(f"{payable}: you are not an approver of step {numbers}.")
        step = steps[0]
        parts = fingerprint_parts(payable)
        try:
            with transaction.atomic():
                PayableReapproval.objects.create(
                    payable=payable,
                    step=step,
                    user=actor,
                    fingerprint=bound.fingerprint,
                    fingerprint_parts=parts,
                    comment=(comment or "").strip(),
                )
        except IntegrityError:
            raise InvalidTransition(f"{payable}: you already approved it again.") from None
        audit.record(
            actor=actor,
            action="payable.approved_again",
            changes={"approved again": {"before": "; ".join(bound.changes), "after": f"step {step + 1}"}},
            target=payable,
            reason=(comment or "").strip(),
        )
    return payable


def outstanding_text(payable: Payable) -> str:
    """ "step 1 needs 1 more approval (approved again by …)" for the page; "" when nothing is outstanding."""
    bound = binding(payable)
    texts = []
    for step in bound.steps:
        left = step.needed - len(step.given)
        text = f"step {step.number} needs {left} more approval{'s' if left != 1 else ''}"
        if step.given:
            text += f" (approved again by {', '.join(step.given)})"
        texts.append(text)
    return "; ".join(texts)
