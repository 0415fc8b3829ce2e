"""The fault-injection harness shared by tests/reconciliation/test_fault_injection.py and bench/chaos.py.

One run, in order (issue #7):
1. `build_world`: people linked to the emulator's dashboard users, a vendor with a verified
   bank account, N approved payables and N payout links stored but not yet sent.
2. `install_fault_mix`: about 30% of every /api call fails, evenly split between a 503,
   a timeout (Dots does the work after the client gave up), a dropped answer (Dots did the
   work) and latency. Seeded, so a run is repeatable.
3. `run_workers`: 4 workers pay every payable and push every link, each job delivered twice
   back to back (a double click, a task delivered twice) and once more later.
4. The faults stop; `settle` runs reconciliation until every record has settled, paying
   again only what reconciliation proved Dots never paid, re-sending links that never
   reached Dots, letting the payment follower look again, and measures how long it took.
5. `compare_with_dots` counts what the emulator itself recorded (payments per payable from
   its action history, links from its list) and compares every local status with Dots'.

Everything talks to the emulator over real HTTP through the app's own client.
"""

from __future__ import annotations

import queue
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

from django.db import connections

from core import roles
from core.audit import system_user
from core.dots_gateway import client
from core.errors import DomainError
from core.models import AuditEvent, QueuedDotsAction
from payables import drafts as payable_drafts
from payables import services as payable_services
from payables import tasks as payable_tasks
from payables.models import Approver, Payable
from payouts import tasks as payout_tasks
from payouts.models import PayoutLink
from payouts.services import payout_links
from tests.support import make_user
from tests.vendors.helpers import verified_vendor_account

S = Payable.Status
L = PayoutLink.Status

# The four ways a call fails, each about a quarter of the total rate.
FAULT_KINDS = ("status", "timeout", "drop", "latency")
# Dots' payable actions that start a payment (emulator action_history).
PAYMENT_ACTIONS = ("initiate_payment", "retry_payment")
# Local link statuses that mean "not (yet) known to be in Dots".
LINK_LOCAL_ONLY = {L.PENDING, L.UNKNOWN, L.REFUSED}
# Audit actions worth counting after a run: the paths the faults forced.
ALONG_THE_WAY = (
    ("pay calls sent", "payable.pay_requested"),
    ("payments in outcome unknown", "payable.payment_outcome_unknown"),
    ("pay calls found interrupted", "payable.interrupted_payment"),
    ("links in outcome unknown", "payout_link.outcome_unknown"),
    ("Dots actions queued", "dots_action.queued"),
)
# Local payable statuses that mean "we do not know whether Dots took the pay call".
PAYABLE_IN_DOUBT = [S.PAY_REQUESTED, S.OUTCOME_UNKNOWN]


@dataclass
class World:
    payer: object
    operator: object
    payable_ids: list[int]
    link_ids: list[int]


def _linked_user(username: str, role: str, dots_user: dict):
    user = make_user(username, role=role)
    user.email = dots_user["email"]
    user.save(update_fields=["email"])
    Approver.objects.create(
        dots_user_id=dots_user["id"],
        email=dots_user["email"],
        first_name=dots_user.get("first_name", ""),
        last_name=dots_user.get("last_name", ""),
        dots_role=dots_user["role"],
        user=user,
    )
    return user


def build_world(*, emulator, payables: int, links: int, progress=None) -> World:
    """Approved payables and stored (unsent) payout links, made while the emulator has no faults."""
    seeded = emulator.seed_approvers()
    by_role: dict[str, list[dict]] = {}
    for dots_user in seeded:
        by_role.setdefault(dots_user["role"], []).append(dots_user)
    clerk = _linked_user("chaos-clerk", roles.AP_CLERK, by_role["ap_creator"][0])
    clerk2 = make_user("chaos-clerk2", role=roles.AP_CLERK)
    approver = _linked_user("chaos-approver", roles.APPROVER, by_role["ap_approver"][0])
    payer = _linked_user("chaos-payer", roles.PAYER, by_role["payer"][0])
    operator = make_user("chaos-operator", role=roles.PAYOUTS_OPERATOR)

    vendor, account = verified_vendor_account(
        clerk, clerk2, name="Chaos Supplies", contact_email="billing@chaos.example", account_name="Chaos operating"
    )
    # Payments finish on the first read after pay, so the followers and the reconciler
    # have to move them from "in progress" to "paid".
    emulator.settings(payable_payment={"mode": "on_read", "reads": 1, "outcome": "payment_completed"})

    payable_ids = []
    for i in range(payables):
        # Distinct amounts and bill numbers: the duplicate check must not stop a submit.
        payable = Payable.objects.create(
            bill_number=f"CX-{i + 1:05d}",
            vendor=vendor,
            bank_account=account,
            amount_cents=10_000 + i,
            funding_source=Payable.FundingSource.DOTS_BALANCE,
            created_by=clerk,
        )
        payable_drafts.payable_record_edit(payable_id=payable.pk, actor=clerk, before={}, created=True)
        payable_services.payable_submit(payable_id=payable.pk, actor=clerk)
        payable_services.payable_approve(payable_id=payable.pk, actor=approver)
        payable_ids.append(payable.pk)
        if progress and (i + 1) % 100 == 0:
            progress(f"{i + 1} payables approved")
    link_ids = [
        payout_links.payout_link_request(
            amount_cents=500 + i, actor=operator, memo=f"chaos link {i + 1}", push=False
        ).pk
        for i in range(links)
    ]
    not_approved = Payable.objects.filter(pk__in=payable_ids).exclude(status=S.APPROVED).count()
    if not_approved:
        raise RuntimeError(f"{not_approved} payables did not reach approved while setting up")
    return World(payer=payer, operator=operator, payable_ids=payable_ids, link_ids=link_ids)


