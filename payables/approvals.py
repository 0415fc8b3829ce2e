"""Approvers (Dots dashboard users) and approval policies: services and selectors.

How a local policy version maps to Dots policies (NOTES.md decision 7):
- `payable_conditions`: the amount condition (`{"type": "amount", "comparator", "value": cents}`)
  and the vendor condition (`{"type": "vendor_id", "value": <the vendor's Dots id>}`).
  Dots applies a policy only when *all* its conditions hold, so one Dots policy cannot say
  "the vendor is one of A or B". A version naming several vendors is therefore kept in Dots
  as one *copy* per vendor (`ApprovalPolicyDotsCopy` rows: that vendor's condition, the same
  amount condition and steps); a version with one vendor or none is one Dots policy, whose
  id and state are on the version itself (`ApprovalPolicy.dots_id`). A policy with no
  condition at all is sent as "amount >= 0", which every payable meets (Dots wants one).
- `approval_conditions`: one per step, in order, with the approvers' Dots integer user ids.
- `priority`: Dots gives a new policy the lowest priority; after each change the Dots priorities
  of all current copies are realigned (`_dots_priorities`): walking the local order (priority,
  then age), each copy gets max(its policy's priority, previous + 1), so the copies of one
  version sit on consecutive Dots priorities and Dots tries them in the local order.

Dots can only change a policy's priority, so an edit makes a new local version (same
`lineage`), creates it in Dots, then deletes the old one there; the old version is
retired here (`retired_at`) and kept. The Dots calls run outside any transaction: the
local change is committed first, then Dots is called, then the outcome is recorded. A
failed call leaves `last_dots_error` on the row it concerns and `policy_push` retries.

A retired single-copy version may still be in Dots when it has a `dots_id` and no successful
Dots call since it was retired; a retired copy row, when it has a `dots_id` and no
`deleted_in_dots_at` (see `awaits_deletion_in_dots`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone

from core import audit
from core.dots_gateway import client, dots_call
from core.errors import DomainError, DotsCallError, DotsOutcomeUnknownError, DotsRejected
from core.money import format_cents
from payables.models import ApprovalPolicy, ApprovalPolicyDotsCopy, ApprovalStep, Approver, Payable
from vendors.models import Vendor

User = get_user_model()

# Who Dots lets approve a payable that no policy covers (its dashboard roles).
DEFAULT_APPROVER_ROLES = frozenset({"admin", "ap_approver"})
NO_POLICY_REASON = "no policy matched: one approval by any approver"
# Sent to Dots for a policy without conditions: Dots needs one, and every amount is >= 0.
MATCH_EVERYTHING = {"type": "amount", "comparator": ">=", "value": 0}
_SYMBOL = {"<=": "≤", "==": "=", ">=": "≥"}
# How long a creation in Dots counts as under way (well over the client's timeout and retries).
SEND_LEASE = dt.timedelta(minutes=2)


# --- errors ---------------------------------------------------------------------------------------


class ApprovalPolicyInvalid(DomainError):
    """The policy as entered could not be used; `problems` name each field (and step)."""

    code = "approval-policy-invalid"

    def __init__(self, problems: Sequence[Problem]):
        self.problems = list(problems)
        super().__init__(" ".join(p.message for p in self.problems))


class ApprovalPolicyRetired(DomainError):
    code = "approval-policy-retired"


class PolicyBeingSent(DomainError):
    code = "approval-policy-being-sent"


class ApproverLinkRefused(DomainError):
    code = "approver-link-refused"


class PolicyNotInDots(DomainError):
    """The local change is saved, but Dots does not reflect it yet; `policy_push` retries.

    `policy` is the version concerned, `dots_error` the gateway's error (its `code` tells
    an outage from a refusal or an unknown outcome).
    """

    code = "approval-policy-not-in-dots"

    def __init__(self, message: str, *, policy: ApprovalPolicy, dots_error: DotsCallError):
        super().__init__(message)
        self.policy = policy
        self.dots_error = dots_error


# --- input ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    field: str  # a form field name: description, amount_comparator, amount_cents, vendors, steps
    message: str
    step: int | None = None  # 1-based step number for step problems, None for the whole list


@dataclass(frozen=True)
class _Spec:
    """A policy's content, checked: what a version is made of."""

    description: str
    priority: int
    amount_comparator: str
    amount_cents: int | None
    vendors: tuple[Vendor, ...]
    steps: tuple[tuple[int, tuple[Approver, ...]], ...]


def policy_problems(
    *,
    description: str,
    priority: int | None,
    amount_comparator: str,
    amount_cents: int | None,
    vendor_ids: Iterable[int],
    steps: Sequence[tuple[int | None, Iterable[int]]],
) -> list[Problem]:
    """Everything wrong with a policy as entered, without calling Dots (forms show these)."""
    return _check(
        description=description,
        priority=priority,
        amount_comparator=amount_comparator,
        amount_cents=amount_cents,
        vendor_ids=vendor_ids,
        steps=steps,
    )[1]


def _check(*, description, priority, amount_comparator, amount_cents, vendor_ids, steps) -> tuple[_Spec | None, list]:
    problems, vendors = _check_fields(
        description=description,
        priority=priority,
        amount_comparator=amount_comparator,
        amount_cents=amount_cents,
        vendor_ids=vendor_ids,
    )
    step_problems, checked_steps = _check_steps(steps)
    problems += step_problems
    if problems:
        return None, problems
    spec = _Spec(
        description=description.strip(),
        priority=priority,
        amount_comparator=amount_comparator or "",
        amount_cents=amount_cents if amount_comparator else None,
        vendors=tuple(vendors),
        steps=tuple(checked_steps),
    )
    return spec, []


