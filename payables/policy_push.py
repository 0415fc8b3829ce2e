"""Bringing Dots in line with a local approval policy version (NOTES.md decision 7).

How a version maps to Dots policies:
- `payable_conditions`: the amount condition (`{"type": "amount", "comparator", "value": cents}`)
  and the vendor condition (`{"type": "vendor_id", "value": <the vendor's Dots id>}`).
  Dots applies a policy only when *all* its conditions hold, so one Dots policy cannot say
  "the vendor is one of A or B". Every version is therefore kept in Dots as *copies*
  (`ApprovalPolicyDotsCopy` rows): one per vendor it names (that vendor's condition, the same
  amount condition and steps), or one for a version naming no vendor. A policy with no
  condition at all is sent as "amount >= 0", which every payable meets (Dots wants one).
- `approval_conditions`: one per step, in order, with the approvers' Dots integer user ids.
- `priority`: Dots gives a new policy the lowest priority; after each change the Dots priorities
  of all current copies are realigned (`_dots_priorities`): walking the local order (priority,
  then age), each copy gets max(its policy's priority, previous + 1), so the copies of one
  version sit on consecutive Dots priorities and Dots tries them in the local order.

The Dots calls run outside any transaction (the local change is committed first by
payables.policies). A failed call leaves `last_dots_error` on the copy it concerns and on the
version; `policy_push` retries. A retired version's copy may still be in Dots while it has a
`dots_id` and no `deleted_in_dots_at` (`selectors.awaits_deletion_in_dots`).
"""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from core import audit
from core.dots_gateway import client, dots_call
from core.errors import DotsCallError, DotsOutcomeUnknownError, DotsRejected
from core.permissions import require_perm
from core.send_once import create_once, find_in_dots
from payables.errors import PolicyBeingSent, PolicyNotInDots
from payables.models import ApprovalPolicy, ApprovalPolicyDotsCopy
from payables.selectors import awaits_deletion_in_dots, copy_in_dots, dots_copies, dots_state

# Sent to Dots for a policy without conditions: Dots needs one, and every amount is >= 0.
MATCH_EVERYTHING = {"type": "amount", "comparator": ">=", "value": 0}
# How long a creation in Dots counts as under way (well over the client's timeout and retries).
SEND_LEASE = dt.timedelta(minutes=2)


def policy_push(*, actor: User, policy_id: int) -> ApprovalPolicy:
    """Retry whatever Dots is missing for this version: create it, set its priority, delete the
    versions it replaced (or, for a retired version, delete it). Safe to run twice."""
    require_perm(actor, "payables.change_approvalpolicy", "send approval policies to Dots")
    push(policy_id, actor=actor)
    return ApprovalPolicy.objects.get(pk=policy_id)


def push(policy_id: int, *, actor: User) -> None:
    """Bring Dots in line with this version; PolicyNotInDots when Dots does not reflect it yet.

    The services of payables.policies call it after their local change is committed (they
    checked the actor's permission for what they did).
    """
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


def dots_payable_conditions(policy: ApprovalPolicy, vendor=None) -> list[dict]:
    """The conditions of the Dots policy for `vendor` (None: the copy for any vendor)."""
    conditions = []
    if policy.amount_comparator and policy.amount_cents is not None:
        conditions.append({"type": "amount", "comparator": policy.amount_comparator, "value": policy.amount_cents})
    if vendor is not None:
        conditions.append({"type": "vendor_id", "value": vendor.dots_id})
    return conditions or [dict(MATCH_EVERYTHING)]


def dots_approval_conditions(policy: ApprovalPolicy) -> list[dict]:
    return [
        {
            "approver_list": sorted(a.dots_user_id for a in step.approvers.all()),
            "num_approvals_required": step.num_approvals_required,
        }
        for step in policy.steps.all()
    ]


def _label(policy: ApprovalPolicy, copy: ApprovalPolicyDotsCopy, *, several: bool) -> str:
    return f"“{policy.description}”" + (f" for {copy.vendor.name}" if several and copy.vendor_id else "")


def _known_dots_ids() -> set[str]:
    return set(ApprovalPolicyDotsCopy.objects.exclude(dots_id=None).values_list("dots_id", flat=True))


def _is_this_copy(item, policy: ApprovalPolicy, copy: ApprovalPolicyDotsCopy) -> bool:
    """Whether Dots' policy `item` is what creating `copy` makes (same description and conditions)."""
    if (item.description or "") != policy.description:
        return False
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
    return theirs == dots_payable_conditions(policy, copy.vendor) and their_steps == dots_approval_conditions(policy)


