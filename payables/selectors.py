"""Reads shared by the payables admin, services and tasks: payables, and the approval policies that route them."""

import datetime as dt
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth.models import User
from django.db.models import Q
from django.utils import timezone

from core.errors import DotsUnavailable
from core.money import format_cents
from core.people import full_name
from payables.errors import NotReadyForDots
from payables.models import ApprovalPolicy, ApprovalPolicyDotsCopy, ApprovalStep, Approver, Payable, PayableApproval
from payables.models.payable import bill_number_search_key

DUPLICATE_AMOUNT_WINDOW = dt.timedelta(days=7)
_CLOSED = (Payable.Status.CANCELED, Payable.Status.REJECTED)


@dataclass(frozen=True)
class DuplicateMatch:
    other: Payable
    reason: str


def find_duplicates(payable: Payable) -> list[DuplicateMatch]:
    """Other live payables that look like the same bill, each with why."""
    others = Payable.objects.exclude(pk=payable.pk).exclude(status__in=_CLOSED).select_related("vendor")
    matches: dict[int, DuplicateMatch] = {}
    for other in others.filter(vendor_id=payable.vendor_id, bill_number_key=payable.bill_number_key)[:5]:
        matches[other.pk] = DuplicateMatch(other, f"same vendor and bill number ({other.bill_number})")
    created = payable.created_at or timezone.now()
    window = others.filter(
        vendor_id=payable.vendor_id,
        total_cents=payable.total_cents,
        created_at__gte=created - DUPLICATE_AMOUNT_WINDOW,
        created_at__lte=created + DUPLICATE_AMOUNT_WINDOW,
    )
    for other in window[:5]:
        matches.setdefault(
            other.pk, DuplicateMatch(other, f"same vendor and amount within 7 days ({other.bill_number})")
        )
    if payable.file_sha256:
        for other in others.filter(file_sha256=payable.file_sha256)[:5]:
            matches.setdefault(other.pk, DuplicateMatch(other, f"the same PDF file ({other.bill_number})"))
    return list(matches.values())


def acting_dots_user_id(user, *, own_only: bool = False) -> int | None:
    """The Dots dashboard user id that acts for `user`.

    Approvals must be the approver's own id (Dots checks step membership by it).
    Other actions fall back to DOTS_DEFAULT_ACTING_USER_ID when the user has no link.
    """
    approver = Approver.objects.filter(user=user).only("dots_user_id").first()
    if approver is not None:
        return approver.dots_user_id
    if own_only:
        return None
    return settings.DOTS_DEFAULT_ACTING_USER_ID


def required_acting_dots_user_id(actor: User) -> int:
    """The Dots dashboard user acting for `actor` in create, submit, cancel and pay, or a clear refusal."""
    acting_user_id = acting_dots_user_id(actor)
    if acting_user_id is None:
        raise NotReadyForDots(
            "Your account is not linked to a Dots dashboard user and no default acting user "
            "is configured (DOTS_DEFAULT_ACTING_USER_ID)."
        )
    return acting_user_id


def app_wallet_balance_cents() -> int | None:
    """The app wallet's balance in Dots, or None when Dots does not say."""
    from core.dots_gateway import client, dots_call

    with dots_call("read the app wallet balance"):
        app_id = settings.DOTS_APP_ID
        if app_id:
            app = client().retrieve_app(app_id=app_id)
        else:
            apps = client().list_apps()
            if not apps:
                raise DotsUnavailable("Dots lists no app for these credentials, so the wallet cannot be read.")
            app = apps[0]
    return app.wallet_balance_cents


# The "waiting for my approval" filter looks at this many newest submitted payables.
WAITING_SCAN_LIMIT = 500


def waiting_for(user) -> Q:
    """Payables whose current approval step `user` may approve and has not decided yet.

    Uses the same rule as the approve service, over the newest
    submitted payables: those are few, whatever the size of the table.
    """
    if not Approver.objects.filter(user=user).exists():
        return Q(pk__in=[])
    ids = []
    cache = StepCache()
    candidates = Payable.objects.filter(status=Payable.Status.SUBMITTED).exclude(created_by=user)
    for payable in candidates.order_by("-id")[:WAITING_SCAN_LIMIT]:
        # The rule also refuses someone who already approved the current step.
        may, _why = user_may_approve_current_step(payable, user, cache)
        if may:
            ids.append(payable.pk)
    return Q(pk__in=ids)


