"""How a step of the sync with Dots runs at a company's size: on its own, in chunks, resumable.

The scheduled sync (reconciliation.tasks.sync_dots) enqueues one task per step
(core.tasks.sync_step), so a slow step never holds up or kills the others. `run_step` runs one
step under a lease on its `SyncProgress` row: a second run of the same step finds the lease
held and leaves the step to the first, so two runs never overlap. The lease lasts
SYNC_LEASE_SECONDS, renewed after every chunk, shorter than django-q2's task timeout.

A step that re-reads many records (`follow`) works through them in chunks of SYNC_CHUNK_SIZE,
in primary-key order, and stores the last one it handled as the step's cursor after every
chunk. A scheduled run stops starting chunks after SYNC_STEP_BUDGET_SECONDS and says so
(`StepRun.more`); the task then enqueues the step again, which resumes after the cursor. A
run killed mid-chunk resumes after the last stored cursor: what is read twice is at most the
chunk in flight (the records applied since the cursor was stored, and the reads running ahead).
A pass that reaches the end clears the cursor; the next run starts a new pass.

The Dots reads go through a pool of DOTS_READ_CONCURRENCY threads (the app's `read`, Dots only,
never the database), streaming ahead of the record being applied; what they answered is applied
on the step's own thread, in pk order (database writes and audit events, as the single-record
refresh would), while the threads read on. The pool's threads
share one pause: a retry's wait (a 429's Retry-After or a backoff) holds back every thread,
so the pool does not multiply retries into a storm.

Backoff by age: a followed model with core.models.SyncFollowed columns is read by a scheduled
pass only when due (`sync_due_at`, indexed); after a read it is due again after a tenth of the
time since it last changed, between SYNC_BACKOFF_MIN_SECONDS and SYNC_BACKOFF_MAX_SECONDS (a
record that just changed: the minimum). The nightly full sync starts a pass that reads every
followed record, due or not. A person who asks (`sync_dots`, the command) reads every
followed record to the end, with no budget, and leaves the scheduled pass's cursor alone.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db.models import Model, Q, QuerySet
from django.utils import timezone

from core import dots_health, registry
from core.dots_gateway import dots_call, set_thread_retry_sleep
from core.errors import DomainError, DotsCallError, DotsUnavailable
from core.models import SyncProgress
from core.sync_report import SyncReport

logger = logging.getLogger(__name__)


@dataclass
class StepRun:
    """The run of one step now under way, read by `follow` and by steps that page through a listing."""

    step: str
    # A scheduled run resumes the pass under way, reads only the due records and keeps to the
    # budget; a run a person asked for reads every followed record to the end.
    scheduled: bool
    full: bool
    owner: str
    deadline: float | None = None  # time.monotonic() after which no new chunk starts
    more: bool = False  # set by the step: its pass is not finished, run it again

    def time_left(self) -> bool:
        return self.deadline is None or time.monotonic() < self.deadline


_current: contextvars.ContextVar[StepRun | None] = contextvars.ContextVar("sync_step_run", default=None)


def current() -> StepRun | None:
    return _current.get()


# --- the lease and the step's run -------------------------------------------------------------------------


def _lease_until() -> dt.datetime:
    return timezone.now() + dt.timedelta(seconds=settings.SYNC_LEASE_SECONDS)


def _acquire(step: str, owner: str) -> bool:
    SyncProgress.objects.get_or_create(step=step)
    now = timezone.now()
    free = Q(lease_until__isnull=True) | Q(lease_until__lt=now)
    taken = (
        SyncProgress.objects.filter(step=step)
        .filter(free)
        .update(lease_until=_lease_until(), lease_owner=owner, last_run_started_at=now)
    )
    return taken == 1


def renew(run: StepRun) -> bool:
    """Extend the run's lease (after each chunk); False when another run took the step (ours lapsed)."""
    return SyncProgress.objects.filter(step=run.step, lease_owner=run.owner).update(lease_until=_lease_until()) == 1


