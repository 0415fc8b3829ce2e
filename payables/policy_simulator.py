"""What a change to the approval policies would do, before it is saved.

For every open payable (a draft or one waiting for approval): which policy routes it and who could
approve each step, with the policies as they are and as they would be, and whether it would become
unsatisfiable: a step with fewer eligible approvers than it needs (an eligible approver is linked to
an active user in the Approver role, and is not the payable's creator, who never approves their own).

Routing follows Dots' rule (ascending priority, the first policy whose conditions all hold, ties to
the older; none: one approval by any Dots admin or AP approver) over the current versions here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from payables import selectors
from payables.models import ApprovalPolicy, Approver, Payable

OPEN_STATUSES = (Payable.Status.CREATED, Payable.Status.SUBMITTED)
# The open payables a simulation reads, newest first: enough for any office, bounded for the page.
SIMULATION_LIMIT = 2000
_NEW = 10**12  # the id a proposed version sorts by: newer than every existing one


@dataclass(frozen=True)
class Candidate:
    """A policy as the simulation routes by: its conditions and its steps' approvers."""

    policy_id: int
    key: str  # the policy whatever its version: its lineage ("new" for one not saved yet)
    label: str
    priority: int
    amount_comparator: str
    amount_cents: int | None
    vendor_ids: frozenset[int]
    steps: tuple[tuple[int, tuple[Approver, ...]], ...]

    def applies_to(self, payable: Payable) -> bool:
        if not selectors.amount_condition_holds(self.amount_comparator, self.amount_cents, payable.total_cents or 0):
            return False
        return not self.vendor_ids or payable.vendor_id in self.vendor_ids


@dataclass(frozen=True)
class StepReach:
    number: int
    required: int
    approvers: tuple[str, ...]  # eligible people, creator excluded

    @property
    def satisfiable(self) -> bool:
        return len(self.approvers) >= self.required


@dataclass(frozen=True)
class Route:
    key: str
    policy: str
    steps: tuple[StepReach, ...]

    @property
    def problems(self) -> list[str]:
        problems = []
        for step in self.steps:
            if not step.approvers:
                problems.append(f"step {step.number} has no eligible approver")
            elif not step.satisfiable:
                problems.append(
                    f"step {step.number} needs {step.required} approvals but only {len(step.approvers)} "
                    f"eligible approver{'s' if len(step.approvers) != 1 else ''}"
                )
        return problems

    @property
    def satisfiable(self) -> bool:
        return not self.problems

    def text(self) -> str:
        steps = "; ".join(
            f"step {s.number}: {s.required} approval{'s' if s.required != 1 else ''} from "
            f"{', '.join(s.approvers) or 'nobody eligible'}"
            for s in self.steps
        )
        return f"{self.policy} ({steps})"


@dataclass(frozen=True)
class Impact:
    payable: Payable
    before: Route
    after: Route

    @property
    def changed(self) -> bool:
        return (self.before.key, self.before.steps) != (self.after.key, self.after.steps)

    @property
    def becomes_unsatisfiable(self) -> bool:
        return not self.after.satisfiable


@dataclass
class Simulation:
    impacts: list[Impact] = field(default_factory=list)

    @property
    def changed(self) -> list[Impact]:
        return [i for i in self.impacts if i.changed]

    @property
    def unsatisfiable(self) -> list[Impact]:
        return [i for i in self.impacts if i.becomes_unsatisfiable]


def _candidate(policy: ApprovalPolicy) -> Candidate:
    return Candidate(
        policy_id=policy.pk,
        key=str(policy.lineage),
        label=str(policy),
        priority=policy.priority,
        amount_comparator=policy.amount_comparator,
        amount_cents=policy.amount_cents,
        vendor_ids=frozenset(v.pk for v in policy.vendors.all()),
        steps=tuple((s.num_approvals_required, tuple(s.approvers.all())) for s in policy.steps.all()),
    )


def proposed(
    *,
    replaces: int | None,
    description: str,
    priority: int,
    amount_comparator: str,
    amount_cents: int | None,
    vendor_ids: Iterable[int],
    steps: Sequence[tuple[int, Iterable[int]]],
) -> Candidate:
    """The policy as entered (approvers by local pk), replacing version `replaces` (None: a new policy)."""
    approvers = Approver.objects.in_bulk([pk for _, pks in steps for pk in pks])
    old = ApprovalPolicy.objects.filter(pk=replaces).first() if replaces is not None else None
    return Candidate(
        policy_id=_NEW,
        key=str(old.lineage) if old else "new",
        label=f"{description} (as entered)" if replaces is None else f"{description} (the new version)",
        priority=priority,
        amount_comparator=amount_comparator or "",
        amount_cents=amount_cents if amount_comparator else None,
        vendor_ids=frozenset(vendor_ids),
        steps=tuple((required or 0, tuple(approvers[pk] for pk in pks if pk in approvers)) for required, pks in steps),
    )


def simulate(change: Candidate | None, *, replaces: int | None = None) -> Simulation:
    """Route every open payable with the current policies, then with `change` in place of `replaces`
    (or added; `change` None with `replaces`: that policy deleted)."""
    current = [_candidate(p) for p in selectors.current_policies()]
    after = [c for c in current if c.policy_id != replaces] + ([change] if change else [])
    return _compare(current, after)


def simulate_priorities(priorities: Mapping[int, int]) -> Simulation:
    """Route every open payable with the current policies, then with these policies (by id) at these
    priorities: what moving policies up or down the order would do."""
    current = [_candidate(p) for p in selectors.current_policies()]
    after = [replace(c, priority=priorities.get(c.policy_id, c.priority)) for c in current]
    return _compare(current, after)


def _compare(current: list[Candidate], after: list[Candidate]) -> Simulation:
    eligible = {a.pk: a for a in selectors.eligible_approvers()}
    defaults = [a for a in Approver.objects.filter(dots_role__in=selectors.DEFAULT_APPROVER_ROLES) if a.pk in eligible]
    payables = (
        Payable.objects.filter(status__in=OPEN_STATUSES).select_related("vendor").order_by("-id")[:SIMULATION_LIMIT]
    )
    simulation = Simulation()
    for payable in payables:
        simulation.impacts.append(
            Impact(
                payable=payable,
                before=_route(payable, current, eligible, defaults),
                after=_route(payable, after, eligible, defaults),
            )
        )
    return simulation


def _route(payable: Payable, candidates: list[Candidate], eligible: dict, defaults: list[Approver]) -> Route:
    def reach(approvers: Iterable[Approver]) -> tuple[str, ...]:
        return tuple(
            sorted(
                selectors.approver_label(eligible[a.pk])
                for a in approvers
                if a.pk in eligible and eligible[a.pk].user_id != payable.created_by_id
            )
        )

    for candidate in sorted(candidates, key=lambda c: (c.priority, c.policy_id)):
        if candidate.applies_to(payable):
            steps = tuple(
                StepReach(number=n, required=required, approvers=reach(approvers))
                for n, (required, approvers) in enumerate(candidate.steps, start=1)
            )
            return Route(key=candidate.key, policy=f"“{candidate.label}”", steps=steps)
    return Route(key="", policy="no policy", steps=(StepReach(number=1, required=1, approvers=reach(defaults)),))