# A vendor-name search matching more vendors than this is narrowed to the first ones by name.
SEARCH_VENDORS_LIMIT = 500
# Shorter terms are looked for at the start of a bill number only (see search()).
SEARCH_MIN_ANYWHERE = 3


def search(queryset, term: str):
    """Payables whose bill number holds `term` anywhere (as typed, or normalised as the duplicate
    check does: "inv 2002" finds INV-2002), whose vendor's name holds it, or whose external id does.

    Fast on a million payables on PostgreSQL: each condition is on one indexed column (trigram GIN
    indexes, created by the initial migration; the vendors' names are looked up first, in their small table), so the
    planner combines index scans instead of reading the table. SQLite runs the same LIKEs unindexed.
    """
    from vendors.models import Vendor

    term = term.strip()
    if not term:
        return queryset
    if len(term) < SEARCH_MIN_ANYWHERE:
        # A trigram index cannot look for one or two characters anywhere (that would read every
        # row): a short term matches the start of a bill number (btree prefix index) or a whole
        # external id.
        found = Q(bill_number__startswith=term) | Q(bill_number__startswith=term.upper()) | Q(external_id=term)
    else:
        found = Q(bill_number__icontains=term) | Q(external_id__icontains=term)
        key = bill_number_search_key(term)
        if key is not None and len(key) >= SEARCH_MIN_ANYWHERE:
            found |= Q(bill_number_key__contains=key)
    vendor_ids = list(
        Vendor.objects.filter(name__icontains=term).order_by("name").values_list("pk", flat=True)[:SEARCH_VENDORS_LIMIT]
    )
    if vendor_ids:
        found |= Q(vendor_id__in=vendor_ids)
    return queryset.filter(found)


def overdue() -> Q:
    open_states = [
        Payable.Status.CREATED,
        Payable.Status.SUBMITTED,
        Payable.Status.APPROVED,
        Payable.Status.PAYMENT_FAILED,
    ]
    return Q(status__in=open_states, due_date__lt=timezone.localdate())


# --- approval policies -------------------------------------------------------------------------------------

# Who Dots lets approve a payable that no policy covers (its dashboard roles).
DEFAULT_APPROVER_ROLES = frozenset({"admin", "ap_approver"})
NO_POLICY_REASON = "no policy matched: one approval by any approver"
_SYMBOL = {"<=": "≤", "==": "=", ">=": "≥"}


def eligible_approvers():
    """Who a policy step may name: Dots approvers linked to an active user in the Approver role
    (someone who can approve here; a clerk or a payer never could)."""
    from core import roles

    return (
        Approver.objects.filter(user__is_active=True, user__groups__name=roles.APPROVER)
        .select_related("user")
        .distinct()
    )


def amount_condition_text(comparator: str, amount_cents: int | None) -> str:
    """ ">=" and 100000 -> "$1,000.00 or more"; "" -> "any amount"."""
    if not comparator or amount_cents is None:
        return "any amount"
    money = format_cents(amount_cents)
    return {"<=": f"{money} or less", "==": f"exactly {money}", ">=": f"{money} or more"}[comparator]


def approver_label(approver: Approver) -> str:
    """The local user linked to the approver, else the Dots name."""
    if approver.user_id:
        return full_name(approver.user)
    name = f"{approver.first_name} {approver.last_name}".strip() or approver.email or f"user {approver.dots_user_id}"
    return f"{name} (Dots #{approver.dots_user_id}, not linked)"


def dots_copies(policy: ApprovalPolicy) -> list[ApprovalPolicyDotsCopy]:
    """The version's Dots policies: one per vendor it names, or one for a version naming none."""
    return sorted(policy.dots_copies.all(), key=lambda c: (c.vendor.name if c.vendor_id else "", c.pk))


