"""The read-only mirror of Dots transfers: incremental and full sync, single-transfer refresh,
and the reads that show a transfer's payee, payout link and payable.

Sync walks Dots' list newest first, 100 a page. Per page it runs one SELECT of the page's
rows already known here and, when some are new, one bulk upsert of only those: at most 2
queries a page, plus a compare-and-set UPDATE and an audit event for each (rare) change
of status, amount or failure reason. A row's `fingerprint` is a hash
of every field we mirror, so "unchanged" is one string comparison, not a field-by-field diff.

Incremental (the default) stops at the first page whose transfers are all known and
unchanged. Dots lists by creation, so an older transfer that changes later (pending ->
failed days after payment) does not move up the list: the sync then re-reads by id the
transfers still open here that the listing did not reach (at most MAX_REREADS a run,
least recently checked first, so every open transfer gets its turn).

A page that fails (Dots unreachable) leaves the pages before it written, and the sync state
(TransferSyncState) says where to read on, so the next incremental sync fills the gap
before it trusts "known and unchanged" again.

No Dots call runs inside a transaction: a page is fetched, then written.
"""

from __future__ import annotations

import hashlib
import json
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from django.apps import apps as django_apps
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from core import audit, sync_runner
from core.dots_gateway import client, dots_call
from core.errors import DomainError, DotsOutcomeUnknownError, DotsRejected, DotsUnavailable
from core.models import AuditEvent
from core.money import format_cents
from core.sync_runner import PagingPass
from dots.types import parse_datetime
from payouts.models import Payee, PayoutLink, Transfer, TransferSyncState

logger = logging.getLogger(__name__)

PAGE_SIZE = 100  # the largest page Dots allows
MAX_REREADS = 200  # open transfers re-read by id per incremental sync (one GET each)
MAX_LINES = 50  # change lines kept for the report; the audit trail has every change
STATE_PK = 1

# The columns sync writes; everything else (id, checked_at) is left alone by an upsert.
UPSERT_FIELDS = [
    "type",
    "status",
    "amount_cents",
    "failure_reason",
    "dots_user_id",
    "payout_link_dots_id",
    "payable_dots_id",
    "dots_created_at",
    "fingerprint",
    "synced_at",
]
# The fields whose change is audited and reported; a change elsewhere (a link id Dots adds
# later, a row written before fingerprints existed) is written quietly.
AUDITED_FIELDS = ("status", "amount_cents", "failure_reason")


@dataclass
class TransferSyncResult:
    """What one sync did; `lines` and `errors` are for people (sync_dots prints them)."""

    full: bool = False
    pages: int = 0
    seen: int = 0
    created: int = 0
    changed: int = 0  # known transfers whose status, amount or failure reason changed (each audited)
    unchanged: int = 0
    rewritten: int = 0  # known transfers rewritten for other fields, not audited
    reread: int = 0  # open transfers read again by id
    stopped_early: bool = False
    lines: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def add_line(self, line: str) -> None:
        if len(self.lines) < MAX_LINES:
            self.lines.append(line)
        elif len(self.lines) == MAX_LINES:
            self.lines.append("... more changes: see the audit trail")

    def summary(self) -> str:
        how = "full" if self.full else ("incremental, stopped early" if self.stopped_early else "incremental")
        text = (
            f"transfers ({how}): {self.pages} pages, {self.seen} seen, {self.created} new, "
            f"{self.changed} changed, {self.unchanged} unchanged"
        )
        if self.reread:
            text += f", {self.reread} open ones re-read"
        if self.errors:
            text += f", {len(self.errors)} problems"
        return text


@dataclass
class _Mirrored:
    """A Dots transfer as the mirror's columns, with its fingerprint."""

    dots_id: str
    type: str
    status: str
    amount_cents: int | None
    failure_reason: str
    dots_user_id: str
    payout_link_dots_id: str
    payable_dots_id: str
    created: str
    fingerprint: str

    def audited(self) -> dict:
        return {"status": self.status, "amount_cents": self.amount_cents, "failure_reason": self.failure_reason}

    def to_model(self) -> Transfer:
        return Transfer(
            dots_id=self.dots_id,
            type=self.type,
            status=self.status,
            amount_cents=self.amount_cents,
            failure_reason=self.failure_reason,
            dots_user_id=self.dots_user_id,
            payout_link_dots_id=self.payout_link_dots_id,
            payable_dots_id=self.payable_dots_id,
            dots_created_at=parse_datetime(self.created or None),
            fingerprint=self.fingerprint,
        )