def policy_field_problems(*, description, priority, amount_comparator, amount_cents, vendor_ids) -> list[Problem]:
    """What is wrong with a policy's own fields (the admin's main form shows these)."""
    return _check_fields(
        description=description,
        priority=priority,
        amount_comparator=amount_comparator,
        amount_cents=amount_cents,
        vendor_ids=vendor_ids,
    )[0]


def policy_step_problems(steps: Sequence[tuple[int | None, Iterable[int]]]) -> list[Problem]:
    """What is wrong with a policy's steps (the admin's steps formset shows these)."""
    return _check_steps(steps)[0]


def _check_fields(*, description, priority, amount_comparator, amount_cents, vendor_ids):
    problems: list[Problem] = []
    description = (description or "").strip()
    if not description:
        problems.append(Problem("description", "Describe the policy, for example “Bills of $10,000.00 or more”."))
    if priority is None or priority < 0:
        problems.append(Problem("priority", "Enter a priority of 0 or more (lower numbers are tried first)."))
    amount_comparator = amount_comparator or ""
    if amount_comparator and amount_comparator not in ApprovalPolicy.AmountComparator.values:
        problems.append(Problem("amount_comparator", f"“{amount_comparator}” is not at most, exactly or at least."))
    elif amount_comparator and amount_cents is None:
        problems.append(Problem("amount_cents", "Enter the amount the condition compares with."))
    elif amount_cents is not None and not amount_comparator:
        problems.append(
            Problem("amount_comparator", "Choose at most, exactly or at least for the amount, or clear the amount.")
        )
    if amount_cents is not None and amount_cents < 0:
        problems.append(Problem("amount_cents", "Enter an amount of zero or more."))

    vendor_ids = sorted({int(getattr(v, "pk", v)) for v in vendor_ids})
    vendors = list(Vendor.objects.filter(pk__in=vendor_ids).order_by("name", "pk"))
    missing = sorted(set(vendor_ids) - {v.pk for v in vendors})
    if missing:
        problems.append(Problem("vendors", f"Vendor #{', #'.join(map(str, missing))} does not exist."))
    for vendor in vendors:
        if not vendor.dots_id:
            problems.append(
                Problem(
                    "vendors",
                    f"Vendor {vendor.name} is not in Dots yet, so Dots could not "
                    f"match it: send the vendor to Dots first.",
                )
            )
    return problems, vendors


def _check_steps(steps):
    problems: list[Problem] = []
    checked_steps = []
    if not steps:
        problems.append(
            Problem("steps", "Add at least one approval step: a policy without steps could never approve anything.")
        )
    for number, (required, approver_ids) in enumerate(steps, start=1):
        ids = sorted({int(getattr(a, "pk", a)) for a in approver_ids})
        approvers = list(Approver.objects.filter(pk__in=ids))
        unknown = sorted(set(ids) - {a.pk for a in approvers})
        if unknown:
            problems.append(
                Problem(
                    "approvers", f"Step {number}: approver #{', #'.join(map(str, unknown))} does not exist.", number
                )
            )
        if not ids:
            problems.append(Problem("approvers", f"Step {number} lists no approvers: nobody could approve it.", number))
        if required is None or required < 1:
            problems.append(
                Problem("num_approvals_required", f"Step {number} must require at least one approval.", number)
            )
        elif ids and required > len(ids):
            problems.append(
                Problem(
                    "num_approvals_required",
                    f"Step {number} needs {required} approvals but lists only {len(ids)} "
                    f"approver{'s' if len(ids) != 1 else ''}: nobody could complete it. "
                    f"Add approvers or require fewer approvals.",
                    number,
                )
            )
        approvers.sort(key=lambda a: a.dots_user_id)
        checked_steps.append((required or 0, tuple(approvers)))
    return problems, checked_steps


def _checked(**fields) -> _Spec:
    spec, problems = _check(**fields)
    if problems:
        raise ApprovalPolicyInvalid(problems)
    return spec


def _spec_of(policy: ApprovalPolicy) -> _Spec:
    steps = tuple(
        (s.num_approvals_required, tuple(sorted(s.approvers.all(), key=lambda a: a.dots_user_id)))
        for s in policy.steps.all()
    )
    return _Spec(
        description=policy.description,
        priority=policy.priority,
        amount_comparator=policy.amount_comparator,
        amount_cents=policy.amount_cents,
        vendors=tuple(policy.vendors.order_by("name", "pk")),
        steps=steps,
    )


# --- display ------------------------------------------------------------------------------------------


def amount_condition_text(comparator: str, amount_cents: int | None) -> str:
    """ ">=" and 100000 -> "$1,000.00 or more"; "" -> "any amount"."""
    if not comparator or amount_cents is None:
        return "any amount"
    money = format_cents(amount_cents)
    return {"<=": f"{money} or less", "==": f"exactly {money}", ">=": f"{money} or more"}[comparator]


def approver_label(approver: Approver) -> str:
    """The local user linked to the approver, else the Dots name."""
    if approver.user_id:
        user = approver.user
        return user.get_full_name() or user.get_username()
    name = f"{approver.first_name} {approver.last_name}".strip() or approver.email or f"user {approver.dots_user_id}"
    return f"{name} (Dots #{approver.dots_user_id}, not linked)"