def copy_in_dots(copy: ApprovalPolicyDotsCopy) -> bool:
    """Dots holds this copy: it was created there and its deletion is not confirmed."""
    return bool(copy.dots_id) and copy.deleted_in_dots_at is None


def dots_state(policy: ApprovalPolicy) -> str:
    """Where this version stands in Dots, for the admin. A version kept as one Dots policy is
    described as one; a version with one copy per vendor names the copies."""
    copies = dots_copies(policy)
    total = len(copies)
    several = total > 1
    if policy.retired_at is not None:
        left = [c for c in copies if copy_in_dots(c)]
        if not left:
            deleted = sum(1 for c in copies if c.deleted_in_dots_at)
            if several and deleted:
                return f"Retired (not in Dots; its {deleted} cop{'y' if deleted == 1 else 'ies'} deleted)"
            return "Retired (not in Dots)"
        if not several:
            return f"Retired, still in Dots: {left[0].last_dots_error or 'deletion not confirmed'}"
        detail = "; ".join(f"{c.vendor.name}: {c.last_dots_error or 'deletion not confirmed'}" for c in left)
        return f"Retired, still in Dots: {len(left)} of {total} copies ({detail})"
    missing = [c for c in copies if not c.dots_id]
    if not copies or (missing and not several):
        error = (missing[0].last_dots_error or policy.last_dots_error) if missing else ""
        return f"Not in Dots: {error}" if error else "Not sent to Dots yet"
    if missing:
        detail = "; ".join(
            f"the copy for {c.vendor.name} {'failed: ' + c.last_dots_error if c.last_dots_error else 'is not sent yet'}"
            for c in missing
        )
        if len(missing) == total:
            return f"Not in Dots: {detail}"
        return f"In Dots for {total - len(missing)} of {total} vendors; {detail}"
    copies_text = f" ({total} copies)" if several else ""
    if policy.last_dots_error:
        return f"In Dots{copies_text}, but the last change did not reach it: {policy.last_dots_error}"
    return f"In Dots ({total} copies, one per vendor)" if several else "In Dots"


def current_policies():
    """Current versions in the order Dots tries them (ties: the older first, as Dots does)."""
    return (
        ApprovalPolicy.objects.filter(retired_at__isnull=True)
        .order_by("priority", "id")
        .prefetch_related("vendors", "steps__approvers", "dots_copies__vendor")
    )


def awaits_deletion_in_dots(policy: ApprovalPolicy) -> bool:
    """A retired version that Dots may still apply: a copy of it whose deletion is not confirmed."""
    return policy.retired_at is not None and any(copy_in_dots(c) for c in dots_copies(policy))


def needs_dots(policy: ApprovalPolicy) -> bool:
    """Whether Dots is behind this version (so "Send to Dots again" has something to do)."""
    if policy.retired_at is not None:
        return awaits_deletion_in_dots(policy)
    copies = dots_copies(policy)
    return not copies or any(not c.dots_id for c in copies) or bool(policy.last_dots_error)


def policies_in_dots() -> list[ApprovalPolicy]:
    """The versions Dots holds, in the order it tries them: current ones it has, and retired
    ones whose deletion there has not been confirmed (Dots still applies them)."""
    rows = (
        ApprovalPolicy.objects.filter(dots_copies__dots_id__isnull=False)
        .distinct()
        .prefetch_related("vendors", "dots_copies__vendor")
    )
    held = [p for p in rows if p.retired_at is None or awaits_deletion_in_dots(p)]
    return sorted(held, key=lambda p: (p.priority, p.id))


def amount_condition_holds(comparator: str, amount_cents: int | None, total_cents: int) -> bool:
    """A policy's amount condition (Dots' comparators), met by a payable of `total_cents`; none: met."""
    if not comparator or amount_cents is None:
        return True
    return {"<=": total_cents <= amount_cents, "==": total_cents == amount_cents, ">=": total_cents >= amount_cents}[
        comparator
    ]