def _text(value, limit: int) -> str:
    return str(value)[:limit] if value not in (None, "") else ""


def _mirrored(raw: dict) -> _Mirrored | None:
    """Lenient (NOTES.md decision 11): odd values become blanks, never a crash; no id, no row."""
    dots_id = _text(raw.get("id"), 64)
    if not dots_id:
        return None
    amount = raw.get("amount")
    if isinstance(amount, bool) or not isinstance(amount, (int, str)):
        amount = None
    elif isinstance(amount, str):
        amount = int(amount) if amount.lstrip("-").isdigit() else None
    metadata = raw.get("metadata")
    payable_dots_id = metadata.get("payable_id") if isinstance(metadata, dict) else None
    values = [
        dots_id,
        _text(raw.get("type"), 30),
        _text(raw.get("status"), 30),
        amount,
        _text(raw.get("failure_reason"), 500),
        _text(raw.get("user_id"), 64),
        _text(raw.get("payout_link_id"), 64),
        _text(payable_dots_id, 64),
        _text(raw.get("created"), 64),
    ]
    fingerprint = hashlib.blake2b(json.dumps(values, separators=(",", ":")).encode(), digest_size=16).hexdigest()
    return _Mirrored(*values, fingerprint=fingerprint)


# --- writing one page ---------------------------------------------------------------------------------


def _describe_change(dots_id: str, before: dict, after: dict) -> str:
    parts = []
    if before["status"] != after["status"]:
        parts.append(f"{before['status'] or '(none)'} → {after['status'] or '(none)'}")
    if before["amount_cents"] != after["amount_cents"]:
        parts.append(f"amount {format_cents(before['amount_cents'])} → {format_cents(after['amount_cents'])}")
    line = f"transfer {dots_id[:8]}… " + ", ".join(parts or ["failure reason changed"])
    if after["failure_reason"]:
        line += f" ({after['failure_reason']})"
    return line


def _apply_page(raws: list[dict], *, actor: User, source: str, result: TransferSyncResult) -> bool:
    """Write the page's new and changed transfers; answers whether every one was known and unchanged.

    Queries: one SELECT; one upsert of the new and quietly changed rows; for each change of
    status, amount or failure reason (rare) a compare-and-set UPDATE and its audit event.
    """
    incoming: dict[str, _Mirrored] = {}
    for raw in raws:
        mirrored = _mirrored(raw) if isinstance(raw, dict) else None
        if mirrored is not None:
            incoming[mirrored.dots_id] = mirrored
    result.seen += len(incoming)
    if not incoming:
        return False
    known = {
        row[0]: row[1:]
        for row in Transfer.objects.filter(dots_id__in=list(incoming)).values_list(
            "dots_id", "pk", "fingerprint", *AUDITED_FIELDS
        )
    }
    to_upsert: list[_Mirrored] = []
    changes: list[tuple[int, str, _Mirrored, dict]] = []
    for dots_id, mirrored in incoming.items():
        row = known.get(dots_id)
        if row is None:
            to_upsert.append(mirrored)
            result.created += 1
            continue
        pk, fingerprint, *audited_values = row
        if fingerprint == mirrored.fingerprint:
            result.unchanged += 1
            continue
        before = dict(zip(AUDITED_FIELDS, audited_values, strict=False))
        if before != mirrored.audited():
            changes.append((pk, fingerprint, mirrored, before))
        else:
            to_upsert.append(mirrored)
            result.rewritten += 1
    if to_upsert:
        _upsert([m.to_model() for m in to_upsert])  # one statement: atomic on its own
    for pk, fingerprint, mirrored, before in changes:
        _apply_change(
            pk=pk, fingerprint=fingerprint, mirrored=mirrored, before=before, actor=actor, source=source, result=result
        )
    return not to_upsert and not changes