def run_step(step: registry.SyncStep, *, actor: Any, full: bool, scheduled: bool) -> SyncReport:
    """Run one step under its lease. Scheduled: within SYNC_STEP_BUDGET_SECONDS (report.more says
    whether its pass goes on). Refused while another run holds the step (report.note says so)."""
    owner = uuid.uuid4().hex
    if not _acquire(step.name, owner):
        held = SyncProgress.objects.get(step=step.name)
        since = timezone.localtime(held.last_run_started_at).strftime("%H:%M:%S") if held.last_run_started_at else "-"
        return SyncReport(step.name, note=f"already running since {since}; left to that run")
    budget = settings.SYNC_STEP_BUDGET_SECONDS if scheduled else None
    run = StepRun(
        step=step.name,
        scheduled=scheduled,
        full=full,
        owner=owner,
        deadline=None if budget is None else time.monotonic() + budget,
    )
    token = _current.set(run)
    started = time.monotonic()
    report: SyncReport | None = None
    try:
        try:
            report = registry.run_sync_step(step, actor=actor, full=full)
        except (DotsCallError, DomainError) as exc:
            report = SyncReport(step.name, errors=[str(exc)])
        report.more = run.more
        return report
    finally:
        _current.reset(token)
        fields: dict[str, Any] = {
            "lease_until": None,
            "lease_owner": "",
            "last_run_finished_at": timezone.now(),
            "last_duration_ms": int((time.monotonic() - started) * 1000),
        }
        if report is not None:
            fields.update(
                last_due=report.due, last_read=report.checked, last_left=report.left, last_summary=report.summary()
            )
        else:
            fields["last_summary"] = f"{step.name}: stopped by an error (see the worker's log)"
        SyncProgress.objects.filter(step=step.name, lease_owner=owner).update(**fields)


def summaries(names: list[str] | tuple[str, ...], *, since: dt.datetime) -> str:
    """What each step's last run said, for the steps that finished a run after `since`; others: queued."""
    rows = {p.step: p for p in SyncProgress.objects.filter(step__in=list(names))}
    parts = []
    for name in names:
        row = rows.get(name)
        if row is not None and row.last_run_finished_at and row.last_run_finished_at >= since and row.last_summary:
            parts.append(row.last_summary)
        else:
            parts.append(f"{name}: queued")
    return "; ".join(parts)


# --- a pass over a listing (a step that pages through Dots) ------------------------------------------------


@dataclass
class PagingPass:
    """A pass over a Dots listing that a scheduled run resumes from its cursor (`starting_after`)."""

    run: StepRun
    cursor: str

    def save(self, cursor: str) -> bool:
        """Store where the walk stands (after a page is written); False when the lease was lost."""
        self.cursor = cursor
        SyncProgress.objects.filter(step=self.run.step, lease_owner=self.run.owner).update(cursor=cursor)
        return renew(self.run)

    def finish(self) -> None:
        now = timezone.now()
        SyncProgress.objects.filter(step=self.run.step, lease_owner=self.run.owner).update(
            cursor="", pass_started_at=None, last_pass_finished_at=now, last_full_pass_at=now
        )


def current_is_scheduled() -> bool:
    run = current()
    return run is not None and run.scheduled


def paging_pass(*, force: bool = False) -> PagingPass | None:
    """The full pass over a listing a scheduled run continues or starts; None outside one.

    A scheduled run with `full` (the nightly sync, and its continuations) starts a pass or
    continues the one under way; `force` does so without `full` (a step that must read every
    page). An incremental run leaves a pass under way alone: the next full run continues it.
    """
    run = current()
    if run is None or not run.scheduled or not (run.full or force):
        return None
    run.full = True
    progress = SyncProgress.objects.get(step=run.step)
    if progress.pass_started_at is None:
        SyncProgress.objects.filter(pk=progress.pk).update(pass_started_at=timezone.now(), pass_full=True, cursor="")
        return PagingPass(run=run, cursor="")
    return PagingPass(run=run, cursor=progress.cursor)