def _conditions_hold(policy: ApprovalPolicy, payable: Payable) -> tuple[bool, list[str]]:
    reasons = []
    amount = payable.total_cents or 0
    if policy.amount_comparator and policy.amount_cents is not None:
        value = policy.amount_cents
        if not amount_condition_holds(policy.amount_comparator, value, amount):
            return False, []
        reasons.append(f"amount {format_cents(amount)} {_SYMBOL[policy.amount_comparator]} {format_cents(value)}")
    # Dots routes by the copies it holds: one per vendor (or one for any vendor).
    held = [c for c in dots_copies(policy) if copy_in_dots(c)]
    if not held:
        return False, []
    vendors = [c.vendor for c in held if c.vendor_id]
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


class StepCache:
    """What the step reads share across many payables of one page (the list): every approver, the
    default approvers and each policy's steps, read once. A page of one payable needs none."""

    def __init__(self) -> None:
        self._approvers_by_dots_id: dict | None = None
        self._default: list[Approver] | None = None
        self._steps: dict[int, list[ApprovalStep]] = {}
        self._user_approver: dict[int, Approver | None] = {}

    def approvers_by_dots_id(self) -> dict:
        if self._approvers_by_dots_id is None:
            self._approvers_by_dots_id = {a.dots_user_id: a for a in Approver.objects.select_related("user")}
        return self._approvers_by_dots_id

    def default_approvers(self) -> list[Approver]:
        if self._default is None:
            self._default = list(Approver.objects.filter(dots_role__in=DEFAULT_APPROVER_ROLES).select_related("user"))
        return self._default

    def policy_steps(self, payable: Payable) -> list[ApprovalStep]:
        if payable.approval_policy_id is None:
            return []
        if payable.approval_policy_id not in self._steps:
            self._steps[payable.approval_policy_id] = list(
                ApprovalStep.objects.filter(policy_id=payable.approval_policy_id).prefetch_related("approvers__user")
            )
        return self._steps[payable.approval_policy_id]

    def approver_of(self, user) -> Approver | None:
        if user.pk not in self._user_approver:
            self._user_approver[user.pk] = Approver.objects.filter(user=user).first()
        return self._user_approver[user.pk]


def _label_for_dots_user(dots_user_id, fallback: str, approvers_by_dots_id: dict) -> str:
    approver = approvers_by_dots_id.get(dots_user_id)
    return approver_label(approver) if approver and approver.user_id else (fallback or f"Dots user {dots_user_id}")


def step_view(payable: Payable, cache: StepCache | None = None) -> list[StepView]:
    """Each step: who may approve it, who has, and which one is current. Before submit (no
    answer from Dots yet) the steps of the matched policy are shown, none approved."""
    cache = cache or StepCache()
    policy_steps = cache.policy_steps(payable)
    dots_steps = list(payable.approval_steps or [])
    count = len(dots_steps) or len(policy_steps)
    if not count:
        return []
    approvers_by_dots_id = cache.approvers_by_dots_id()
    current = current_step_index(payable)
    views = []
    for index in range(count):
        dots_step = dots_steps[index] if index < len(dots_steps) else {}
        if index < len(policy_steps):
            may = [approver_label(a) for a in policy_steps[index].approvers.all()]
            required = policy_steps[index].num_approvals_required
        else:
            # No policy (Dots' default): any dashboard admin or AP approver.
            may = [approver_label(a) for a in cache.default_approvers()] or [
                "any Dots admin or AP approver (none synced)"
            ]
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


def user_may_approve_current_step(payable: Payable, user, cache: StepCache | None = None) -> tuple[bool, str]:
    """Whether `user` may approve (or reject) the current step, and why not. Segregation of
    duties (the creator) is the approve service's business; this is about the step's list."""
    cache = cache or StepCache()
    index = current_step_index(payable)
    if index is None:
        if payable.status != Payable.Status.SUBMITTED:
            return False, f"{payable} is not waiting for approval ({payable.get_status_display()})."
        return False, f"{payable} has no approval step left."
    approver = cache.approver_of(user)
    if approver is None:
        return False, f"{user.get_username()} is not linked to a Dots approver (ask an administrator to link them)."
    number = index + 1
    policy_steps = cache.policy_steps(payable)
    if policy_steps:
        if index >= len(policy_steps):
            return False, f"step {number} of {payable} is not in the policy it was submitted under."
        if approver.pk not in {a.pk for a in policy_steps[index].approvers.all()}:
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