def _apply_change(
    *,
    pk: int,
    fingerprint: str,
    mirrored: _Mirrored,
    before: dict,
    actor: User,
    source: str,
    result: TransferSyncResult,
) -> None:
    """Write one audited change only if the row still holds what we read (compare-and-set on the
    fingerprint): a webhook and a sync that saw the same change at once audit it once."""
    model = mirrored.to_model()
    with transaction.atomic():
        written = Transfer.objects.filter(pk=pk, fingerprint=fingerprint).update(
            **{name: getattr(model, name) for name in UPSERT_FIELDS if name != "synced_at"}, synced_at=timezone.now()
        )
        if not written:
            return
        audit.record(
            actor=actor,
            action="transfer.changed",
            object_type="payouts.transfer",
            object_id=pk,
            object_repr=f"Transfer {mirrored.dots_id}",
            before=before,
            after=mirrored.audited(),
            source=source,
        )
    result.changed += 1
    result.add_line(_describe_change(mirrored.dots_id, before, mirrored.audited()))


def _upsert(rows: list[Transfer]) -> None:
    Transfer.objects.bulk_create(rows, update_conflicts=True, unique_fields=["dots_id"], update_fields=UPSERT_FIELDS)


def _record_new(*, actor: User, source: str, result: TransferSyncResult, note: str = "") -> None:
    """One event per run for every transfer seen for the first time, not one per row."""
    if not result.created:
        return
    audit.record(
        actor=actor,
        action="transfers.synced",
        object_type="payouts.transfer",
        object_repr="Dots transfers",
        source=source,
        reason=note,
        after={"new": result.created, "changed": result.changed, "pages": result.pages, "full": result.full},
    )


# --- sync ---------------------------------------------------------------------------------------------


class _Walk:
    """Where the current walk stands: the last transfer written (to resume from) and what it saw."""

    def __init__(self) -> None:
        self.last_written = ""
        self.seen: set[str] = set()
        self.reached_end = False
        # A resumable pass (core.sync_runner.PagingPass): stores the cursor after each page and
        # stops starting pages when the run's time budget is spent.
        self.paging: PagingPass | None = None


def _fetch_page(cursor: str | None):
    """One list page. Runs in the read-ahead thread too, so no database use here (dots_call may
    write Dots' health row): the caller wraps the result in dots_call in the sync's own thread."""
    return client().list_transfers(limit=PAGE_SIZE, starting_after=cursor)


def _walk_pages(
    *, starting_after: str, stop_when_known: bool, walk: _Walk, actor: User, source: str, result: TransferSyncResult
) -> None:
    """Read pages from `starting_after` (the top when empty) to the end, or to a known unchanged page.

    A walk that reads to the end fetches page k+1 in a second thread while page k is written:
    the fetch waits on Dots and the write on the database, so overlapping them takes the
    shorter of the two off every page. An incremental walk does not read ahead: it usually
    stops after a page or two, and a page fetched for nothing is a wasted call to Dots.
    """
    walk.last_written = starting_after
    read_ahead = not stop_when_known
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="transfers-read-ahead") as pool:
        next_page = pool.submit(_fetch_page, starting_after or None)
        while True:
            with dots_call("list the transfers"):
                page = next_page.result()
            raws = [item.raw for item in page.items]
            ids = [r.get("id") for r in raws if isinstance(r, dict) and r.get("id")]
            # A resumable pass reads ahead only while its budget lasts: a page read ahead past it
            # would be read again by the next run.
            if read_ahead and page.has_more and ids and (walk.paging is None or walk.paging.run.time_left()):
                next_page = pool.submit(_fetch_page, str(ids[-1]))
            result.pages += 1
            all_known = _apply_page(raws, actor=actor, source=source, result=result)
            if not ids:
                walk.reached_end = True
                return
            walk.seen.update(str(i) for i in ids)
            walk.last_written = str(ids[-1])
            if stop_when_known and all_known:
                result.stopped_early = True
                return
            if not page.has_more:
                walk.reached_end = True
                return
            if walk.paging is not None and (not walk.paging.save(walk.last_written) or not walk.paging.run.time_left()):
                return  # the rest of the pass goes on in the next run, after the stored cursor
            if not read_ahead:
                next_page = pool.submit(_fetch_page, walk.last_written)


def _save_state(**fields) -> None:
    TransferSyncState.objects.filter(pk=STATE_PK).update(**fields)