# --- records followed one by one ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Followed:
    """A step that re-reads many single records from Dots (declared by the app's step function).

    `refresh(pk)` reads one record and adopts what Dots says on this thread (the app's existing
    single-record refresh). With `read` and `apply` the reads run in the pool instead:
    `read(row)` calls Dots only (no database; None: nothing to read, `refresh` it instead) and
    `apply(row, answer)` adopts the answer on the step's thread. Each answers the record after
    (its `status` is compared with the one before) or a line saying what changed ("" if nothing).
    """

    name: str  # the step's name, as the report prints it
    label: str  # "Payout request": how a record reads in the report
    rows: QuerySet  # every record the step follows
    refresh: Callable[[int], Any]
    read: Callable[[Any], Any] | None = None
    apply: Callable[[Any, Any], Any] | None = None
    what: str = "read a record"  # "read the payout request": how a failed read reads
    changed_field: str = "updated_at"  # when the record last changed (backoff by age)


def has_backoff(model: type[Model]) -> bool:
    return any(f.name == "sync_due_at" for f in model._meta.get_fields())


def next_check_delay(age: dt.timedelta) -> dt.timedelta:
    """How long before a record unchanged for `age` is read again: a tenth of it, clamped."""
    low = dt.timedelta(seconds=settings.SYNC_BACKOFF_MIN_SECONDS)
    high = dt.timedelta(seconds=settings.SYNC_BACKOFF_MAX_SECONDS)
    return min(max(age / 10, low), high)


def due_filter(now: dt.datetime) -> Q:
    return Q(sync_due_at__isnull=True) | Q(sync_due_at__lte=now)


class _Pause:
    """One pause shared by the pool's threads: any thread's retry wait holds back all of them."""

    def __init__(self) -> None:
        self._until = 0.0
        self._lock = threading.Lock()

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self._until = max(self._until, time.monotonic() + seconds)
        self.wait()

    def wait(self) -> None:
        while (delay := self._until - time.monotonic()) > 0:
            time.sleep(delay)


class ReadPool:
    """At most DOTS_READ_CONCURRENCY reads from Dots at once; no database use in its threads."""

    def __init__(self, size: int | None = None) -> None:
        self.pause = _Pause()
        self.size = max(1, size or settings.DOTS_READ_CONCURRENCY)
        self._executor = ThreadPoolExecutor(
            max_workers=self.size,
            thread_name_prefix="dots-read",
            initializer=set_thread_retry_sleep,
            initargs=(self.pause.sleep,),
        )

    def submit(self, row: Any, read: Callable[[Any], Any], *, what: str, deadline: float | None) -> Future:
        """Start reading one row. Its outcome: ("answer", x), ("refresh", None) when `read` has
        nothing to read, ("error", exc), or ("skipped", None) when it could not start before the deadline."""

        def one() -> tuple[str, Any]:
            self.pause.wait()
            if deadline is not None and time.monotonic() >= deadline:
                return ("skipped", None)
            try:
                with dots_call(what, record_health=False):
                    answer = read(row)
            except DotsCallError as exc:
                return ("error", exc)
            return ("refresh", None) if answer is None else ("answer", answer)

        return self._executor.submit(one)

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)


@contextmanager
def _pool(enabled: bool) -> Iterator[ReadPool | None]:
    pool = ReadPool() if enabled else None
    try:
        yield pool
    finally:
        if pool is not None:
            pool.close()


def _line(spec: Followed, row: Any, result: Any) -> str:
    if isinstance(result, str):
        return result
    before, after = getattr(row, "status", None), getattr(result, "status", None)
    return "" if after == before else f"{spec.label} #{row.pk}: {before} -> {after}"