def _snapshot(spec: _Spec) -> dict:
    """Field by field, one key per step, so the audit diff says which step changed."""
    data = {
        "description": spec.description,
        "priority": spec.priority,
        "amount_condition": amount_condition_text(spec.amount_comparator, spec.amount_cents),
        "vendors": [v.name for v in spec.vendors] or "any vendor",
        "steps": len(spec.steps),
    }
    for number, (required, approvers) in enumerate(spec.steps, start=1):
        names = ", ".join(f"{a.first_name} {a.last_name} (#{a.dots_user_id})".strip() for a in approvers)
        data[f"step_{number}"] = f"{required} of: {names}"
    return data


def dots_state(policy: ApprovalPolicy) -> str:
    """Where this version stands in Dots, for the admin."""
    copies = _copy_rows(policy)
    if copies:
        return _copies_state(policy, copies)
    if policy.retired_at is None:
        if not policy.dots_id:
            if policy.last_dots_error:
                return f"Not in Dots: {policy.last_dots_error}"
            return "Not sent to Dots yet"
        if policy.last_dots_error:
            return f"In Dots, but the last change did not reach it: {policy.last_dots_error}"
        return "In Dots"
    if awaits_deletion_in_dots(policy):
        return f"Retired, still in Dots: {policy.last_dots_error or 'deletion not confirmed'}"
    return "Retired (not in Dots)"


def _copy_rows(policy: ApprovalPolicy) -> list[ApprovalPolicyDotsCopy]:
    """The version's per-vendor Dots copies (empty for a version with one vendor or none)."""
    return sorted(policy.dots_copies.all(), key=lambda c: (c.vendor.name if c.vendor_id else "", c.pk))


def _copies_state(policy: ApprovalPolicy, copies: list[ApprovalPolicyDotsCopy]) -> str:
    total = len(copies)
    if policy.retired_at is not None:
        left = [c for c in copies if _copy_awaits_deletion(c)]
        if not left:
            deleted = sum(1 for c in copies if c.deleted_in_dots_at)
            return (
                f"Retired (not in Dots; its {deleted} cop{'y' if deleted == 1 else 'ies'} deleted)"
                if deleted
                else "Retired (not in Dots)"
            )
        detail = "; ".join(f"{c.vendor.name}: {c.last_dots_error or 'deletion not confirmed'}" for c in left)
        return f"Retired, still in Dots: {len(left)} of {total} copies ({detail})"
    missing = [c for c in copies if not c.dots_id]
    if missing:
        detail = "; ".join(
            f"the copy for {c.vendor.name} {'failed: ' + c.last_dots_error if c.last_dots_error else 'is not sent yet'}"
            for c in missing
        )
        if len(missing) == total:
            return f"Not in Dots: {detail}"
        return f"In Dots for {total - len(missing)} of {total} vendors; {detail}"
    if policy.last_dots_error:
        return f"In Dots ({total} copies), but the last change did not reach it: {policy.last_dots_error}"
    return f"In Dots ({total} copies, one per vendor)"


def _copy_awaits_deletion(copy: ApprovalPolicyDotsCopy) -> bool:
    return bool(copy.dots_id) and copy.deleted_in_dots_at is None


# --- selectors ---------------------------------------------------------------------------------------------


def current_policies():
    """Current versions in the order Dots tries them (ties: the older first, as Dots does)."""
    return (
        ApprovalPolicy.objects.filter(retired_at__isnull=True)
        .order_by("priority", "id")
        .prefetch_related("vendors", "steps__approvers", "dots_copies__vendor")
    )


def awaits_deletion_in_dots(policy: ApprovalPolicy) -> bool:
    copies = _copy_rows(policy)
    if copies:
        return policy.retired_at is not None and any(_copy_awaits_deletion(c) for c in copies)
    if policy.retired_at is None or not policy.dots_id:
        return False
    confirmed = (
        policy.last_dots_attempt_at is not None
        and policy.last_dots_attempt_at >= policy.retired_at
        and not policy.last_dots_error
    )
    return not confirmed


def needs_dots(policy: ApprovalPolicy) -> bool:
    """Whether Dots is behind this version (so "Send to Dots again" has something to do)."""
    if policy.retired_at is not None:
        return awaits_deletion_in_dots(policy)
    copies = _copy_rows(policy)
    if copies:
        return any(not c.dots_id for c in copies) or bool(policy.last_dots_error)
    return not policy.dots_id or bool(policy.last_dots_error)


def policies_in_dots() -> list[ApprovalPolicy]:
    """The versions Dots holds, in the order it tries them: current ones it has, and retired
    ones whose deletion there has not been confirmed (Dots still applies them)."""
    rows = (
        ApprovalPolicy.objects.filter(Q(dots_id__isnull=False) | Q(dots_copies__dots_id__isnull=False))
        .distinct()
        .prefetch_related("vendors", "dots_copies__vendor")
    )
    held = [p for p in rows if p.retired_at is None or awaits_deletion_in_dots(p)]
    return sorted(held, key=lambda p: (p.priority, p.id))