def transfers_sync(*, actor: User, full: bool = False, source: str = AuditEvent.Source.SYNC) -> TransferSyncResult:
    """Bring the transfer mirror in step with Dots; see the module docstring for how.

    `actor` is system_user() for the scheduled task and sync_dots, the user for the admin's button.
    Raises DotsUnavailable (or DotsRejected) when a page cannot be read; what was written
    stays, and the next sync reads on from there.
    """
    result = TransferSyncResult(full=full)
    paging = sync_runner.paging_pass()
    if paging is None and not full and _walk_left_open() and sync_runner.current_is_scheduled():
        # A killed walk leaves a gap only a read of every page closes: in a scheduled run, that
        # read is a resumable pass (its budget and cursor), not one walk that may outlast the task.
        paging = sync_runner.paging_pass(force=True)
    if paging is not None:
        return _paged_full_sync(paging, actor=actor, source=source, result=result)
    state, _ = TransferSyncState.objects.get_or_create(pk=STATE_PK)
    if state.walk_open and not full:
        # The previous sync ended without recording where (a killed worker): only reading
        # every page is sure to close whatever gap it left.
        result.full = full = True
        result.add_line("the previous transfer sync stopped without saying where: every page was read")
    resume = "" if full else state.resume_after
    _save_state(walk_open=True)
    walk = _Walk()
    try:
        if resume:
            try:
                _walk_pages(
                    starting_after=resume, stop_when_known=True, walk=walk, actor=actor, source=source, result=result
                )
            except DotsRejected as exc:
                if walk.last_written != resume:
                    raise
                # Dots no longer knows the id we stopped at (an emulator reset, say): read everything.
                logger.warning("transfer sync could not resume after %s (%s): reading every page", resume, exc)
                result.full = full = True
        _walk_pages(starting_after="", stop_when_known=not full, walk=walk, actor=actor, source=source, result=result)
    except DomainError as exc:
        _save_state(walk_open=False, resume_after=walk.last_written)
        _record_new(actor=actor, source=source, result=result, note=f"interrupted: {exc}")
        raise
    _save_state(walk_open=False, resume_after="", last_finished_at=timezone.now())
    if not full:
        _reread_open(skip=walk.seen, actor=actor, source=source, result=result)
    _record_new(actor=actor, source=source, result=result)
    return result


def _walk_left_open() -> bool:
    return TransferSyncState.objects.filter(pk=STATE_PK, walk_open=True).exists()


def _paged_full_sync(paging: PagingPass, *, actor: User, source: str, result: TransferSyncResult) -> TransferSyncResult:
    """A full pass in a scheduled run: from the pass's cursor, page by page, the cursor stored after
    each; it stops when the run's time budget is spent and the next run goes on from there."""
    result.full = True
    TransferSyncState.objects.get_or_create(pk=STATE_PK)
    walk = _Walk()
    walk.paging = paging
    try:
        _walk_pages(
            starting_after=paging.cursor, stop_when_known=False, walk=walk, actor=actor, source=source, result=result
        )
    except DomainError as exc:
        _record_new(actor=actor, source=source, result=result, note=f"interrupted: {exc}")
        raise
    if walk.reached_end:
        paging.finish()
        # Every page has been read since the last walk left open: the incremental sync trusts
        # "known and unchanged" again.
        _save_state(walk_open=False, resume_after="", last_finished_at=timezone.now())
    else:
        paging.run.more = True
        result.add_line(f"full pass goes on after transfer {paging.cursor} in the next run")
    _record_new(actor=actor, source=source, result=result)
    return result


def _reread_open(*, skip: set[str], actor: User, source: str, result: TransferSyncResult) -> None:
    """Read by id the transfers still open here that the listing did not reach, least recently checked first."""
    candidates = (
        Transfer.objects.filter(status__in=Transfer.OPEN_STATUSES)
        .order_by(F("checked_at").asc(nulls_first=True), "id")
        .values_list("dots_id", flat=True)[: MAX_REREADS + len(skip)]
    )
    todo = [dots_id for dots_id in candidates if dots_id not in skip][:MAX_REREADS]
    raws: list[dict] = []
    for dots_id in todo:
        try:
            with dots_call("read the transfer"):
                raws.append(client().retrieve_transfer(transfer_id=dots_id).raw)
        except DotsRejected as exc:
            result.errors.append(f"transfer {dots_id}: {exc}")
        except (DotsUnavailable, DotsOutcomeUnknownError) as exc:
            # The rest waits for the next sync; they keep their place in the queue.
            result.errors.append(f"{len(todo) - len(raws)} open transfers not re-read: {exc}")
            break
    for start in range(0, len(raws), PAGE_SIZE):
        _apply_page(raws[start : start + PAGE_SIZE], actor=actor, source=source, result=result)
    result.reread = len(raws)
    if raws:
        Transfer.objects.filter(dots_id__in=[r.get("id") for r in raws]).update(checked_at=timezone.now())
    for error in result.errors:
        logger.warning("transfer sync: %s", error)