def follow(spec: Followed) -> SyncReport:
    """Re-read the followed records (see the module docstring); the report says how many were due,
    read (`checked`) and left for the next run.

    Reads stream through the pool in pk order, at most two per thread ahead of the record being
    applied, so the threads keep reading while this thread writes. Every SYNC_CHUNK_SIZE records
    applied, the cursor is stored (with the lease renewed and the next checks scheduled). When
    the budget is spent no new read starts; those already started are applied, then the run stops.
    """
    run = current()
    report = SyncReport(spec.name)
    model = spec.rows.model
    backoff = has_backoff(model)
    now = timezone.now()
    scheduled = run is not None and run.scheduled
    cursor = 0
    only_due = False
    if run is not None and scheduled:
        progress = SyncProgress.objects.get(step=run.step)
        if progress.pass_started_at is None or (run.full and not progress.pass_full):
            progress.pass_started_at, progress.pass_full, progress.cursor = now, run.full or not backoff, ""
            progress.save(update_fields=["pass_started_at", "pass_full", "cursor"])
        cursor = int(progress.cursor or 0)
        only_due = backoff and not progress.pass_full

    def pending(after: int) -> QuerySet:
        rows = spec.rows.filter(pk__gt=after)
        return rows.filter(due_filter(now)) if only_due else rows

    report.due = pending(cursor).count()
    chunk = _Chunk()
    state = {"finished": False}

    def rows_in_order() -> Iterator[Any]:
        """The due records after the cursor, a chunk's worth per query, until the budget is spent."""
        after = cursor
        while run is None or run.time_left():
            rows = list(pending(after).order_by("pk")[: settings.SYNC_CHUNK_SIZE])
            if not rows:
                state["finished"] = True
                return
            for row in rows:
                if run is not None and not run.time_left():
                    return
                yield row
            after = rows[-1].pk

    stopped = lost = False
    with _pool(spec.read is not None and spec.apply is not None) as pool:
        for row, outcome in _outcomes(spec, rows_in_order(), pool, run):
            if outcome[0] == "skipped":
                stopped = True  # the budget ran out before this read started: the next run begins here
                break
            _apply_one(spec, row, outcome, report, chunk)
            if chunk.size >= settings.SYNC_CHUNK_SIZE and not _close_chunk(spec, chunk, run, backoff=backoff, now=now):
                lost = True
                break
        if lost:
            report.errors.append("another run took this step over; this one stopped")
        else:
            _close_chunk(spec, chunk, run, backoff=backoff, now=now)
    finished = state["finished"] and not stopped and not lost
    report.left = max(report.due - report.checked, 0)
    if run is not None and scheduled:
        if finished:
            done = timezone.now()
            fields: dict[str, Any] = {"cursor": "", "pass_started_at": None, "last_pass_finished_at": done}
            if not only_due:
                fields["last_full_pass_at"] = done
            SyncProgress.objects.filter(step=run.step, lease_owner=run.owner).update(**fields)
        else:
            run.more = True
    return report


@dataclass
class _Chunk:
    """The records applied since the cursor was last stored."""

    rows: list[tuple[Any, bool]] = field(default_factory=list)  # (row, changed) read well
    size: int = 0  # records applied, failed reads included
    last_pk: int | None = None
    answered: bool = False
    unreachable: DotsUnavailable | None = None


def _outcomes(
    spec: Followed, rows: Iterator[Any], pool: ReadPool | None, run: StepRun | None
) -> Iterator[tuple[Any, tuple[str, Any]]]:
    """Each row with what its read answered, in row order; the reads run ahead in the pool."""
    if pool is None or spec.read is None:
        for row in rows:
            yield row, ("refresh", None)
        return
    deadline = run.deadline if run is not None else None
    window: deque[tuple[Any, Future]] = deque()
    ahead = pool.size * 2
    for row in rows:
        window.append((row, pool.submit(row, spec.read, what=spec.what, deadline=deadline)))
        if len(window) >= ahead:
            done, future = window.popleft()
            yield done, future.result()
    while window:
        done, future = window.popleft()
        yield done, future.result()


def _apply_one(spec: Followed, row: Any, outcome: tuple[str, Any], report: SyncReport, chunk: _Chunk) -> None:
    kind, value = outcome
    report.checked += 1
    chunk.size += 1
    chunk.last_pk = row.pk
    try:
        if kind == "error":
            raise value
        if kind == "answer":
            chunk.answered = True
            result = spec.apply(row, value) if spec.apply else None
        else:
            result = spec.refresh(row.pk)
    except DotsCallError as exc:
        if kind == "error":
            if isinstance(exc, DotsUnavailable):
                chunk.unreachable = exc
            else:
                chunk.answered = True  # Dots answered, with a refusal
        report.errors.append(f"{spec.label} #{row.pk}: {exc}")
        return
    line = _line(spec, row, result)
    if line:
        report.changes.append(line)
    chunk.rows.append((row, bool(line)))