def _conditions_hold(policy: ApprovalPolicy, payable: Payable) -> tuple[bool, list[str]]:
    reasons = []
    amount = payable.total_cents or 0
    if policy.amount_comparator and policy.amount_cents is not None:
        value = policy.amount_cents
        holds = {"<=": amount <= value, "==": amount == value, ">=": amount >= value}[policy.amount_comparator]
        if not holds:
            return False, []
        reasons.append(f"amount {format_cents(amount)} {_SYMBOL[policy.amount_comparator]} {format_cents(value)}")
    vendors = list(policy.vendors.all())
    copies = _copy_rows(policy)
    if copies:
        # Several vendors: Dots routes by the copies it holds, one per vendor.
        held = {c.vendor_id for c in copies if c.dots_id and (policy.retired_at is None or _copy_awaits_deletion(c))}
        vendors = [v for v in vendors if v.pk in held]
        if not vendors:
            return False, []
    if vendors:
        if payable.vendor_id not in {v.pk for v in vendors}:
            return False, []
        reasons.append(f"vendor is {next(v.name for v in vendors if v.pk == payable.vendor_id)}")
    return True, reasons


def match_policy(payable: Payable) -> tuple[ApprovalPolicy | None, str]:
    """The policy Dots will apply to this payable on submit, and why (Dots' rule: ascending
    priority, the first whose conditions all hold; none: one approval by any approver)."""
    for policy in policies_in_dots():
        holds, reasons = _conditions_hold(policy, payable)
        if holds:
            because = " and ".join(reasons) if reasons else "it applies to every payable"
            return policy, because
    return None, NO_POLICY_REASON


# --- approval steps of a payable -------------------------------------------------------------------------


@dataclass(frozen=True)
class StepView:
    number: int  # 1-based
    required: int
    approvers: list[str]  # who may approve
    approved_by: list[str]
    rejected_by: list[str] = field(default_factory=list)
    completed: bool = False
    is_current: bool = False


def current_step_index(payable: Payable) -> int | None:
    """0-based index of the step waiting for approvals, None when none is (not submitted, or done)."""
    if payable.status != Payable.Status.SUBMITTED:
        return None
    for index, step in enumerate(payable.approval_steps or []):
        if not step.get("completed"):
            return index
    return None


def _policy_steps(payable: Payable) -> list[ApprovalStep]:
    if payable.approval_policy_id is None:
        return []
    return list(payable.approval_policy.steps.prefetch_related("approvers__user"))


def _default_approvers():
    return Approver.objects.filter(dots_role__in=DEFAULT_APPROVER_ROLES).select_related("user")


def _label_for_dots_user(dots_user_id, fallback: str, approvers_by_dots_id: dict) -> str:
    approver = approvers_by_dots_id.get(dots_user_id)
    return approver_label(approver) if approver and approver.user_id else (fallback or f"Dots user {dots_user_id}")


def step_view(payable: Payable) -> list[StepView]:
    """Each step: who may approve it, who has, and which one is current. Before submit (no
    answer from Dots yet) the steps of the matched policy are shown, none approved."""
    policy_steps = _policy_steps(payable)
    dots_steps = list(payable.approval_steps or [])
    count = len(dots_steps) or len(policy_steps)
    if not count:
        return []
    approvers_by_dots_id = {a.dots_user_id: a for a in Approver.objects.select_related("user")}
    current = current_step_index(payable)
    views = []
    for index in range(count):
        dots_step = dots_steps[index] if index < len(dots_steps) else {}
        if index < len(policy_steps):
            may = [approver_label(a) for a in policy_steps[index].approvers.all()]
            required = policy_steps[index].num_approvals_required
        else:
            # No policy (Dots' default): any dashboard admin or AP approver.
            may = [approver_label(a) for a in _default_approvers()] or ["any Dots admin or AP approver (none synced)"]
            required = 1
        required = dots_step.get("num_approvals_required", required)
        decisions = dots_step.get("user_approvals") or []
        approved = [
            _label_for_dots_user(d.get("user_id"), d.get("name", ""), approvers_by_dots_id)
            for d in decisions
            if d.get("approval_given")
        ]
        rejected = [
            _label_for_dots_user(d.get("user_id"), d.get("name", ""), approvers_by_dots_id)
            for d in decisions
            if d.get("approval_given") is False
        ]
        views.append(
            StepView(
                number=index + 1,
                required=required,
                approvers=may,
                approved_by=approved,
                rejected_by=rejected,
                completed=bool(dots_step.get("completed")),
                is_current=index == current,
            )
        )
    return views


def user_may_approve_current_step(payable: Payable, user) -> tuple[bool, str]:
    """Whether `user` may approve (or reject) the current step, and why not. Segregation of
    duties (the creator) is the approve service's business; this is about the step's list."""
    index = current_step_index(payable)
    if index is None:
        if payable.status != Payable.Status.SUBMITTED:
            return False, f"{payable} is not waiting for approval ({payable.get_status_display()})."
        return False, f"{payable} has no approval step left."
    approver = Approver.objects.filter(user=user).first()
    if approver is None:
        return False, f"{user.get_username()} is not linked to a Dots approver (ask an administrator to link them)."
    number = index + 1
    policy_steps = _policy_steps(payable)
    if policy_steps:
        if index >= len(policy_steps):
            return False, f"step {number} of {payable} is not in the policy it was submitted under."
        if not policy_steps[index].approvers.filter(pk=approver.pk).exists():
            return False, f"{user.get_username()} is not an approver of step {number}."
    elif len(payable.approval_steps or []) > 1:
        return False, f"{payable} was submitted under a policy not known here; approve it in Dots."
    elif approver.dots_role not in DEFAULT_APPROVER_ROLES:
        return False, (
            f"{user.get_username()} is a Dots {approver.dots_role or 'user'}, not an approver "
            f"(no policy applies, so any Dots admin or AP approver may approve)."
        )
    decisions = (payable.approval_steps or [])[index].get("user_approvals") or []
    if any(d.get("user_id") == approver.dots_user_id for d in decisions):
        return False, f"{user.get_username()} has already approved step {number}: one person counts once per step."
    return True, f"{user.get_username()} is an approver of step {number}."


