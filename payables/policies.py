"""Approval policies here: what a policy must be to be usable, and its versions.

Dots can only change a policy's priority, so an edit makes a new local version (same
`lineage`) and retires the old one here (`retired_at`, kept for history); a delete retires
the current version. Each service checks the person's permission, commits the local change
(with its audit event), then brings Dots in line (payables.policy_push), outside any
transaction. A failed Dots call raises PolicyNotInDots: saved here, not yet in Dots.

The checks (`policy_problems` and its two halves) run without calling Dots, so the admin's
forms show the same refusals, naming the field or the step.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from core import audit
from core.people import full_name
from core.permissions import require_perm
from payables import selectors
from payables.errors import ApprovalPolicyInvalid, ApprovalPolicyRetired, InvalidMove, Problem
from payables.models import ApprovalPolicy, ApprovalPolicyDotsCopy, ApprovalStep, Approver
from payables.policy_push import push
from payables.selectors import amount_condition_text
from vendors.models import Vendor


@dataclass(frozen=True)
class _Spec:
    """A policy's content, checked: what a version is made of."""

    description: str
    priority: int
    amount_comparator: str
    amount_cents: int | None
    vendors: tuple[Vendor, ...]
    steps: tuple[tuple[int, tuple[Approver, ...]], ...]
    # Told when a payable under the policy waits too long for approval (payables.reminders); None: the Managers.
    escalation_contact: User | None = None


class _Keep:
    """The default of `escalation_contact_id` in policy_update: keep the current version's contact."""


KEEP = _Keep()


def _contact(escalation_contact_id: int | None) -> User | None:
    if escalation_contact_id is None:
        return None
    from django.contrib.auth import get_user_model

    return get_user_model().objects.get(pk=escalation_contact_id)


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
        escalation_contact=policy.escalation_contact,
    )


def _snapshot(spec: _Spec) -> dict:
    """Field by field, one key per step, so the audit diff says which step changed."""
    data = {
        "description": spec.description,
        "priority": spec.priority,
        "amount_condition": amount_condition_text(spec.amount_comparator, spec.amount_cents),
        "vendors": [v.name for v in spec.vendors] or "any vendor",
        "steps": len(spec.steps),
        "escalation_contact": full_name(spec.escalation_contact, nobody="the Managers"),
    }
    for number, (required, approvers) in enumerate(spec.steps, start=1):
        names = ", ".join(f"{a.first_name} {a.last_name} (#{a.dots_user_id})".strip() for a in approvers)
        data[f"step_{number}"] = f"{required} of: {names}"
    return data


# --- versions ---------------------------------------------------------------------------------------------


def _save_version(spec: _Spec, *, actor: User, lineage=None, version: int = 1) -> ApprovalPolicy:
    policy = ApprovalPolicy(
        description=spec.description,
        priority=spec.priority,
        amount_comparator=spec.amount_comparator,
        amount_cents=spec.amount_cents,
        version=version,
        created_by=actor,
        escalation_contact=spec.escalation_contact,
    )
    if lineage is not None:
        policy.lineage = lineage
    policy.save()
    policy.vendors.set(spec.vendors)
    # One Dots policy per vendor, or one for any vendor (payables.policy_push sends them).
    ApprovalPolicyDotsCopy.objects.bulk_create(
        ApprovalPolicyDotsCopy(policy=policy, vendor=v) for v in (spec.vendors or (None,))
    )
    for order, (required, approvers) in enumerate(spec.steps, start=1):
        step = ApprovalStep.objects.create(policy=policy, order=order, num_approvals_required=required)
        step.approvers.set(approvers)
    return policy


def policy_create(
    *,
    actor: User,
    description: str,
    priority: int,
    amount_comparator: str = "",
    amount_cents: int | None = None,
    vendor_ids: Iterable[int] = (),
    steps: Sequence[tuple[int, Iterable[int]]],
    escalation_contact_id: int | None = None,
) -> ApprovalPolicy:
    """Save a policy here, then create it in Dots. `steps`: (approvals required, local Approver pks)
    in order. Raises ApprovalPolicyInvalid before anything is saved or sent; PolicyNotInDots
    when saved here but Dots failed (retry with policy_push)."""
    require_perm(actor, "payables.add_approvalpolicy", "create approval policies")
    spec = _checked(
        description=description,
        priority=priority,
        amount_comparator=amount_comparator,
        amount_cents=amount_cents,
        vendor_ids=vendor_ids,
        steps=steps,
    )
    spec = dataclasses.replace(spec, escalation_contact=_contact(escalation_contact_id))
    with transaction.atomic():
        policy = _save_version(spec, actor=actor)
        audit.record(actor=actor, action="approval_policy.created", target=policy, after=_snapshot(spec))
    push(policy.pk, actor=actor)
    return ApprovalPolicy.objects.get(pk=policy.pk)


