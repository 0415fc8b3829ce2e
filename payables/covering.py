"""An approver away: who covers, and what an Administrator can do when Dots does not list the backup.

Dots lets only an approver listed in the step approve. A backup who is listed approves as
themselves (the approve service's audit says "approved for Avery Approver, away"). A backup who is
not listed is never let approve in the absent person's name: the payable's page says so, and an
Administrator is offered a new version of the policy with the backup added to that step
(`policy_add_backup`, through the ordinary versioning of payables.policies).

What a new version changes: Dots copies a policy's steps onto a payable when it is submitted (the
emulator keeps them on the payable, `_steps`), and the approve service checks the version the payable
was submitted under. A new version therefore applies to payables submitted from then on; one already
waiting keeps its steps (approved by an approver still listed, or rejected and entered again).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.contrib.auth.models import User

from core import audit
from core.people import full_name
from core.permissions import require_perm
from notifications import selectors as notification_selectors
from notifications.models import short_date
from payables import policies, selectors
from payables.errors import ApprovalPolicyInvalid, InvalidTransition, PolicyNotInDots, Problem
from payables.models import ApprovalPolicy, Approver, Payable


@dataclass(frozen=True)
class Away:
    """An approver the current step waits for, away today, and their backup."""

    absent: User
    until: dt.date
    backup: User
    backup_listed: bool  # the backup may approve this step in Dots
    step_number: int
    policy: ApprovalPolicy | None  # the version the payable was submitted under (None: Dots' default)

    @property
    def text(self) -> str:
        who = f"{full_name(self.absent)} is away until {short_date(self.until)}; {full_name(self.backup)} covers"
        if self.backup_listed:
            return f"{who} and can approve step {self.step_number} as themselves."
        return f"{who} but is not an approver of step {self.step_number}, so cannot approve it in Dots."


def away_approvers(payable: Payable, cache: selectors.StepCache | None = None) -> list[Away]:
    """The approvers of the current step who are away today, each with their backup."""
    cache = cache or selectors.StepCache()
    index = selectors.current_step_index(payable)
    if index is None:
        return []
    waiting = selectors.approvers_waiting(payable, cache)
    absences = notification_selectors.absences_on([a.user_id for a in waiting if a.user_id])
    found = []
    for approver in waiting:
        absence = absences.get(approver.user_id)
        if absence is None:
            continue
        listed, _why = selectors.user_may_approve_current_step(payable, absence.backup, cache)
        listed = listed and payable.created_by_id != absence.backup_id
        found.append(
            Away(
                absent=absence.user,
                until=absence.ends_on,
                backup=absence.backup,
                backup_listed=listed,
                step_number=index + 1,
                policy=payable.approval_policy,
            )
        )
    return found


def not_listed_text(payable: Payable, user: User, cache: selectors.StepCache | None = None) -> str:
    """Why `user` (a backup) cannot approve this payable themselves, and what can be done."""
    if payable.created_by_id == user.pk:
        return "You created it, so someone else must approve it."
    may, why = selectors.user_may_approve_current_step(payable, user, cache)
    if may:
        return ""
    return (
        f"You cannot approve it in Dots: {why} An Administrator can add you to the approval policy "
        "from the payable's page (for payables submitted from then on)."
    )


def current_version(policy: ApprovalPolicy) -> ApprovalPolicy | None:
    return ApprovalPolicy.objects.filter(lineage=policy.lineage, retired_at__isnull=True).first()


def policy_add_backup(*, actor: User, payable_id: int, absent_user_id: int) -> ApprovalPolicy:
    """A new version of the payable's policy with the absent approver's backup added to the step the
    payable waits at. Never approves anything, for anyone. Audited on the payable and (as every new
    version is) on the policy."""
    require_perm(actor, "payables.change_approvalpolicy", "change approval policies")
    payable = Payable.objects.select_related("approval_policy").get(pk=payable_id)
    away = next((a for a in away_approvers(payable) if a.absent.pk == absent_user_id), None)
    if away is None:
        raise InvalidTransition(f"{payable} does not wait for that person, or they are not away today.")
    if away.backup_listed:
        raise InvalidTransition(f"{full_name(away.backup)} is already an approver of step {away.step_number}.")
    if away.policy is None:
        raise InvalidTransition(
            f"{payable} waits for Dots' default approvers (no policy applies): make {full_name(away.backup)} a "
            "Dots admin or AP approver in Dots, or create a policy."
        )
    backup_approver = Approver.objects.filter(user=away.backup).first()
    if backup_approver is None:
        raise InvalidTransition(
            f"{full_name(away.backup)} is not linked to a Dots approver, so no policy can name them: "
            "link them under Approvers first."
        )
    policy = current_version(away.policy)
    if policy is None:
        raise InvalidTransition(f"The policy “{away.policy}” has been deleted: there is no version to change.")
    steps = list(policy.steps.prefetch_related("approvers"))
    index = away.step_number - 1
    if index >= len(steps):
        raise ApprovalPolicyInvalid([Problem("steps", f"The current version has no step {away.step_number}.")])
    new_steps = [
        (
            step.num_approvals_required,
            [a.pk for a in step.approvers.all()] + ([backup_approver.pk] if i == index else []),
        )
        for i, step in enumerate(steps)
    ]
    reason = (
        f"{full_name(away.absent)} is away until {short_date(away.until)}; "
        f"{full_name(away.backup)} covers (new version of “{policy.description}”)"
    )

    def record() -> None:
        audit.record(
            actor=actor,
            action="approval_policy.backup_added",
            target=payable,
            changes={f"step_{away.step_number}": {"before": None, "after": f"adds {full_name(away.backup)}"}},
            reason=reason,
        )

    try:
        new = policies.policy_update(
            actor=actor,
            policy_id=policy.pk,
            description=policy.description,
            priority=policy.priority,
            amount_comparator=policy.amount_comparator,
            amount_cents=policy.amount_cents,
            vendor_ids=list(policy.vendors.values_list("pk", flat=True)),
            steps=new_steps,
        )
    except PolicyNotInDots:
        record()  # the new version is saved here; Dots gets it when it is sent again
        raise
    record()
    return new