# --- faults ----------------------------------------------------------------------------------------------


def install_fault_mix(
    emulator, *, total_rate: float = 0.3, seed: int = 7, timeout_ms: int = 1200, latency_ms: int = 150
) -> list[dict]:
    """About `total_rate` of all /api calls fail, a quarter each 503, timeout, drop and latency.

    The emulator tries rules in order and the first that fires wins, so rule i must fire
    on share / (1 - i * share) of the calls that reach it for each kind to take `share`.
    """
    share = total_rate / len(FAULT_KINDS)
    added = []
    for index, kind in enumerate(FAULT_KINDS):
        rule = {"method": "*", "path": "*", "kind": kind, "rate": share / (1 - index * share), "seed": seed + index}
        if kind == "status":
            rule["status"] = 503
        elif kind == "timeout":
            rule["ms"] = timeout_ms
        elif kind == "latency":
            rule["ms"] = latency_ms
        added.append(emulator.add_fault(**rule))
    return added


def faults_fired(emulator) -> dict[str, int]:
    """How many calls each kind of fault hit (the emulator's own counters)."""
    fired: Counter = Counter()
    for rule in emulator.control_get("faults")["data"]:
        fired[rule["kind"]] += rule["fired"]
    return dict(fired)


# --- the workers -------------------------------------------------------------------------------------------


@dataclass
class WorkerStats:
    jobs: int = 0
    outcomes: Counter = field(default_factory=Counter)  # "pay: ok", "push: DotsUnavailable", ...
    unexpected: list[str] = field(default_factory=list)  # anything that is not a DomainError: a bug
    seconds: float = 0.0


def _pay(job_id: int, world: World) -> None:
    payable_services.payable_pay(payable_id=job_id, actor=world.payer)


def _push(job_id: int, world: World) -> None:
    # The django-q2 entry point, as a worker runs it.
    payout_tasks.payout_link_push(job_id)


JOBS = {"pay": _pay, "push": _push}


def chaos_task(kind: str, job_id: int, payer_id: int) -> str:
    """The same jobs as django-q2 tasks (bench/chaos.py with a real qcluster): answers the outcome.

    A refusal (DomainError) is an expected outcome and is answered; anything else raises,
    so django-q2 records it as a failed task and the bench counts it as a bug.
    """
    from django.contrib.auth import get_user_model

    world = World(payer=get_user_model().objects.get(pk=payer_id), operator=None, payable_ids=[], link_ids=[])
    try:
        JOBS[kind](job_id, world)
    except DomainError as exc:
        return f"{kind}: {type(exc).__name__}"
    return f"{kind}: ok"


def chaos_jobs(world: World, *, seed: int) -> list[tuple[str, int]]:
    """Every pay and push twice back to back (two workers take them at once), then all once more."""
    singles = [("pay", pk) for pk in world.payable_ids] + [("push", pk) for pk in world.link_ids]
    random.Random(seed).shuffle(singles)
    first_round = [job for single in singles for job in (single, single)]
    return first_round + list(reversed(singles))


def run_one(kind: str, job_id: int, world: World, stats: WorkerStats, lock: threading.Lock) -> None:
    try:
        JOBS[kind](job_id, world)
        outcome = f"{kind}: ok"
    except DomainError as exc:
        outcome = f"{kind}: {type(exc).__name__}"
    except Exception as exc:  # noqa: BLE001 - counted and reported: the test fails on any
        outcome = f"{kind}: unexpected"
        with lock:
            stats.unexpected.append(f"{kind} {job_id}: {type(exc).__name__}: {exc}")
    with lock:
        stats.jobs += 1
        stats.outcomes[outcome] += 1