def _close_chunk(spec: Followed, chunk: _Chunk, run: StepRun | None, *, backoff: bool, now: dt.datetime) -> bool:
    """Record Dots' health, schedule the next checks, store the cursor (a scheduled run's; a person's
    run leaves the scheduled pass alone) and renew the lease. Answers False when the lease was lost."""
    # The pool's threads do not touch the database: Dots' health is recorded here, once a chunk.
    if chunk.unreachable is not None:
        dots_health.record_failure(str(chunk.unreachable))
    elif chunk.answered:
        dots_health.record_success()
    if backoff and chunk.rows:
        _schedule_next(spec, chunk.rows, now=now)
    kept = True
    if run is not None and chunk.last_pk is not None:
        if run.scheduled:
            SyncProgress.objects.filter(step=run.step, lease_owner=run.owner).update(cursor=str(chunk.last_pk))
        kept = renew(run)
    chunk.rows, chunk.size, chunk.last_pk, chunk.answered, chunk.unreachable = [], 0, None, False, None
    return kept


def _schedule_next(spec: Followed, read_ok: list[tuple[Any, bool]], *, now: dt.datetime) -> None:
    """Each record's next check, written as one UPDATE per distinct due time (delays rounded to the
    minute, so a chunk takes a few statements, not one CASE over every row)."""
    model = spec.rows.model
    by_due: dict[dt.datetime, list[int]] = {}
    for row, changed in read_ok:
        changed_at = getattr(row, spec.changed_field, None) or now
        delay = next_check_delay(dt.timedelta(0) if changed else now - changed_at)
        minutes = round(delay.total_seconds() / 60)
        by_due.setdefault(now + dt.timedelta(minutes=minutes), []).append(row.pk)
    for due, pks in by_due.items():
        model.objects.filter(pk__in=pks).update(sync_checked_at=now, sync_due_at=due)


# --- reads for the sync page ---------------------------------------------------------------------------------


@dataclass
class StepState:
    """One step of the sync as a person reads it (the sync page: Keeping in step with Dots)."""

    name: str
    last_run: str  # "2026-12-06 14:02, took 3.2 s" or "not run yet"
    counts: str  # "5,000 due, 3,200 read, 1,800 left for the next run"
    last_summary: str
    pass_state: str  # "under way since 14:02 (every record)" / "last finished 2026-12-06 14:05"
    running: str  # "running since 14:02:10" or ""


def _when(moment: dt.datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return timezone.localtime(moment).strftime(fmt) if moment else ""


def step_states() -> list[StepState]:
    """Every declared step, in the order they run, with what its last run did."""
    rows = {p.step: p for p in SyncProgress.objects.all()}
    now = timezone.now()
    states = []
    for step in registry.sync_steps():
        row = rows.get(step.name)
        if row is None or row.last_run_started_at is None:
            states.append(StepState(step.name, "not run yet", "", "", "", ""))
            continue
        last_run = _when(row.last_run_finished_at or row.last_run_started_at)
        if row.last_duration_ms is not None:
            last_run += f", took {row.last_duration_ms / 1000:,.1f} s"
        if row.last_due is not None:
            counts = f"{row.last_due:,} due, {row.last_read or 0:,} read, {row.last_left or 0:,} left for the next run"
        elif row.last_read is not None:
            counts = f"{row.last_read:,} read"
        else:
            counts = ""
        if row.pass_started_at is not None:
            which = "every record" if row.pass_full else "the records due"
            pass_state = f"under way since {_when(row.pass_started_at)} ({which})"
        elif row.last_pass_finished_at is not None:
            pass_state = f"last finished {_when(row.last_pass_finished_at)}"
        else:
            pass_state = ""
        running = ""
        if row.lease_until is not None and row.lease_until > now:
            running = f"running since {_when(row.last_run_started_at, '%H:%M:%S')}"
        states.append(StepState(step.name, last_run, counts, row.last_summary, pass_state, running))
    return states