# --- approvers -------------------------------------------------------------------------------------------------


@dataclass
class SyncResult:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    linked: list[str] = field(default_factory=list)
    unlinked_emails: list[str] = field(default_factory=list)  # no (or no single free) local user with that email
    gone_from_dots: list[str] = field(default_factory=list)  # kept here: old policy versions name them
    unchanged: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated or self.linked)

    def summary(self) -> str:
        parts = [
            f"{len(self.created)} new",
            f"{len(self.updated)} updated",
            f"{len(self.linked)} linked by email",
            f"{self.unchanged} unchanged",
        ]
        text = "Approvers synced from Dots: " + ", ".join(parts) + "."
        if self.unlinked_emails:
            text += " No single unlinked local user has the email of: " + ", ".join(self.unlinked_emails) + "."
        if self.gone_from_dots:
            text += " No longer in Dots (kept here): " + ", ".join(self.gone_from_dots) + "."
        return text


def _free_user_with_email(email: str):
    if not email:
        return None
    candidates = list(User.objects.filter(email__iexact=email.strip(), dots_approver__isnull=True)[:2])
    taken = User.objects.filter(email__iexact=email.strip(), dots_approver__isnull=False).exists()
    # Two local users with one email, or one already linked elsewhere: a person must decide.
    if len(candidates) != 1 or taken:
        return None
    return candidates[0]


def approvers_sync(*, actor) -> SyncResult:
    """Upsert the Dots dashboard users and link each unlinked one to the local user with its email."""
    with dots_call("list the approvers"):
        remote = [a for a in client().list_approvers() if a.id is not None]
    result = SyncResult()
    now = timezone.now()
    with transaction.atomic():
        # of=("self",): PostgreSQL cannot lock the nullable side of the join to the user.
        rows = Approver.objects.select_for_update(of=("self",)).select_related("user")
        existing = {a.dots_user_id: a for a in rows}
        for item in remote:
            values = {
                "email": item.email or "",
                "first_name": item.first_name or "",
                "last_name": item.last_name or "",
                "dots_role": item.role or "",
            }
            approver = existing.get(item.id)
            if approver is None:
                approver = Approver.objects.create(dots_user_id=item.id, synced_at=now, **values)
                result.created.append(str(approver))
            else:
                changed = {k: v for k, v in values.items() if getattr(approver, k) != v}
                for key, value in changed.items():
                    setattr(approver, key, value)
                approver.synced_at = now
                approver.save(update_fields=[*changed, "synced_at"])
                if changed:
                    result.updated.append(f"{approver}: {', '.join(sorted(changed))}")
                else:
                    result.unchanged += 1
            if approver.user_id is None:
                user = _free_user_with_email(approver.email)
                if user is not None:
                    approver.user = user
                    approver.save(update_fields=["user"])
                    result.linked.append(f"{approver} → {user.get_username()}")
                elif approver.email:
                    result.unlinked_emails.append(f"{approver} <{approver.email}>")
        remote_ids = {item.id for item in remote}
        result.gone_from_dots = [str(a) for dots_id, a in sorted(existing.items()) if dots_id not in remote_ids]
        if result.changed:
            audit.record(
                actor=actor,
                action="approver.synced",
                object_type="payables.approver",
                object_repr="approvers",
                changes={"created": result.created, "updated": result.updated, "linked": result.linked},
            )
    return result


def approver_link(*, actor, approver_id: int, user_id: int | None) -> Approver:
    """Link the approver to a local user (None: unlink). A user acts as one approver at most."""
    with transaction.atomic():
        approver = Approver.objects.select_for_update(of=("self",)).select_related("user").get(pk=approver_id)
        if approver.user_id == user_id:
            return approver
        user = None
        if user_id is not None:
            user = User.objects.get(pk=user_id)
            other = Approver.objects.filter(user=user).exclude(pk=approver.pk).first()
            if other is not None:
                raise ApproverLinkRefused(
                    f"{user.get_username()} is already linked to {other}: unlink them there first."
                )
        before = approver.user.get_username() if approver.user_id else None
        approver.user = user
        approver.save(update_fields=["user"])
        audit.record(
            actor=actor,
            action="approver.linked",
            target=approver,
            before={"user": before},
            after={"user": user.get_username() if user else None},
        )
    return approver


# --- policies: local writes ------------------------------------------------------------------------------------


def _save_version(spec: _Spec, *, actor, lineage=None, version: int = 1) -> ApprovalPolicy:
    policy = ApprovalPolicy(
        description=spec.description,
        priority=spec.priority,
        amount_comparator=spec.amount_comparator,
        amount_cents=spec.amount_cents,
        version=version,
        created_by=actor,
    )
    if lineage is not None:
        policy.lineage = lineage
    policy.save()
    policy.vendors.set(spec.vendors)
    if len(spec.vendors) > 1:
        ApprovalPolicyDotsCopy.objects.bulk_create(
            ApprovalPolicyDotsCopy(policy=policy, vendor=v) for v in spec.vendors
        )
    for order, (required, approvers) in enumerate(spec.steps, start=1):
        step = ApprovalStep.objects.create(policy=policy, order=order, num_approvals_required=required)
        step.approvers.set(approvers)
    return policy