def run_workers(*, world: World, jobs: list[tuple[str, int]], workers: int = 4) -> WorkerStats:
    """`workers` threads take jobs from one queue, each with its own database connection."""
    stats, lock, work = WorkerStats(), threading.Lock(), queue.Queue()
    for job in jobs:
        work.put(job)

    def worker() -> None:
        try:
            while True:
                try:
                    kind, job_id = work.get_nowait()
                except queue.Empty:
                    return
                run_one(kind, job_id, world, stats, lock)
        finally:
            connections.close_all()

    started = time.monotonic()
    threads = [threading.Thread(target=worker, name=f"chaos-worker-{n}") for n in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stats.seconds = time.monotonic() - started
    return stats


# --- settling ------------------------------------------------------------------------------------------------


@dataclass
class SettleResult:
    settled: bool
    seconds: float
    rounds: int
    paid_again: int  # payables reconciliation proved unpaid, paid again by the payer
    pushed_again: int  # links that never reached Dots, sent again with their stored key
    errors: list[str] = field(default_factory=list)


def unsettled(world: World) -> dict[str, int]:
    """Records not yet at rest: payables not paid, links not (known to be) in Dots, by status."""
    waiting: Counter = Counter()
    for status in (
        Payable.objects.filter(pk__in=world.payable_ids)
        .exclude(status=S.PAYMENT_COMPLETED)
        .values_list("status", flat=True)
    ):
        waiting[f"payable {status}"] += 1
    for status, dots_id in PayoutLink.objects.filter(pk__in=world.link_ids).values_list("status", "dots_id"):
        if status in LINK_LOCAL_ONLY or not dots_id:
            waiting[f"link {status}"] += 1
    return dict(waiting)


def _reconcile() -> list[str]:
    """One reconciliation run; answers its errors (a run that could not read Dots says so, it does not raise)."""
    from reconciliation.services import reconcile_all

    return reconcile_all(actor=system_user()).errors


def settle(*, world: World, deadline_seconds: float, pause_seconds: float = 0.25) -> SettleResult:
    """Run reconciliation until nothing is in doubt; pay again only what it returned to payable.

    A payable is paid again only once reconciliation has moved it back to approved (Dots
    showed no payment long enough after our call) or to payment failed: the pay gate
    refuses every other state, so this cannot pay twice.
    """
    started = time.monotonic()
    result = SettleResult(settled=False, seconds=0.0, rounds=0, paid_again=0, pushed_again=0)
    while True:
        result.rounds += 1
        result.errors += [f"round {result.rounds}: reconcile: {error}" for error in _reconcile()]
        # Payments in progress are the follower's (a task the worker schedules with backoff;
        # here its next look is taken now, so the settle time measures reconciliation, not backoff).
        for pk in Payable.objects.filter(pk__in=world.payable_ids, status=S.PAYMENT_INITIATED).values_list(
            "pk", flat=True
        ):
            payable_tasks.follow_payment(pk)
        for pk in Payable.objects.filter(
            pk__in=world.payable_ids, status__in=[S.APPROVED, S.PAYMENT_FAILED]
        ).values_list("pk", flat=True):
            try:
                payable_services.payable_pay(payable_id=pk, actor=world.payer)
                result.paid_again += 1
            except DomainError as exc:
                result.errors.append(f"round {result.rounds}: pay {pk}: {exc}")
        for pk in PayoutLink.objects.filter(pk__in=world.link_ids, status=L.PENDING).values_list("pk", flat=True):
            try:
                payout_tasks.payout_link_push(pk)
                result.pushed_again += 1
            except DomainError as exc:
                result.errors.append(f"round {result.rounds}: push {pk}: {exc}")
        if not unsettled(world) and not _in_doubt(world):
            result.settled = True
            break
        if time.monotonic() - started > deadline_seconds:
            break
        time.sleep(pause_seconds)
    result.seconds = time.monotonic() - started
    return result


def _in_doubt(world: World) -> int:
    return (
        Payable.objects.filter(pk__in=world.payable_ids, status__in=PAYABLE_IN_DOUBT).count()
        + PayoutLink.objects.filter(pk__in=world.link_ids, status=L.UNKNOWN).count()
    )


# --- what Dots says -------------------------------------------------------------------------------------------


@dataclass
class ChaosReport:
    payables: int
    links: int
    payments_in_dots: int  # payments the emulator started, over all our payables
    paid_twice: list[str]  # payables the emulator paid more than once
    never_paid: list[str]
    links_in_dots: int
    links_not_ours: int  # links in Dots no local record points at (a second link for one request)
    status_mismatches: list[str]  # "payable CX-00001: here payment_initiated, Dots payment_completed"
    outcome_unknown: int  # payables in pay_requested / outcome unknown, links unknown, here
    settle_seconds: float
    faults: dict[str, int]
    # From our audit trail: how often each path was taken along the way.
    along_the_way: dict[str, int] = field(default_factory=dict)
    queued_actions_left: int = 0  # core.action_queue rows still waiting or running

    def checks(self) -> list[tuple[str, bool, str]]:
        return [
            (
                "payments recorded by Dots",
                self.payments_in_dots == self.payables,
                f"{self.payments_in_dots} (expected {self.payables}; paid twice: {len(self.paid_twice)}, "
                f"never: {len(self.never_paid)})",
            ),
            (
                "payout links in Dots",
                self.links_in_dots == self.links and self.links_not_ours == 0,
                f"{self.links_in_dots} (expected {self.links}; not ours: {self.links_not_ours})",
            ),
            (
                "records whose local state differs from Dots",
                not self.status_mismatches,
                f"{len(self.status_mismatches)}",
            ),
            ("records in outcome unknown", self.outcome_unknown == 0, f"{self.outcome_unknown}"),
        ]

    @property
    def passed(self) -> bool:
        return all(ok for _name, ok, _value in self.checks())

    def lines(self) -> list[str]:
        out = [f"{'PASS' if ok else 'FAIL'}  {name}: {value}" for name, ok, value in self.checks()]
        out.append(f"      time to settle after the faults stopped: {self.settle_seconds:.2f} s")
        total = sum(self.faults.values())
        kinds = ", ".join(f"{kind} {n}" for kind, n in sorted(self.faults.items()))
        out.append(f"      faults injected: {total} ({kinds})")
        if self.along_the_way:
            out.append("      along the way: " + ", ".join(f"{name} {n}" for name, n in self.along_the_way.items()))
        out.append(f"      Dots actions still queued (waiting or running): {self.queued_actions_left}")
        for mismatch in self.status_mismatches[:10]:
            out.append(f"      differs: {mismatch}")
        for name in (self.paid_twice + self.never_paid)[:10]:
            out.append(f"      payments: {name}")
        return out


def compare_with_dots(*, world: World, settle_seconds: float, faults: dict[str, int]) -> ChaosReport:
    """Read the emulator's own records (faults must be off) and hold every local record against them."""
    dots = client()
    remote_payables = {p.id: p.raw for p in dots.iter_payables()}
    remote_links = {link.id: link.raw for link in dots.iter_payout_links()}
    payments, paid_twice, never_paid, mismatches = 0, [], [], []
    for payable in Payable.objects.filter(pk__in=world.payable_ids).order_by("pk"):
        remote = remote_payables.get(payable.dots_id)
        if remote is None:
            mismatches.append(f"payable {payable}: not in Dots")
            continue
        count = sum(1 for entry in remote.get("action_history") or [] if entry.get("action") in PAYMENT_ACTIONS)
        payments += count
        if count > 1:
            paid_twice.append(f"{payable}: {count} payments")
        elif count == 0:
            never_paid.append(f"{payable}: no payment")
        if payable.status != remote.get("status"):
            mismatches.append(f"payable {payable}: here {payable.status}, Dots {remote.get('status')}")
    local_links = {}
    for link in PayoutLink.objects.filter(pk__in=world.link_ids).order_by("pk"):
        if not link.dots_id or link.dots_id not in remote_links:
            mismatches.append(f"payout link {link.pk}: here {link.status}, not in Dots")
            continue
        local_links[link.dots_id] = link
        remote_status = remote_links[link.dots_id].get("status")
        if link.status != remote_status:
            mismatches.append(f"payout link {link.pk}: here {link.status}, Dots {remote_status}")
    in_doubt = _in_doubt(world)
    along_the_way = {label: AuditEvent.objects.filter(action=action).count() for label, action in ALONG_THE_WAY}
    return ChaosReport(
        payables=len(world.payable_ids),
        links=len(world.link_ids),
        payments_in_dots=payments,
        paid_twice=paid_twice,
        never_paid=never_paid,
        links_in_dots=len(remote_links),
        links_not_ours=len(set(remote_links) - set(local_links)),
        status_mismatches=mismatches,
        outcome_unknown=in_doubt,
        settle_seconds=settle_seconds,
        faults=faults,
        along_the_way=along_the_way,
        queued_actions_left=QueuedDotsAction.objects.filter(status__in=QueuedDotsAction.ACTIVE).count(),
    )