def _create_copy(policy: ApprovalPolicy, copy: ApprovalPolicyDotsCopy, *, several: bool) -> None:
    """Create one Dots policy of this version, once: raises the gateway's DotsCallError."""
    # Claim the attempt in one conditional UPDATE, so a double click or two people sending at
    # once create one Dots policy, not two. An attempt is in flight while it has no id, no
    # error and is younger than the lease; after the lease (a worker died mid-call) the next
    # attempt first looks for what the lost one may have created.
    rows = ApprovalPolicyDotsCopy.objects.filter(pk=copy.pk)
    now = timezone.now()
    free = Q(last_dots_attempt_at__isnull=True) | ~Q(last_dots_error="") | Q(last_dots_attempt_at__lt=now - SEND_LEASE)
    if not rows.filter(free, dots_id__isnull=True).update(last_dots_attempt_at=now, last_dots_error=""):
        raise PolicyBeingSent(f"{policy} is being sent to Dots by someone else: reload the page in a moment.")
    label = _label(policy, copy, several=several)
    made, _found = create_once(
        create=lambda: client().create_approval_policy(
            description=policy.description,
            payable_conditions=dots_payable_conditions(policy, copy.vendor),
            approval_conditions=dots_approval_conditions(policy),
        ),
        # Not the Dots copy of another local version or vendor.
        find=lambda: find_in_dots(
            client().list_approval_policies,
            matches=lambda item: _is_this_copy(item, policy, copy),
            what=f"approval policy {label}",
            taken=_known_dots_ids(),
        ),
        what=f"create approval policy {label}",
        look_first=copy.last_dots_attempt_at is not None,
    )
    # Record the id at once: a later failure must not make us create it twice.
    rows.update(dots_id=made.id, last_dots_error="", last_dots_attempt_at=timezone.now())
    copy.dots_id = made.id


def _dots_priorities() -> dict[str, int]:
    """The Dots priority each current Dots policy should have: the local order (priority, then
    age), each copy max(its version's priority, previous + 1), so a version's copies are
    consecutive and Dots tries them in the local order."""
    wanted: dict[str, int] = {}
    last = -1
    versions = ApprovalPolicy.objects.filter(retired_at__isnull=True).order_by("priority", "id")
    for policy in versions.prefetch_related("dots_copies__vendor"):
        for copy in dots_copies(policy):
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


def _delete_in_dots(dots_id: str, what: str) -> None:
    try:
        with dots_call(f"delete approval policy {what}"):
            client().delete_approval_policy(approval_policy_id=dots_id)
    except DotsRejected as exc:
        if getattr(exc.dots_error, "status", None) != 404:  # already gone counts as deleted
            raise


def _record_copy(copy: ApprovalPolicyDotsCopy, *, error: str = "", **fields) -> None:
    ApprovalPolicyDotsCopy.objects.filter(pk=copy.pk).update(
        last_dots_error=error, last_dots_attempt_at=timezone.now(), **fields
    )


def _send(policy: ApprovalPolicy, *, actor: User) -> None:
    """Bring Dots in line with this version (every copy); raises the gateway's DotsCallError
    (the first one, after trying every copy)."""
    copies = dots_copies(policy)
    several = len(copies) > 1
    failures: list[DotsCallError] = []
    if policy.retired_at is not None:
        for copy in copies:
            if not copy_in_dots(copy):
                continue
            try:
                _delete_in_dots(copy.dots_id, _label(policy, copy, several=several))
            except DotsCallError as exc:
                _record_copy(copy, error=str(exc))
                failures.append(exc)
            else:
                _record_copy(copy, deleted_in_dots_at=timezone.now())
        if failures:
            raise failures[0]
        return
    created = False
    for copy in copies:
        if copy.dots_id:
            continue
        try:
            _create_copy(policy, copy, several=several)
        except DotsCallError as exc:
            _record_copy(copy, error=str(exc))
            failures.append(exc)
        else:
            created = True
    if created or not failures:
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
    """For the audit: the Dots id of a version kept as one Dots policy, else its copies' ids by vendor."""
    copies = dots_copies(policy)
    if len(copies) == 1:
        return copies[0].dots_id
    return {c.vendor.name: c.dots_id for c in copies}


def _push_one(policy: ApprovalPolicy, *, actor: User) -> None:
    before, before_id = dots_state(policy), _dots_ids(policy)
    failure = None
    try:
        _send(policy, actor=actor)
    except DotsCallError as exc:
        failure = exc
    with transaction.atomic():
        ApprovalPolicy.objects.filter(pk=policy.pk).update(
            last_dots_error=str(failure) if failure else "", last_dots_attempt_at=timezone.now()
        )
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