def policy_create(
    *,
    actor,
    description: str,
    priority: int,
    amount_comparator: str = "",
    amount_cents: int | None = None,
    vendor_ids: Iterable[int] = (),
    steps: Sequence[tuple[int, Iterable[int]]],
) -> ApprovalPolicy:
    """Save a policy here, then create it in Dots. `steps`: (approvals required, local Approver pks)
    in order. Raises ApprovalPolicyInvalid before anything is saved or sent; PolicyNotInDots
    when saved here but Dots failed (retry with policy_push)."""
    spec = _checked(
        description=description,
        priority=priority,
        amount_comparator=amount_comparator,
        amount_cents=amount_cents,
        vendor_ids=vendor_ids,
        steps=steps,
    )
    with transaction.atomic():
        policy = _save_version(spec, actor=actor)
        audit.record(actor=actor, action="approval_policy.created", target=policy, after=_snapshot(spec))
    _push(policy.pk, actor=actor)
    return ApprovalPolicy.objects.get(pk=policy.pk)


def policy_update(
    *,
    actor,
    policy_id: int,
    description: str,
    priority: int,
    amount_comparator: str = "",
    amount_cents: int | None = None,
    vendor_ids: Iterable[int] = (),
    steps: Sequence[tuple[int, Iterable[int]]],
) -> ApprovalPolicy:
    """A new version here and in Dots; the old one is retired here and deleted in Dots.
    Returns the current version (the same one when only the priority, or nothing, changed)."""
    spec = _checked(
        description=description,
        priority=priority,
        amount_comparator=amount_comparator,
        amount_cents=amount_cents,
        vendor_ids=vendor_ids,
        steps=steps,
    )
    old = ApprovalPolicy.objects.get(pk=policy_id)
    if old.retired_at is not None:
        raise ApprovalPolicyRetired(
            f"{old} was retired on {old.retired_at:%Y-%m-%d %H:%M}: edit the current version instead."
        )
    changes = audit.diff(_snapshot(_spec_of(old)), _snapshot(spec))
    if not changes:
        return old
    if set(changes) == {"priority"}:
        return policy_set_priority(actor=actor, policy_id=old.pk, priority=spec.priority)
    with transaction.atomic():
        # Compare-and-set: two people editing the same version make one new version, not two.
        if not ApprovalPolicy.objects.filter(pk=old.pk, retired_at__isnull=True).update(retired_at=timezone.now()):
            raise ApprovalPolicyRetired(f"{old} was changed by someone else meanwhile: reload it and edit again.")
        version = (ApprovalPolicy.objects.filter(lineage=old.lineage).aggregate(v=Max("version"))["v"] or 0) + 1
        new = _save_version(spec, actor=actor, lineage=old.lineage, version=version)
        audit.record(
            actor=actor,
            action="approval_policy.updated",
            target=new,
            changes=changes,
            reason=f"replaces version {old.version} (#{old.pk})",
        )
    _push(new.pk, actor=actor)
    return ApprovalPolicy.objects.get(pk=new.pk)


def policy_delete(*, actor, policy_id: int, reason: str = "") -> ApprovalPolicy:
    """Retire the current version here (kept for history) and delete it in Dots."""
    with transaction.atomic():
        policy = ApprovalPolicy.objects.get(pk=policy_id)
        if not ApprovalPolicy.objects.filter(pk=policy.pk, retired_at__isnull=True).update(retired_at=timezone.now()):
            raise ApprovalPolicyRetired(f"{policy} is already retired.")
        audit.record(
            actor=actor,
            action="approval_policy.deleted",
            target=policy,
            before={"retired": False},
            after={"retired": True},
            reason=reason,
        )
    _push(policy.pk, actor=actor)
    return ApprovalPolicy.objects.get(pk=policy.pk)


def policy_set_priority(*, actor, policy_id: int, priority: int) -> ApprovalPolicy:
    """Change the priority here and in Dots (the one thing Dots changes in place)."""
    if priority is None or priority < 0:
        raise ApprovalPolicyInvalid([Problem("priority", "Enter a priority of 0 or more.")])
    with transaction.atomic():
        policy = ApprovalPolicy.objects.select_for_update().get(pk=policy_id)
        if policy.retired_at is not None:
            raise ApprovalPolicyRetired(f"{policy} is retired: change the current version's priority.")
        if policy.priority == priority:
            return policy
        before = policy.priority
        policy.priority = priority
        policy.save(update_fields=["priority"])
        audit.record(
            actor=actor,
            action="approval_policy.reordered",
            target=policy,
            before={"priority": before},
            after={"priority": priority},
        )
    _push(policy.pk, actor=actor)
    return ApprovalPolicy.objects.get(pk=policy.pk)


def policy_move(*, actor, policy_id: int, direction: int) -> list[ApprovalPolicy]:
    """Move a current policy one place earlier (-1) or later (+1) in the order Dots tries them.

    Swaps priorities with the neighbour; when they share a priority, the whole list is
    renumbered 10, 20, 30... so the order is explicit. Returns the policies whose priority changed.
    """
    ordered = list(current_policies())
    index = next((i for i, p in enumerate(ordered) if p.pk == policy_id), None)
    if index is None:
        raise ApprovalPolicyRetired(f"Approval policy #{policy_id} is not a current policy.")
    other = index + direction
    if not 0 <= other < len(ordered):
        raise InvalidMove(f"{ordered[index]} is already {'first' if direction < 0 else 'last'}.")
    if ordered[index].priority != ordered[other].priority:
        wanted = {ordered[index].pk: ordered[other].priority, ordered[other].pk: ordered[index].priority}
    else:
        ordered[index], ordered[other] = ordered[other], ordered[index]
        wanted = {p.pk: (i + 1) * 10 for i, p in enumerate(ordered)}
    changed = []
    for policy in ordered:
        if policy.pk in wanted and wanted[policy.pk] != policy.priority:
            changed.append(policy_set_priority(actor=actor, policy_id=policy.pk, priority=wanted[policy.pk]))
    return changed