def transfer_refresh(*, dots_transfer_id: str, actor: User, source: str) -> Transfer:
    """Read one transfer from Dots into the mirror (the webhook receiver's transfer.* events)."""
    with dots_call("read the transfer"):
        raw = client().retrieve_transfer(transfer_id=dots_transfer_id).raw
    result = TransferSyncResult()
    _apply_page([raw], actor=actor, source=source, result=result)
    _record_new(actor=actor, source=source, result=result, note=f"transfer {raw.get('id')}")
    transfer = Transfer.objects.get(dots_id=str(raw.get("id") or dots_transfer_id))
    Transfer.objects.filter(pk=transfer.pk).update(checked_at=timezone.now())
    return transfer


# --- reads for display ------------------------------------------------------------------------------------


@dataclass
class TransferLinks:
    payee: Payee | None = None
    payout_link: PayoutLink | None = None
    payable: object | None = None  # payables.Payable


def _payable_model():
    try:
        return django_apps.get_model("payables", "Payable")
    except LookupError:
        return None


def links_for(transfers: list[Transfer]) -> dict[int, TransferLinks]:
    """Each transfer's payee, payout link and payable, found by Dots ids: three queries for any number.

    A payable is found by the transfer it recorded (Payable.dots_transfer_id) or by the Dots
    payable id the transfer carries; the first finds only its latest payment attempt.
    """
    user_ids = {t.dots_user_id for t in transfers if t.dots_user_id}
    link_ids = {t.payout_link_dots_id for t in transfers if t.payout_link_dots_id}
    payees = {p.dots_user_id: p for p in Payee.objects.filter(dots_user_id__in=user_ids)} if user_ids else {}
    links = {pl.dots_id: pl for pl in PayoutLink.objects.filter(dots_id__in=link_ids)} if link_ids else {}
    by_transfer, by_dots_id = {}, {}
    Payable = _payable_model()
    transfer_ids = {t.dots_id for t in transfers}
    payable_ids = {t.payable_dots_id for t in transfers if t.payable_dots_id}
    if Payable is not None and (transfer_ids or payable_ids):
        for payable in Payable.objects.filter(Q(dots_transfer_id__in=transfer_ids) | Q(dots_id__in=payable_ids)):
            if payable.dots_transfer_id:
                by_transfer[payable.dots_transfer_id] = payable
            if payable.dots_id:
                by_dots_id[payable.dots_id] = payable
    return {
        t.pk: TransferLinks(
            payee=payees.get(t.dots_user_id),
            payout_link=links.get(t.payout_link_dots_id),
            payable=by_transfer.get(t.dots_id) or by_dots_id.get(t.payable_dots_id),
        )
        for t in transfers
    }


def transfer_of_payout_link(link: PayoutLink) -> Transfer | None:
    """The transfer a claimed payout link made, if the mirror has it."""
    conditions = Q(payout_link_dots_id=link.dots_id) if link.dots_id else Q(pk__in=[])
    if link.transfer_dots_id:
        conditions |= Q(dots_id=link.transfer_dots_id)
    return Transfer.objects.filter(conditions).first()


def transfer_of_payable(payable) -> Transfer | None:
    """The transfer of a payable's latest payment attempt, if the mirror has it."""
    if not payable.dots_transfer_id:
        return None
    return Transfer.objects.filter(dots_id=payable.dots_transfer_id).first()


def payable_transfer_html(payable) -> str | None:
    """The payable page's "Dots transfer" line: status and failure reason, linked to the transfer."""
    transfer = transfer_of_payable(payable)
    if transfer is None:
        return None
    label = f"{transfer.dots_id}: {transfer.get_status_display()}"
    if transfer.failure_reason:
        label += f" ({transfer.failure_reason})"
    url = reverse("admin:payouts_transfer_change", args=[transfer.pk])
    return format_html('<a href="{}">{}</a>', url, label)