def approvers_waiting(payable: Payable, cache: StepCache | None = None) -> list[Approver]:
    """The approvers (linked to a user here) the current step waits for: the same rule as
    `user_may_approve_current_step`, for everyone at once, without the creator (who never approves
    their own) and without those who already approved the step."""
    cache = cache or StepCache()
    index = current_step_index(payable)
    if index is None:
        return []
    policy_steps = cache.policy_steps(payable)
    if policy_steps:
        if index >= len(policy_steps):
            return []
        candidates = list(policy_steps[index].approvers.all())
    elif len(payable.approval_steps or []) > 1:
        return []
    else:
        candidates = cache.default_approvers()
    decisions = (payable.approval_steps or [])[index].get("user_approvals") or []
    decided = {d.get("user_id") for d in decisions}
    return [a for a in candidates if a.user_id and a.user_id != payable.created_by_id and a.dots_user_id not in decided]


def last_approvals_by_step(payables) -> dict[int, dict[int, dt.datetime]]:
    """{payable id: {step: when its last approval was given}} for `payables` (a queryset or list), in
    one query: what `step_waiting_since` reads."""
    found: dict[int, dict[int, dt.datetime]] = {}
    for payable_id, step, decided_at in (
        PayableApproval.objects.filter(payable__in=payables, decision=PayableApproval.Decision.APPROVED)
        .order_by("decided_at")
        .values_list("payable_id", "step", "decided_at")
    ):
        found.setdefault(payable_id, {})[step] = decided_at
    return found


def step_waiting_since(payable: Payable, approvals_by_step: dict[int, dt.datetime]) -> dt.datetime | None:
    """When the current step began to wait: the previous step's last approval here (steps are
    0-based, as PayableApproval.step), else the submit."""
    index = current_step_index(payable)
    if index is None:
        return None
    if index > 0 and (index - 1) in approvals_by_step:
        return approvals_by_step[index - 1]
    return payable.submitted_at or payable.created_at


# --- aging ---------------------------------------------------------------------------------------------

# Unpaid bills a manager ages: waiting for approval, approved, or approved with a payment that failed.
AGING_STATUSES = (Payable.Status.SUBMITTED, Payable.Status.APPROVED, Payable.Status.PAYMENT_FAILED)


@dataclass(frozen=True)
class AgingBucket:
    key: str  # what the list's "aging" filter takes
    label: str
    first_day: int | None  # days past due, inclusive; None: not yet due
    last_day: int | None  # inclusive; None: no upper end


AGING_BUCKETS = (
    AgingBucket("current", "Not yet due", None, None),
    AgingBucket("1-30", "1–30 days past due", 1, 30),
    AgingBucket("31-60", "31–60 days past due", 31, 60),
    AgingBucket("61-90", "61–90 days past due", 61, 90),
    AgingBucket("90+", "Over 90 days past due", 91, None),
)


def aging_bucket(key: str) -> AgingBucket | None:
    return next((bucket for bucket in AGING_BUCKETS if bucket.key == key), None)


def aging_q(bucket: AgingBucket, today: dt.date) -> Q:
    """The unpaid payables in `bucket` on `today`: "Not yet due" is due today or later (or no due
    date); "1–30" was due 1 to 30 days before today, and so on."""
    unpaid = Q(status__in=AGING_STATUSES)
    if bucket.first_day is None:
        return unpaid & (Q(due_date__gte=today) | Q(due_date__isnull=True))
    found = unpaid & Q(due_date__lte=today - dt.timedelta(days=bucket.first_day))
    if bucket.last_day is not None:
        found &= Q(due_date__gte=today - dt.timedelta(days=bucket.last_day))
    return found


def payments_outcome_unknown_count() -> int:
    """Payables whose pay call lost its answer (a Prometheus gauge, payables/seam.py)."""
    return Payable.objects.filter(status=Payable.Status.OUTCOME_UNKNOWN).count()