class InvalidMove(DomainError):
    code = "approval-policy-cannot-move"


# --- policies: Dots ----------------------------------------------------------------------------------------------


def dots_payable_conditions(policy: ApprovalPolicy, vendor: Vendor | None = None) -> list[dict]:
    """The conditions of the Dots policy for `vendor` (None: the version's one vendor, if any)."""
    conditions = []
    if policy.amount_comparator and policy.amount_cents is not None:
        conditions.append({"type": "amount", "comparator": policy.amount_comparator, "value": policy.amount_cents})
    vendors = [vendor] if vendor is not None else list(policy.vendors.order_by("pk"))
    for one in vendors:
        conditions.append({"type": "vendor_id", "value": one.dots_id})
    return conditions or [dict(MATCH_EVERYTHING)]


def dots_approval_conditions(policy: ApprovalPolicy) -> list[dict]:
    return [
        {
            "approver_list": sorted(a.dots_user_id for a in step.approvers.all()),
            "num_approvals_required": step.num_approvals_required,
        }
        for step in policy.steps.all()
    ]


def _record_dots(policy_id: int, *, error: str = "", **fields) -> None:
    ApprovalPolicy.objects.filter(pk=policy_id).update(
        last_dots_error=error, last_dots_attempt_at=timezone.now(), **fields
    )


@dataclass
class _Copy:
    """One Dots policy of a version: the version's own row (one vendor or none) or a copy row."""

    model: type
    pk: int
    vendor: Vendor | None  # None: the version's one vendor, if any
    dots_id: str | None
    last_dots_attempt_at: dt.datetime | None

    def rows(self):
        return self.model.objects.filter(pk=self.pk)

    @property
    def is_row(self) -> bool:
        return self.model is ApprovalPolicyDotsCopy

    def label(self, policy: ApprovalPolicy) -> str:
        return f"“{policy.description}”" + (f" for {self.vendor.name}" if self.is_row else "")


def _copies(policy: ApprovalPolicy) -> list[_Copy]:
    rows = list(
        ApprovalPolicyDotsCopy.objects.filter(policy=policy).select_related("vendor").order_by("vendor__name", "pk")
    )
    if rows:
        return [_Copy(ApprovalPolicyDotsCopy, r.pk, r.vendor, r.dots_id, r.last_dots_attempt_at) for r in rows]
    return [_Copy(ApprovalPolicy, policy.pk, None, policy.dots_id, policy.last_dots_attempt_at)]


def _known_dots_ids() -> set[str]:
    return set(ApprovalPolicy.objects.exclude(dots_id=None).values_list("dots_id", flat=True)) | set(
        ApprovalPolicyDotsCopy.objects.exclude(dots_id=None).values_list("dots_id", flat=True)
    )


def _find_in_dots(policy: ApprovalPolicy, copy: _Copy) -> str | None:
    """After an attempt whose outcome we did not learn: the Dots policy it may have created
    (same description and conditions, not the Dots copy of another local version or vendor)."""
    with dots_call("list the approval policies"):
        remote = client().list_approval_policies()
    known = _known_dots_ids()
    payable_conditions = dots_payable_conditions(policy, copy.vendor)
    approvals = dots_approval_conditions(policy)
    for item in remote:
        if item.id in known or (item.description or "") != policy.description:
            continue
        theirs = [
            {k: v for k, v in c.items() if not (c.get("type") == "vendor_id" and k == "comparator")}
            for c in item.payable_conditions
        ]
        their_steps = [
            {
                "approver_list": sorted(a["id"] if isinstance(a, dict) else a for a in c["approver_list"]),
                "num_approvals_required": c["num_approvals_required"],
            }
            for c in item.approval_conditions
        ]
        if theirs == payable_conditions and their_steps == approvals:
            return item.id
    return None


def _create_copy(policy: ApprovalPolicy, copy: _Copy) -> None:
    """Create one Dots policy of this version, once: raises the gateway's DotsCallError."""
    # Claim the attempt in one conditional UPDATE, so a double click or two people sending at
    # once create one Dots policy, not two. An attempt is in flight while it has no id, no
    # error and is younger than the lease; after the lease (a worker died mid-call) the next
    # attempt first looks for what the lost one may have created.
    now = timezone.now()
    free = Q(last_dots_attempt_at__isnull=True) | ~Q(last_dots_error="") | Q(last_dots_attempt_at__lt=now - SEND_LEASE)
    if not copy.rows().filter(free, dots_id__isnull=True).update(last_dots_attempt_at=now, last_dots_error=""):
        raise PolicyBeingSent(f"{policy} is being sent to Dots by someone else: reload the page in a moment.")
    found = _find_in_dots(policy, copy) if copy.last_dots_attempt_at else None
    if found:
        copy.rows().update(dots_id=found)
        copy.dots_id = found
        return
    with dots_call(f"create approval policy {copy.label(policy)}"):
        created = client().create_approval_policy(
            description=policy.description,
            payable_conditions=dots_payable_conditions(policy, copy.vendor),
            approval_conditions=dots_approval_conditions(policy),
        )
    # Record the id at once: a later failure must not make us create it twice.
    copy.rows().update(dots_id=created.id, last_dots_error="", last_dots_attempt_at=timezone.now())
    copy.dots_id = created.id