def policy_update(
    *,
    actor: User,
    policy_id: int,
    description: str,
    priority: int,
    amount_comparator: str = "",
    amount_cents: int | None = None,
    vendor_ids: Iterable[int] = (),
    steps: Sequence[tuple[int, Iterable[int]]],
    escalation_contact_id: int | None | _Keep = KEEP,
) -> ApprovalPolicy:
    """A new version here and in Dots; the old one is retired here and deleted in Dots.
    Returns the current version (the same one when only the priority, or nothing, changed)."""
    require_perm(actor, "payables.change_approvalpolicy", "change approval policies")
    spec = _checked(
        description=description,
        priority=priority,
        amount_comparator=amount_comparator,
        amount_cents=amount_cents,
        vendor_ids=vendor_ids,
        steps=steps,
    )
    old = ApprovalPolicy.objects.get(pk=policy_id)
    contact = old.escalation_contact if isinstance(escalation_contact_id, _Keep) else _contact(escalation_contact_id)
    spec = dataclasses.replace(spec, escalation_contact=contact)
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
    push(new.pk, actor=actor)
    return ApprovalPolicy.objects.get(pk=new.pk)


def policy_delete(*, actor: User, policy_id: int, reason: str = "") -> ApprovalPolicy:
    """Retire the current version here (kept for history) and delete it in Dots."""
    require_perm(actor, "payables.delete_approvalpolicy", "delete approval policies")
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
    push(policy.pk, actor=actor)
    return ApprovalPolicy.objects.get(pk=policy.pk)


def policy_set_priority(*, actor: User, policy_id: int, priority: int) -> ApprovalPolicy:
    """Change the priority here and in Dots (the one thing Dots changes in place)."""
    require_perm(actor, "payables.change_approvalpolicy", "change approval policies")
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
    push(policy.pk, actor=actor)
    return ApprovalPolicy.objects.get(pk=policy.pk)


def policy_move(*, actor: User, policy_id: int, direction: int) -> list[ApprovalPolicy]:
    """Move a current policy one place earlier (-1) or later (+1) in the order Dots tries them.

    Swaps priorities with the neighbour; when they share a priority, the whole list is
    renumbered 10, 20, 30... so the order is explicit. Returns the policies whose priority changed.
    """
    require_perm(actor, "payables.change_approvalpolicy", "change approval policies")
    ordered = list(selectors.current_policies())
    index = next((i for i, p in enumerate(ordered) if p.pk == policy_id), None)
    if index is None:
        raise ApprovalPolicyRetired(f"Approval policy #{policy_id} is not a current policy.")
    try:
        wanted = move_plan([(p.pk, p.priority) for p in ordered], policy_id=policy_id, direction=direction)
    except IndexError:
        raise InvalidMove(f"{ordered[index]} is already {'first' if direction < 0 else 'last'}.") from None
    changed = []
    for policy in ordered:
        if policy.pk in wanted and wanted[policy.pk] != policy.priority:
            changed.append(policy_set_priority(actor=actor, policy_id=policy.pk, priority=wanted[policy.pk]))
    return changed


def move_plan(ordered: Sequence[tuple[int, int]], *, policy_id: int, direction: int) -> dict[int, int]:
    """The priorities (by policy id) after moving `policy_id` one place earlier (-1) or later (+1) in
    `ordered`, (id, priority) pairs in the order Dots tries them: swap priorities with the neighbour;
    when they share a priority, renumber the whole list 10, 20, 30... so the order is explicit.
    Raises IndexError when it is already first or last (KeyError: not in the list)."""
    index = next((i for i, (pk, _) in enumerate(ordered) if pk == policy_id), None)
    if index is None:
        raise KeyError(policy_id)
    other = index + direction
    if not 0 <= other < len(ordered):
        raise IndexError(policy_id)
    (pk, priority), (other_pk, other_priority) = ordered[index], ordered[other]
    if priority != other_priority:
        return {pk: other_priority, other_pk: priority}
    order = [p for p, _ in ordered]
    order[index], order[other] = order[other], order[index]
    return {p: (i + 1) * 10 for i, p in enumerate(order)}


def policy_confirm_unsatisfiable(*, actor: User, policy_id: int, reason: str, payables: Sequence[str]) -> None:
    """Record that `actor` saved a policy change leaving these open payables without enough approvers, and why."""
    require_perm(actor, "payables.change_approvalpolicy", "change approval policies")
    policy = ApprovalPolicy.objects.get(pk=policy_id)
    audit.record(
        actor=actor,
        action="approval_policy.unsatisfiable_confirmed",
        target=policy,
        after={"payables_without_enough_approvers": list(payables)},
        reason=reason,
    )