def _dots_priorities() -> dict[str, int]:
    """The Dots priority each current Dots policy should have: the local order (priority, then
    age), each copy max(its version's priority, previous + 1), so a version's copies are
    consecutive and Dots tries them in the local order."""
    wanted: dict[str, int] = {}
    last = -1
    for policy in ApprovalPolicy.objects.filter(retired_at__isnull=True).order_by("priority", "id"):
        for copy in _copies(policy):
            last = max(policy.priority, last + 1)
            if copy.dots_id:
                wanted[copy.dots_id] = last
    return wanted


def _align_priorities() -> None:
    wanted = _dots_priorities()
    with dots_call("list the approval policies"):
        remote = {item.id: item.priority for item in client().list_approval_policies()}
    for dots_id, priority in wanted.items():
        if dots_id in remote and remote[dots_id] != priority:
            with dots_call("set the priority of an approval policy"):
                client().update_approval_policy_priority(approval_policy_id=dots_id, priority=priority)


def _delete_in_dots(policy: ApprovalPolicy, dots_id: str, what: str) -> None:
    try:
        with dots_call(f"delete approval policy {what}"):
            client().delete_approval_policy(approval_policy_id=dots_id)
    except DotsRejected as exc:
        if getattr(exc.dots_error, "status", None) != 404:  # already gone counts as deleted
            raise


def _send(policy: ApprovalPolicy, *, actor) -> None:
    """Bring Dots in line with this version (every copy); raises the gateway's DotsCallError
    (the first one, after trying every copy)."""
    failures: list[DotsCallError] = []
    if policy.retired_at is not None:
        for copy in _copies(policy):
            if not copy.is_row:
                if awaits_deletion_in_dots(policy):
                    _delete_in_dots(policy, copy.dots_id, copy.label(policy))
                continue
            row = ApprovalPolicyDotsCopy.objects.get(pk=copy.pk)
            if not _copy_awaits_deletion(row):
                continue
            try:
                _delete_in_dots(policy, row.dots_id, copy.label(policy))
            except DotsCallError as exc:
                copy.rows().update(last_dots_error=str(exc), last_dots_attempt_at=timezone.now())
                failures.append(exc)
            else:
                copy.rows().update(
                    last_dots_error="", last_dots_attempt_at=timezone.now(), deleted_in_dots_at=timezone.now()
                )
        if failures:
            raise failures[0]
        return
    for copy in _copies(policy):
        if copy.dots_id:
            continue
        try:
            _create_copy(policy, copy)
        except DotsCallError as exc:
            if not copy.is_row:  # the version's own row records its outcome in _push_one
                raise
            copy.rows().update(last_dots_error=str(exc), last_dots_attempt_at=timezone.now())
            failures.append(exc)
    try:
        _align_priorities()  # the copies that were created take their places even when another failed
    except DotsCallError as exc:
        failures.append(exc)
    if failures:
        raise failures[0]
    # An edit: now that the new version is in Dots, the versions it replaced go.
    for older in (
        ApprovalPolicy.objects.filter(lineage=policy.lineage, retired_at__isnull=False)
        .exclude(pk=policy.pk)
        .prefetch_related("dots_copies__vendor")
    ):
        if awaits_deletion_in_dots(older):
            _push_one(older, actor=actor)


def _dots_ids(policy: ApprovalPolicy):
    """The version's Dots id, or its copies' ids by vendor name (for the audit)."""
    copies = _copy_rows(policy)
    if not copies:
        return policy.dots_id
    return {c.vendor.name: c.dots_id for c in copies}


def _push_one(policy: ApprovalPolicy, *, actor) -> None:
    before, before_id = dots_state(policy), _dots_ids(policy)
    failure = None
    try:
        _send(policy, actor=actor)
    except DotsCallError as exc:
        failure = exc
    with transaction.atomic():
        _record_dots(policy.pk, error=str(failure) if failure else "")
        policy.refresh_from_db()
        after = dots_state(policy)
        if after != before or failure:
            audit.record(
                actor=actor,
                action="approval_policy.dots_error" if failure else "approval_policy.dots_synced",
                target=policy,
                before={"dots": before, "dots_id": before_id},
                after={"dots": after, "dots_id": _dots_ids(policy)},
                reason=str(failure or ""),
            )
    if failure:
        raise failure


def _push(policy_id: int, *, actor) -> None:
    policy = ApprovalPolicy.objects.get(pk=policy_id)
    try:
        _push_one(policy, actor=actor)
    except DotsCallError as exc:
        policy.refresh_from_db()
        if isinstance(exc, DotsOutcomeUnknownError):
            hint = "Dots may or may not have applied it: “Send to Dots again” checks before sending again."
        else:
            hint = "Use “Send to Dots again” (an action on the list) to try again."
        where = "Retired here" if policy.retired_at else f"Saved here as version {policy.version}"
        raise PolicyNotInDots(
            f"{where}, but Dots does not reflect it yet: {exc} {hint}", policy=policy, dots_error=exc
        ) from exc


def policy_push(*, actor, policy_id: int) -> ApprovalPolicy:
    """Retry whatever Dots is missing for this version: create it, set its priority, delete the
    versions it replaced (or, for a retired version, delete it). Safe to run twice."""
    _push(policy_id, actor=actor)
    return ApprovalPolicy.objects.get(pk=policy_id)
