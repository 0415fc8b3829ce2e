"""Every state change of the payouts app.

Dots calls never run inside a transaction or under a row lock: the intent (status,
idempotency key, exact body) is committed first, Dots is called, then the outcome
is recorded in a second transaction.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import Count, Exists, F, OuterRef, Q, Sum
from django.utils import timezone
from django_q.tasks import async_task

from core import action_queue, audit
from core.dots_gateway import client, dots_call
from core.errors import DotsOutcomeUnknownError, DotsRejected, DotsUnavailable
from payouts import csv_import
from payouts import seam as payouts_seam
from payouts.errors import (
    ImportNotConfirmable,
    InvalidPayee,
    PayeeCreateFailed,
    PayeeNotInDots,
    RunNotReady,
    SegregationOfDutiesViolation,
)
from payouts.models import (
    Payee,
    PayeeImport,
    PayeeImportRow,
    PayoutLink,
    PayoutRequest,
    PayoutRun,
    PayoutRunItem,
    ensure_run_transition,
)

BATCH = 2000  # rows per bulk insert at preview
PROGRESS_EVERY = 50  # progress counters are written at most once per this many rows
RECORD_EVERY = 32  # outcomes written per transaction
IMPORT_WORKERS = 8  # concurrent Dots calls while importing
CREATE_ATTEMPTS = 4  # per row, for 5xx / unreachable answers
RETRY_BASE_SECONDS = 0.2

Row = PayeeImportRow.Status


# --- payees -----------------------------------------------------------------------------------


def payee_fields_from_dots(user: dict) -> dict:
    wallet = user.get("wallet") or {}
    compliance = user.get("compliance") or {}
    method = user.get("default_payout_method") or ""
    return {
        "dots_status": user.get("status") or "",
        "compliance": compliance,
        "wallet_cents": wallet.get("amount"),
        # Dots answers the method's id and platform, never a whole account number.
        "default_payout_method": str(method)[:100] if method else "",
    }


def _create_or_link_user(
    *, first_name: str, last_name: str, email: str, phone_e164: str, metadata=None, already_tried: bool = False
) -> tuple[str, dict | str]:
    """Create the Dots user, or find the one with this phone. Safe to repeat: never two users.

    Answers (outcome, user dict or error text) with outcome "created", "linked" or "failed".
    `already_tried` says an earlier attempt may have reached Dots (a dropped answer or a
    worker that died): a duplicate-phone answer then means our own earlier create.
    """
    country_code, national = csv_import.dots_phone(phone_e164)
    last_error = ""
    # The import runs this in worker threads that must not touch the database: no health writes.
    for attempt in range(CREATE_ATTEMPTS):
        try:
            with dots_call("create the payee", record_health=False):
                user = client().create_user(
                    first_name=first_name,
                    last_name=last_name,
                    email=email,
                    country_code=country_code,
                    phone_number=national,
                    metadata=metadata,
                )
            return "created", user.raw
        except DotsRejected as exc:
            body = getattr(exc.dots_error, "body", None) or {}
            if exc.dots_error_code == "user-already-exists" and body.get("user_id"):
                try:
                    with dots_call("read the existing Dots user", record_health=False):
                        user = client().retrieve_user(user_id=body["user_id"])
                except (DotsUnavailable, DotsOutcomeUnknownError) as read_exc:
                    last_error = str(read_exc)
                    time.sleep(RETRY_BASE_SECONDS * 2**attempt)
                    continue
                return ("created" if already_tried else "linked"), user.raw
            return "failed", str(exc)
        except DotsOutcomeUnknownError as exc:
            # The user may exist now; asking again is safe: a duplicate phone is answered with its id.
            already_tried = True
            last_error = str(exc)
        except DotsUnavailable as exc:
            last_error = str(exc)
        time.sleep(RETRY_BASE_SECONDS * 2**attempt)
    return "failed", last_error


def payee_create(
    *, first_name: str, last_name: str, email: str, phone: str, country: str = "US", external_id: str = "", actor
) -> Payee:
    """Create one payee in Dots (or link the Dots user that has this phone), then locally."""
    layout = csv_import.CsvLayout(
        encoding="",
        delimiter=",",
        header=[],
        columns={"first_name": 0, "last_name": 1, "email": 2, "phone": 3, "country_code": 4},
    )
    parsed = csv_import.validate_row(0, [first_name, last_name, email, phone, country], layout, 5)
    if parsed.errors:
        raise InvalidPayee(csv_import.describe_errors(parsed.errors))
    values = parsed.values
    existing = Payee.objects.filter(phone_e164=values["phone_e164"]).first()
    if existing is not None:
        raise InvalidPayee(f"{existing} is already a payee.", code="payee-exists")
    outcome, result = _create_or_link_user(
        first_name=values["first_name"],
        last_name=values["last_name"],
        email=values["email"],
        phone_e164=values["phone_e164"],
    )
    if outcome == "failed":
        raise PayeeCreateFailed(str(result))
    with transaction.atomic():
        payee = Payee.objects.create(
            first_name=values["first_name"],
            last_name=values["last_name"],
            email=values["email"],
            phone_e164=values["phone_e164"],
            country=values["country"],
            external_id=external_id,
            dots_user_id=result["id"],
            linked_existing=outcome == "linked",
            created_by=actor,
            last_dots_attempt_at=timezone.now(),
            **payee_fields_from_dots(result),
        )
        audit.record(
            actor=actor,
            action=f"payee.{outcome}",
            target=payee,
            after={"dots_user_id": payee.dots_user_id, "phone": payee.phone_e164},
        )
    return payee


def payee_refresh(*, payee_id: int, actor, source: str = "admin") -> Payee:
    payee = Payee.objects.get(pk=payee_id)
    if not payee.dots_user_id:
        raise PayeeNotInDots(f"{payee} has no Dots user yet.")
    try:
        with dots_call("read the payee"):
            user = client().retrieve_user(user_id=payee.dots_user_id)
    except (DotsUnavailable, DotsRejected, DotsOutcomeUnknownError) as exc:
        Payee.objects.filter(pk=payee.pk).update(last_dots_error=str(exc), last_dots_attempt_at=timezone.now())
        raise
    fields = payee_fields_from_dots(user.raw)
    with transaction.atomic():
        payee = Payee.objects.select_for_update().get(pk=payee_id)
        before = {name: getattr(payee, name) for name in ("dots_status", "wallet_cents", "default_payout_method")}
        for name, value in fields.items():
            setattr(payee, name, value)
        payee.last_dots_error = ""
        payee.last_dots_attempt_at = timezone.now()
        payee.save()
        after = {name: getattr(payee, name) for name in before}
        if before != after:
            audit.record(actor=actor, action="payee.refreshed", target=payee, before=before, after=after, source=source)
    return payee


def payee_update(*, payee_id: int, metadata: dict, external_id: str, actor) -> Payee:
    """Update what Dots lets us change on a user (metadata); names and phone are fixed in Dots."""
    payee = Payee.objects.get(pk=payee_id)
    if not payee.dots_user_id:
        raise PayeeNotInDots(f"{payee} has no Dots user yet.")
    try:
        with dots_call("update the payee"):
            user = client().update_user(user_id=payee.dots_user_id, metadata=metadata)
    except (DotsUnavailable, DotsRejected, DotsOutcomeUnknownError) as exc:
        Payee.objects.filter(pk=payee.pk).update(last_dots_error=str(exc), last_dots_attempt_at=timezone.now())
        raise
    with transaction.atomic():
        payee = Payee.objects.select_for_update().get(pk=payee_id)
        before = {"metadata": payee.metadata, "external_id": payee.external_id}
        payee.metadata = user.metadata if isinstance(user.metadata, dict) else metadata
        payee.external_id = external_id
        for name, value in payee_fields_from_dots(user.raw).items():
            setattr(payee, name, value)
        payee.last_dots_error = ""
        payee.last_dots_attempt_at = timezone.now()
        payee.save()
        audit.record(
            actor=actor,
            action="payee.updated",
            target=payee,
            before=before,
            after={"metadata": payee.metadata, "external_id": payee.external_id},
        )
    return payee


def payee_send_verification(*, payee_id: int, actor) -> Payee:
    payee = Payee.objects.get(pk=payee_id)
    if not payee.dots_user_id:
        raise PayeeNotInDots(f"{payee} has no Dots user yet.")
    with dots_call("send the verification token"):
        client().send_user_verification_token(user_id=payee.dots_user_id)
    audit.record(actor=actor, action="payee.verification_sent", target=payee)
    return payee


def payee_verify(*, payee_id: int, token: str, actor) -> Payee:
    payee = Payee.objects.get(pk=payee_id)
    if not payee.dots_user_id:
        raise PayeeNotInDots(f"{payee} has no Dots user yet.")
    with dots_call("verify the payee"):
        client().verify_user(user_id=payee.dots_user_id, token=token.strip())
    payee = payee_refresh(payee_id=payee_id, actor=actor)
    audit.record(actor=actor, action="payee.verified", target=payee, after={"dots_status": payee.dots_status})
    return payee


# --- imports: preview ---------------------------------------------------------------------------


def payee_import_preview(*, fileobj, file_name: str, actor) -> PayeeImport:
    """Read and validate the whole file into rows; nothing is created in Dots. Refuses bad files."""
    layout = csv_import.read_layout(fileobj)
    with transaction.atomic():
        payee_import = PayeeImport.objects.create(
            file_name=file_name[:255],
            encoding=layout.encoding,
            delimiter=layout.delimiter,
            header=layout.header,
            has_amount=layout.has_amount,
            uploaded_by=actor,
        )
        batch: list[tuple] = []
        for parsed in csv_import.iter_rows(fileobj, layout):
            batch.append(_row_values(payee_import.pk, parsed))
            if len(batch) >= BATCH:
                _insert_rows(batch)
                batch = []
        if batch:
            _insert_rows(batch)
        _flag_duplicates(payee_import)
        _count_preview(payee_import)
        audit.record(
            actor=actor,
            action="payee_import.previewed",
            target=payee_import,
            after={
                "rows": payee_import.total_rows,
                "valid": payee_import.valid_rows,
                "invalid": payee_import.invalid_rows,
                "duplicates": payee_import.duplicate_rows,
            },
        )
    return payee_import


_ROW_COLUMNS = (
    "payee_import_id",
    "line_number",
    "cells",
    "fields_ok",
    "first_name",
    "last_name",
    "email",
    "phone_e164",
    "country",
    "amount_cents",
    "memo",
    "external_id",
    "status",
    "error_column",
    "error_value",
    "error",
    "attempts",
)


def _row_values(import_id: int, parsed: csv_import.ParsedRow) -> tuple:
    values = parsed.values
    error_column = error_value = error = ""
    if parsed.errors:
        error_column, error_value, _why = parsed.errors[0]
        error = csv_import.describe_errors(parsed.errors)
    return (
        import_id,
        parsed.line_number,
        json.dumps(parsed.cells),
        not parsed.errors,
        values.get("first_name", ""),
        values.get("last_name", ""),
        values.get("email", ""),
        values.get("phone_e164", ""),
        values.get("country", ""),
        values.get("amount_cents"),
        values.get("memo", ""),
        values.get("external_id", ""),
        Row.INVALID if parsed.errors else Row.PENDING,
        error_column,
        error_value[:200],
        error,
        0,
    )


def _insert_rows(batch: list[tuple]) -> None:
    """A plain multi-row INSERT: bulk_create builds a model per row and cost half the preview's time."""
    table = PayeeImportRow._meta.db_table
    placeholders = ", ".join(["%s"] * len(_ROW_COLUMNS))
    sql = f"INSERT INTO {table} ({', '.join(_ROW_COLUMNS)}) VALUES ({placeholders})"
    with connection.cursor() as cursor:
        cursor.executemany(sql, batch)


def _flag_duplicates(payee_import: PayeeImport) -> None:
    """Within the file (a later row repeating an earlier valid row's phone or email) and against payees.

    Done in SQL, so memory does not grow with the file. `fields_ok` never changes here,
    so the subqueries read the same thing before and after the update.
    """
    rows = PayeeImportRow.objects.filter(payee_import=payee_import)
    earlier = PayeeImportRow.objects.filter(
        payee_import=payee_import, fields_ok=True, line_number__lt=OuterRef("line_number")
    )
    existing_phone = Payee.objects.filter(phone_e164=OuterRef("phone_e164"))
    existing_email = Payee.objects.filter(email=OuterRef("email"))
    rows.filter(fields_ok=True).filter(Exists(existing_phone) | Exists(existing_email)).update(
        status=Row.EXISTING, error="already a payee (same phone or email)"
    )
    rows.filter(fields_ok=True, status=Row.PENDING).filter(
        Exists(earlier.filter(phone_e164=OuterRef("phone_e164"))) | Exists(earlier.filter(email=OuterRef("email")))
    ).update(status=Row.DUPLICATE, error="same phone or email as an earlier row")
    for row in rows.filter(status=Row.DUPLICATE).only("id", "phone_e164", "email", "line_number").iterator():
        first = (
            PayeeImportRow.objects.filter(payee_import=payee_import, fields_ok=True, line_number__lt=row.line_number)
            .filter(Q(phone_e164=row.phone_e164) | Q(email=row.email))
            .order_by("line_number")
            .first()
        )
        if first is not None:
            same = "phone" if first.phone_e164 == row.phone_e164 else "email"
            PayeeImportRow.objects.filter(pk=row.pk).update(
                error=f"same {same} as line {first.line_number}",
                error_column=same,
                error_value=row.phone_e164 if same == "phone" else row.email,
            )
    # Existing payees: link the row, so a payout run can still pay them.
    for row in rows.filter(status=Row.EXISTING).only("id", "phone_e164", "email").iterator():
        payee = Payee.objects.filter(Q(phone_e164=row.phone_e164) | Q(email=row.email)).first()
        PayeeImportRow.objects.filter(pk=row.pk).update(payee=payee, error=f"already a payee: {payee}")


def _count_preview(payee_import: PayeeImport) -> None:
    counts = dict(
        PayeeImportRow.objects.filter(payee_import=payee_import)
        .values_list("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    )
    payee_import.total_rows = sum(counts.values())
    payee_import.invalid_rows = counts.get(Row.INVALID, 0)
    payee_import.duplicate_rows = counts.get(Row.DUPLICATE, 0) + counts.get(Row.EXISTING, 0)
    payee_import.existing_rows = counts.get(Row.EXISTING, 0)
    payee_import.valid_rows = counts.get(Row.PENDING, 0)
    payee_import.save(update_fields=["total_rows", "invalid_rows", "duplicate_rows", "existing_rows", "valid_rows"])


# --- imports: confirm, cancel, process -------------------------------------------------------------


@transaction.atomic
def payee_import_confirm(*, import_id: int, actor) -> PayeeImport:
    """Queue the import of the valid rows; with amounts, prepare the payout run too."""
    updated = PayeeImport.objects.filter(pk=import_id, status=PayeeImport.Status.PREVIEW).update(
        status=PayeeImport.Status.QUEUED, confirmed_by=actor
    )
    payee_import = PayeeImport.objects.get(pk=import_id)
    if not updated:
        raise ImportNotConfirmable(
            f"{payee_import} is {payee_import.get_status_display().lower()}; only a previewed import can be confirmed."
        )
    audit.record(
        actor=actor,
        action="payee_import.confirmed",
        target=payee_import,
        before={"status": PayeeImport.Status.PREVIEW},
        after={"status": payee_import.status},
    )
    if payee_import.has_amount:
        _prepare_run(payee_import, actor)
    transaction.on_commit(lambda: async_task("payouts.tasks.payee_import_run", import_id))
    return payee_import


def _prepare_run(payee_import: PayeeImport, actor) -> PayoutRun:
    payable_rows = PayeeImportRow.objects.filter(
        payee_import=payee_import, status__in=[Row.PENDING, Row.EXISTING], amount_cents__gt=0
    )
    run = PayoutRun.objects.create(payee_import=payee_import, created_by=actor)
    items = (
        PayoutRunItem(run=run, row_id=row_id, amount_cents=cents, memo=memo)
        for row_id, cents, memo in payable_rows.values_list("id", "amount_cents", "memo").iterator()
    )
    batch = []
    for item in items:
        batch.append(item)
        if len(batch) >= BATCH:
            PayoutRunItem.objects.bulk_create(batch)
            batch = []
    PayoutRunItem.objects.bulk_create(batch)
    totals = run.items.aggregate(n=Count("id"), total=Sum("amount_cents"))
    run.item_count, run.total_cents = totals["n"], totals["total"] or 0
    run.save(update_fields=["item_count", "total_cents"])
    audit.record(
        actor=actor,
        action="payout_run.created",
        target=run,
        after={"count": run.item_count, "total_cents": run.total_cents},
    )
    return run


@transaction.atomic
def payee_import_discard(*, import_id: int, actor) -> PayeeImport:
    updated = PayeeImport.objects.filter(pk=import_id, status=PayeeImport.Status.PREVIEW).update(
        status=PayeeImport.Status.DISCARDED, finished_at=timezone.now()
    )
    payee_import = PayeeImport.objects.get(pk=import_id)
    if not updated:
        raise ImportNotConfirmable(f"{payee_import} is {payee_import.get_status_display().lower()}.")
    audit.record(
        actor=actor,
        action="payee_import.discarded",
        target=payee_import,
        before={"status": PayeeImport.Status.PREVIEW},
        after={"status": payee_import.status},
    )
    return payee_import


@transaction.atomic
def payee_import_cancel(*, import_id: int, actor) -> PayeeImport:
    """Stop a queued or running import after the rows in flight; a preview is discarded instead."""
    payee_import = PayeeImport.objects.get(pk=import_id)
    if payee_import.status == PayeeImport.Status.PREVIEW:
        return payee_import_discard(import_id=import_id, actor=actor)
    updated = PayeeImport.objects.filter(
        pk=import_id, status__in=[PayeeImport.Status.QUEUED, PayeeImport.Status.RUNNING], cancel_requested=False
    ).update(cancel_requested=True)
    if not updated:
        raise ImportNotConfirmable(
            f"{payee_import} is {payee_import.get_status_display().lower()}; there is nothing to cancel."
        )
    audit.record(
        actor=actor, action="payee_import.cancel_requested", target=payee_import, after={"cancel_requested": True}
    )
    if payee_import.status == PayeeImport.Status.QUEUED:
        # Nobody has started it: finish it now (a task that starts later finds it cancelled).
        transaction.on_commit(lambda: payee_import_process(import_id=import_id, actor=actor))
    return payee_import


@dataclass
class _Outcome:
    row: PayeeImportRow
    outcome: str  # created | linked | failed
    result: dict | str


def payee_import_process(*, import_id: int, actor, workers: int = IMPORT_WORKERS) -> PayeeImport:
    """Create the import's pending rows in Dots. Safe to run twice and after a worker died.

    A row is marked `creating` (committed) before its Dots call. A row found `creating`
    later is created again: Dots answers a duplicate phone with the existing user's id,
    which is then linked, so a row never makes a second Dots user.
    """
    started = PayeeImport.objects.filter(
        pk=import_id, status__in=[PayeeImport.Status.QUEUED, PayeeImport.Status.RUNNING]
    ).update(status=PayeeImport.Status.RUNNING)
    if not started:
        return PayeeImport.objects.get(pk=import_id)
    PayeeImport.objects.filter(pk=import_id, started_at__isnull=True).update(started_at=timezone.now())
    rows = PayeeImportRow.objects.filter(payee_import_id=import_id)
    # Rows a dead worker left `creating` go first; their Dots call may have happened.
    leftovers = list(rows.filter(status=Row.CREATING).order_by("id").values_list("id", flat=True))
    window = workers * 4  # calls in flight: enough to keep every thread busy while outcomes are written
    in_flight: dict = {}
    finished: list[_Outcome] = []
    since_flush = 0
    cancelled = False
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="payee-import") as pool:
        while True:
            if not cancelled and len(in_flight) <= window // 2:
                # Cancel is read before each refill: at most one window of rows runs on after it.
                cancelled = PayeeImport.objects.filter(pk=import_id, cancel_requested=True).exists()
                if not cancelled:
                    _submit_rows(pool, in_flight, rows, leftovers, window - len(in_flight), import_id)
            if not in_flight:
                break
            done, _ = wait(list(in_flight), return_when=FIRST_COMPLETED)
            for future in done:
                row = in_flight.pop(future)
                finished.append(_Outcome(row, *future.result()))
            if len(finished) >= RECORD_EVERY or not in_flight:
                _record_outcomes(finished, actor)
                since_flush += len(finished)
                finished = []
                if since_flush >= PROGRESS_EVERY:
                    _write_progress(import_id)
                    since_flush = 0
        if finished:
            _record_outcomes(finished, actor)
    return _finish_import(import_id, actor)


def _submit_rows(pool, in_flight: dict, rows, leftovers: list[int], count: int, import_id: int) -> None:
    if count <= 0:
        return
    retried_ids = leftovers[:count]
    del leftovers[: len(retried_ids)]
    chunk = list(rows.filter(pk__in=retried_ids)) if retried_ids else []
    if len(chunk) < count:
        chunk += list(rows.filter(status=Row.PENDING).order_by("id")[: count - len(chunk)])
    if not chunk:
        return
    ids = [row.pk for row in chunk]
    # The intent, committed before any call (autocommit: this UPDATE is its own transaction).
    PayeeImportRow.objects.filter(pk__in=ids).update(status=Row.CREATING, attempts=F("attempts") + 1)
    for row in chunk:
        future = pool.submit(
            _create_or_link_user,
            first_name=row.first_name,
            last_name=row.last_name,
            email=row.email,
            phone_e164=row.phone_e164,
            metadata={"ledgerline_import": str(import_id), "line": str(row.line_number)},
            already_tried=row.status == Row.CREATING or row.attempts > 0,
        )
        in_flight[future] = row


def _record_outcomes(outcomes: list[_Outcome], actor) -> None:
    """One transaction per batch: a few set-based queries, then one audit event per payee."""
    now = timezone.now()
    with transaction.atomic():
        succeeded = [item for item in outcomes if item.outcome != "failed"]
        user_ids = [item.result["id"] for item in succeeded]
        phones = [item.row.phone_e164 for item in succeeded]
        known = {p.dots_user_id: p for p in Payee.objects.filter(dots_user_id__in=user_ids)}
        by_phone = {p.phone_e164: p for p in Payee.objects.filter(phone_e164__in=phones)}
        new: list[tuple[_Outcome, Payee]] = []
        for item in succeeded:
            row, user = item.row, item.result
            if known.get(user["id"]) or by_phone.get(row.phone_e164):
                continue
            payee = Payee(
                first_name=row.first_name,
                last_name=row.last_name,
                email=row.email,
                phone_e164=row.phone_e164,
                country=row.country or "US",
                external_id=row.external_id,
                dots_user_id=user["id"],
                linked_existing=item.outcome == "linked",
                created_by=actor,
                last_dots_attempt_at=now,
                **payee_fields_from_dots(user),
            )
            by_phone[row.phone_e164] = payee
            new.append((item, payee))
        Payee.objects.bulk_create([payee for _item, payee in new])
        if new and new[0][1].pk is None:  # a backend that does not return ids
            pks = dict(
                Payee.objects.filter(phone_e164__in=[p.phone_e164 for _i, p in new]).values_list("phone_e164", "pk")
            )
            for _item, payee in new:
                payee.pk = payee.id = pks[payee.phone_e164]
        for item, payee in new:
            audit.record(
                actor=actor,
                action="payee.created" if item.outcome == "created" else "payee.linked",
                target=payee,
                source="task",
                after={"dots_user_id": payee.dots_user_id, "phone": payee.phone_e164},
                reason=f"import #{item.row.payee_import_id}, line {item.row.line_number}",
            )
        rows = []
        for item in outcomes:
            row = item.row
            if item.outcome == "failed":
                row.status, row.error = Row.FAILED, str(item.result)[:2000]
            else:
                payee = known.get(item.result["id"]) or by_phone[row.phone_e164]
                row.status = Row.CREATED if item.outcome == "created" else Row.LINKED
                row.payee, row.error = payee, ""
            rows.append(row)
        PayeeImportRow.objects.bulk_update(rows, ["status", "error", "payee"])


def _write_progress(import_id: int) -> None:
    counts = dict(
        PayeeImportRow.objects.filter(payee_import_id=import_id)
        .values_list("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    )
    PayeeImport.objects.filter(pk=import_id).update(
        created_count=counts.get(Row.CREATED, 0),
        linked_count=counts.get(Row.LINKED, 0),
        failed_count=counts.get(Row.FAILED, 0),
        cancelled_count=counts.get(Row.CANCELLED, 0),
        progress_updated_at=timezone.now(),
    )


def _finish_import(import_id: int, actor) -> PayeeImport:
    with transaction.atomic():
        payee_import = PayeeImport.objects.select_for_update().get(pk=import_id)
        if payee_import.cancel_requested:
            PayeeImportRow.objects.filter(payee_import_id=import_id, status=Row.PENDING).update(
                status=Row.CANCELLED, error="import cancelled before this row"
            )
        elif PayeeImportRow.objects.filter(payee_import_id=import_id, status__in=[Row.PENDING, Row.CREATING]).exists():
            return payee_import  # another run is still working on it
        _write_progress(import_id)
        payee_import.refresh_from_db()
        before = payee_import.status
        payee_import.status = (
            PayeeImport.Status.CANCELLED if payee_import.cancel_requested else PayeeImport.Status.COMPLETED
        )
        payee_import.finished_at = timezone.now()
        payee_import.save(update_fields=["status", "finished_at"])
        audit.record(
            actor=actor,
            action="payee_import.finished",
            target=payee_import,
            source="task",
            before={"status": before},
            after={
                "status": payee_import.status,
                "created": payee_import.created_count,
                "linked": payee_import.linked_count,
                "failed": payee_import.failed_count,
                "cancelled": payee_import.cancelled_count,
            },
        )
        run = PayoutRun.objects.filter(payee_import=payee_import).first()
        if run is not None:
            _settle_run_items_after_import(run)
    return payee_import


def _settle_run_items_after_import(run: PayoutRun) -> None:
    """Items whose payee could not be created will not be paid; the run page says why."""
    for item in run.items.select_related("row").filter(status=PayoutRunItem.Status.WAITING):
        if item.row.payee_id is None:
            PayoutRunItem.objects.filter(pk=item.pk).update(
                status=PayoutRunItem.Status.SKIPPED,
                outcome=f"payee not created: {item.row.get_status_display().lower()} {item.row.error}".strip(),
            )


# --- payout links ------------------------------------------------------------------------------------


def _link_body(
    *,
    payee: Payee | None,
    amount_cents: int,
    delivery_method: str,
    memo: str,
    tax_exempt: bool,
    key: str,
    payee_details: dict | None = None,
) -> dict:
    body = {
        "amount": amount_cents,
        "idempotency_key": key,
        "delivery": {"method": delivery_method},
        "tax_exempt": tax_exempt,
    }
    if payee is not None and payee.dots_user_id:
        body["user_id"] = payee.dots_user_id
    if payee is not None:
        country_code, national = csv_import.dots_phone(payee.phone_e164)
        body["payee"] = {
            "first_name": payee.first_name,
            "last_name": payee.last_name,
            "email": payee.email,
            "country_code": country_code,
            "phone_number": national,
        }
    elif payee_details:
        body["payee"] = payee_details
    if memo:
        body["memo"] = memo
    return body


@transaction.atomic
def payout_link_request(
    *,
    amount_cents: int,
    actor,
    payee_id: int | None = None,
    delivery_method: str = "link",
    memo: str = "",
    tax_exempt: bool = False,
    push: bool = True,
) -> PayoutLink:
    """Store the intent (key and exact body); the Dots call happens after commit (payout_link_push)."""
    payee = Payee.objects.get(pk=payee_id) if payee_id else None
    link = PayoutLink(
        payee=payee,
        amount_cents=amount_cents,
        delivery_method=delivery_method,
        memo=memo,
        tax_exempt=tax_exempt,
        created_by=actor,
    )
    link.request_body = _link_body(
        payee=payee,
        amount_cents=amount_cents,
        delivery_method=delivery_method,
        memo=memo,
        tax_exempt=tax_exempt,
        key=str(link.idempotency_key),
    )
    link.save()
    audit.record(
        actor=actor,
        action="payout_link.requested",
        target=link,
        after={"amount_cents": amount_cents, "payee": str(payee) if payee else "", "delivery": delivery_method},
    )
    if push:
        transaction.on_commit(lambda: async_task("payouts.tasks.payout_link_push", link.pk))
    return link


def payout_link_push(
    *, payout_link_id: int, actor, retry_refused: bool = False, from_queue: bool = False
) -> PayoutLink:
    """Send the stored body with the stored key. Repeating it never makes a second link.

    `retry_refused` sends a refused link again (Dots does not remember refused requests,
    so the same key is safe once the cause, say a short wallet, is fixed).
    While Dots is unreachable the push is queued (ActionQueued); when Dots does not answer
    a retry is queued (core.action_queue: backoff, stops 23 h after the link was made).
    `from_queue`: called by the queue (or by a caller that retries by itself): never queue.
    """
    link = PayoutLink.objects.get(pk=payout_link_id)
    retryable = {PayoutLink.Status.PENDING, PayoutLink.Status.UNKNOWN}
    if retry_refused:
        retryable.add(PayoutLink.Status.REFUSED)
    if link.status not in retryable:
        return link
    action_queue.queue_if_unreachable(
        kind=payouts_seam.PAYOUT_LINK_PUSH,
        target=link,
        actor=actor,
        arguments={"retry_refused": True} if retry_refused else {},
        from_queue=from_queue,
    )
    now = timezone.now()
    try:
        with dots_call("create the payout link"):
            created = client().create_payout_link(**link.request_body)
    except DotsOutcomeUnknownError as exc:
        _link_failed(link, PayoutLink.Status.UNKNOWN, str(exc), "payout_link.outcome_unknown", actor, now)
        _queue_link_retry(link, actor=actor, error=str(exc), from_queue=from_queue)
        raise
    except DotsUnavailable as exc:
        _link_failed(link, link.status, str(exc), None, actor, now)
        _queue_link_retry(link, actor=actor, error=str(exc), from_queue=from_queue)
        raise
    except DotsRejected as exc:
        _link_failed(link, PayoutLink.Status.REFUSED, str(exc), "payout_link.refused", actor, now)
        raise
    with transaction.atomic():
        link = PayoutLink.objects.select_for_update().get(pk=payout_link_id)
        before = link.status
        apply_link_state(link, created.raw)
        link.last_dots_error = ""
        link.last_dots_attempt_at = now
        link.save()
        audit.record(
            actor=actor,
            action="payout_link.created",
            target=link,
            before={"status": before},
            after={"status": link.status, "dots_id": link.dots_id},
        )
    return link


def _queue_link_retry(link: PayoutLink, *, actor, error: str, from_queue: bool) -> None:
    if not from_queue:
        # The key was made with the link: Dots forgets it 24 h after, so retries stop at 23 h.
        action_queue.queue_retry(
            kind=payouts_seam.PAYOUT_LINK_PUSH,
            target=link,
            actor=actor,
            error=error,
            first_attempt_at=link.created_at,
        )


def _link_failed(link, status, message, action, actor, now) -> None:
    with transaction.atomic():
        before = link.status
        # Only while no push has recorded a Dots id: a failure seen by one push must not undo
        # the link another push (same key) recorded a moment earlier.
        if not PayoutLink.objects.filter(pk=link.pk, dots_id__isnull=True).update(
            status=status, last_dots_error=message[:2000], last_dots_attempt_at=now
        ):
            return
        if action:
            audit.record(
                actor=actor,
                action=action,
                target=link,
                before={"status": before},
                after={"status": status},
                reason=message[:500],
            )


def apply_link_state(link: PayoutLink, data: dict) -> bool:
    """Copy Dots' view; append to the timeline when the status moved. Answers whether it moved."""
    status = data.get("status") or link.status
    moved = status != link.status
    link.dots_id = data.get("id") or link.dots_id
    link.link = data.get("link") or link.link
    link.claimed_user_id = data.get("claimed_user_id") or link.claimed_user_id
    link.transfer_dots_id = data.get("transfer_id") or link.transfer_dots_id
    if moved or not link.timeline:
        link.timeline = [*link.timeline, {"status": status, "seen_at": timezone.now().isoformat()}]
    link.status = status
    return moved


def payout_link_refresh(*, payout_link_id: int, actor, source: str = "task") -> PayoutLink:
    link = PayoutLink.objects.get(pk=payout_link_id)
    if not link.dots_id:
        if link.status == PayoutLink.Status.UNKNOWN:
            # Refresh (sync, reconciliation) retries by itself: call Dots, never queue.
            # from_queue: call Dots now, never queue (the refresh itself is retried by sync/reconciliation).
            return payout_link_push(payout_link_id=link.pk, actor=actor, from_queue=True)
        return link
    with dots_call("read the payout link"):
        data = client().retrieve_payout_link(payout_link_id=link.dots_id).raw
    return _store_link_state(link.pk, data, actor, source=source)


def _store_link_state(link_id: int, data: dict, actor, *, source: str = "task") -> PayoutLink:
    with transaction.atomic():
        link = PayoutLink.objects.select_for_update().get(pk=link_id)
        before = link.status
        moved = apply_link_state(link, data)
        link.save()
        if moved:
            audit.record(
                actor=actor,
                action="payout_link.status_changed",
                target=link,
                source=source,
                before={"status": before},
                after={"status": link.status},
            )
    return link


def payout_link_cancel(*, payout_link_id: int, actor, reason: str = "") -> PayoutLink:
    link = PayoutLink.objects.get(pk=payout_link_id)
    if not link.dots_id:
        raise PayeeNotInDots(f"{link} is not in Dots ({link.get_status_display()}).", code="not-in-dots")
    with dots_call("cancel the payout link"):
        data = client().cancel_payout_link(payout_link_id=link.dots_id).raw
    link = _store_link_state(link.pk, data, actor)
    audit.record(actor=actor, action="payout_link.cancelled", target=link, after={"status": link.status}, reason=reason)
    return link


def payout_link_redeliver(*, payout_link_id: int, actor) -> PayoutLink:
    link = PayoutLink.objects.get(pk=payout_link_id)
    if not link.dots_id:
        raise PayeeNotInDots(f"{link} is not in Dots ({link.get_status_display()}).", code="not-in-dots")
    with dots_call("redeliver the payout link"):
        answer = client().redeliver_payout_link(payout_link_id=link.dots_id)
    data = dict(answer).get("payout_link") or {}
    if data:
        link = _store_link_state(link.pk, data, actor)
    audit.record(
        actor=actor,
        action="payout_link.redelivered",
        target=link,
        after={"redelivered": bool(dict(answer).get("redelivered"))},
    )
    return link


# --- payout requests ------------------------------------------------------------------------------


@transaction.atomic
def payout_request_request(
    *,
    amount_cents: int,
    actor,
    payee_id: int | None = None,
    phone: str = "",
    country: str = "US",
    memo: str = "",
    push: bool = True,
) -> PayoutRequest:
    payee = Payee.objects.get(pk=payee_id) if payee_id else None
    request = PayoutRequest(payee=payee, amount_cents=amount_cents, memo=memo, created_by=actor)
    body: dict = {"amount": amount_cents, "metadata": {"ledgerline_key": str(request.idempotency_key)}}
    if payee is not None and payee.dots_user_id:
        body["user_id"] = payee.dots_user_id
    else:
        e164 = payee.phone_e164 if payee else _e164_or_refuse(phone, country)
        request.phone_e164 = e164
        country_code, national = csv_import.dots_phone(e164)
        body["payee"] = {"country_code": country_code, "phone_number": national}
    if memo:
        body["memo"] = memo
    request.request_body = body
    request.save()
    audit.record(
        actor=actor,
        action="payout_request.requested",
        target=request,
        after={"amount_cents": amount_cents, "payee": str(payee) if payee else request.phone_e164},
    )
    if push:
        transaction.on_commit(lambda: async_task("payouts.tasks.payout_request_push", request.pk))
    return request


def _e164_or_refuse(phone: str, country: str) -> str:
    layout = csv_import.CsvLayout(encoding="", delimiter=",", header=[], columns={"phone": 0, "country_code": 1})
    parsed = csv_import.validate_row(0, [phone, country], layout, 2)
    errors = [e for e in parsed.errors if e[0] in ("phone", "country_code")]
    if errors:
        raise InvalidPayee(csv_import.describe_errors(errors), code="invalid-phone")
    return parsed.values["phone_e164"]


def _find_request_by_key(key: str) -> dict | None:
    with dots_call("look for the payout request"):
        for found in client().iter_payout_requests():
            metadata = found.metadata if isinstance(found.metadata, dict) else {}
            if metadata.get("ledgerline_key") == key:
                return found.raw
    return None


def payout_request_push(*, payout_request_id: int, actor, from_queue: bool = False) -> PayoutRequest:
    """Create it in Dots. Dots has no key here, so after an unknown outcome we first look for ours.

    Queued while Dots is unreachable (ActionQueued), and retried by the queue when Dots did
    not answer; `from_queue` as in payout_link_push.
    """
    request = PayoutRequest.objects.get(pk=payout_request_id)
    if request.status not in (PayoutRequest.Status.PENDING, PayoutRequest.Status.UNKNOWN):
        return request
    action_queue.queue_if_unreachable(
        kind=payouts_seam.PAYOUT_REQUEST_PUSH, target=request, actor=actor, from_queue=from_queue
    )
    now = timezone.now()
    data = None
    if request.status == PayoutRequest.Status.UNKNOWN:
        data = _find_request_by_key(str(request.idempotency_key))
    if data is None:
        try:
            with dots_call("create the payout request"):
                data = client().create_payout_request(**request.request_body).raw
        except (DotsOutcomeUnknownError, DotsUnavailable, DotsRejected) as exc:
            status = {
                DotsOutcomeUnknownError: PayoutRequest.Status.UNKNOWN,
                DotsRejected: PayoutRequest.Status.REFUSED,
            }.get(type(exc), request.status)
            with transaction.atomic():
                PayoutRequest.objects.filter(pk=request.pk).update(
                    status=status, last_dots_error=str(exc)[:2000], last_dots_attempt_at=now
                )
                if status != request.status:
                    action = (
                        "payout_request.outcome_unknown"
                        if status == PayoutRequest.Status.UNKNOWN
                        else "payout_request.refused"
                    )
                    audit.record(
                        actor=actor,
                        action=action,
                        target=request,
                        before={"status": request.status},
                        after={"status": status},
                        reason=str(exc)[:500],
                    )
            if not from_queue and not isinstance(exc, DotsRejected):
                action_queue.queue_retry(
                    kind=payouts_seam.PAYOUT_REQUEST_PUSH, target=request, actor=actor, error=str(exc)
                )
            raise
    return store_request_state(request.pk, data, actor, action="payout_request.created")


def store_request_state(
    request_id: int, data: dict, actor, *, action: str = "payout_request.status_changed", source: str = "task"
):
    with transaction.atomic():
        request = PayoutRequest.objects.select_for_update().get(pk=request_id)
        before = request.status
        request.dots_id = data.get("id") or request.dots_id
        request.status = data.get("status") or request.status
        request.last_dots_error = ""
        request.last_dots_attempt_at = timezone.now()
        link_data = data.get("payout-link") or data.get("payout_link")
        if isinstance(link_data, dict) and link_data.get("id"):
            link = PayoutLink.objects.filter(dots_id=link_data["id"]).first()
            if link is None:
                link = PayoutLink(
                    payee=request.payee,
                    amount_cents=link_data.get("amount") or request.amount_cents,
                    delivery_method=(link_data.get("delivery") or {}).get("method", "sms")
                    if (link_data.get("delivery") or {}).get("method") in ("link", "sms", "email")
                    else "sms",
                    memo=request.memo,
                    created_by=request.created_by,
                    request_body={"from_payout_request": request.dots_id},
                )
            apply_link_state(link, link_data)
            link.save()
            request.payout_link = link
        request.save()
        if before != request.status or action == "payout_request.created":
            audit.record(
                actor=actor,
                action=action,
                target=request,
                source=source,
                before={"status": before},
                after={"status": request.status, "dots_id": request.dots_id},
            )
    return request


def payout_request_refresh(*, payout_request_id: int, actor, source: str = "task") -> PayoutRequest:
    request = PayoutRequest.objects.get(pk=payout_request_id)
    if not request.dots_id:
        if request.status == PayoutRequest.Status.UNKNOWN:
            # Refresh (sync, reconciliation) retries by itself: call Dots, never queue.
            # from_queue: call Dots now, never queue (the refresh itself is retried by sync/reconciliation).
            return payout_request_push(payout_request_id=request.pk, actor=actor, from_queue=True)
        return request
    with dots_call("read the payout request"):
        data = client().retrieve_payout_request(payout_request_id=request.dots_id).raw
    return store_request_state(request.pk, data, actor, source=source)


# --- payout runs ------------------------------------------------------------------------------------


@transaction.atomic
def payout_run_approve(*, run_id: int, actor) -> PayoutRun:
    """A second person (never the importer, superusers included) approves; sending follows."""
    run = PayoutRun.objects.select_related("payee_import").get(pk=run_id)
    if actor.pk in (run.created_by_id, run.payee_import.uploaded_by_id):
        raise SegregationOfDutiesViolation(f"{run}: you prepared this run; another person must approve it.")
    if run.payee_import.status not in (PayeeImport.Status.COMPLETED, PayeeImport.Status.CANCELLED):
        raise RunNotReady(f"{run}: its payees are still being imported; approve it when the import has finished.")
    ensure_run_transition(run, PayoutRun.Status.SENDING)
    updated = PayoutRun.objects.filter(pk=run_id, status=PayoutRun.Status.AWAITING_APPROVAL).update(
        status=PayoutRun.Status.SENDING, approved_by=actor, approved_at=timezone.now()
    )
    if not updated:
        raise RunNotReady(f"{run} was approved by someone else a moment ago.")
    run.refresh_from_db()
    audit.record(
        actor=actor,
        action="payout_run.approved",
        target=run,
        before={"status": PayoutRun.Status.AWAITING_APPROVAL},
        after={"status": run.status, "total_cents": run.total_cents, "count": run.item_count},
    )
    transaction.on_commit(lambda: async_task("payouts.tasks.payout_run_send", run_id))
    return run


@transaction.atomic
def payout_run_cancel(*, run_id: int, actor, reason: str = "") -> PayoutRun:
    run = PayoutRun.objects.get(pk=run_id)
    ensure_run_transition(run, PayoutRun.Status.CANCELLED)
    if not PayoutRun.objects.filter(pk=run_id, status=PayoutRun.Status.AWAITING_APPROVAL).update(
        status=PayoutRun.Status.CANCELLED, finished_at=timezone.now()
    ):
        raise RunNotReady(f"{run} changed a moment ago.")
    run.items.filter(status=PayoutRunItem.Status.WAITING).update(
        status=PayoutRunItem.Status.SKIPPED, outcome="run cancelled"
    )
    audit.record(
        actor=actor,
        action="payout_run.cancelled",
        target=run,
        before={"status": PayoutRun.Status.AWAITING_APPROVAL},
        after={"status": PayoutRun.Status.CANCELLED},
        reason=reason,
    )
    return run


def payout_run_send(*, run_id: int, actor) -> PayoutRun:
    """One payout link per item (key stored before each call). Safe to run again: sent items are kept."""
    run = PayoutRun.objects.get(pk=run_id)
    if run.status != PayoutRun.Status.SENDING:
        return run
    approver = run.approved_by or actor
    for item in run.items.select_related("row", "row__payee", "payout_link").exclude(
        status__in=[PayoutRunItem.Status.SENT, PayoutRunItem.Status.SKIPPED]
    ):
        payee = item.row.payee
        if payee is None or not payee.dots_user_id:
            PayoutRunItem.objects.filter(pk=item.pk).update(
                status=PayoutRunItem.Status.SKIPPED, outcome="payee not created in Dots"
            )
            continue
        link = item.payout_link
        if link is None:
            with transaction.atomic():
                link = payout_link_request(
                    amount_cents=item.amount_cents,
                    payee_id=payee.pk,
                    memo=item.memo,
                    delivery_method=PayoutLink.Delivery.SMS,
                    actor=approver,
                    push=False,
                )
                PayoutRunItem.objects.filter(pk=item.pk).update(payout_link=link, status=PayoutRunItem.Status.SENDING)
        try:
            # The run keeps each item's outcome and retries failed items itself: never queue here.
            # from_queue: call Dots now, never queue (a failed item is retried with the run's own retry).
            link = payout_link_push(payout_link_id=link.pk, actor=approver, retry_refused=True, from_queue=True)
        except (DotsRejected, DotsUnavailable, DotsOutcomeUnknownError) as exc:
            PayoutRunItem.objects.filter(pk=item.pk).update(status=PayoutRunItem.Status.FAILED, outcome=str(exc))
            continue
        if not link.dots_id:
            PayoutRunItem.objects.filter(pk=item.pk).update(
                status=PayoutRunItem.Status.FAILED, outcome=f"payout link {link.get_status_display()}"
            )
            continue
        PayoutRunItem.objects.filter(pk=item.pk).update(
            status=PayoutRunItem.Status.SENT, outcome=f"payout link {link.dots_id} {link.status}"
        )
    with transaction.atomic():
        if PayoutRun.objects.filter(pk=run_id, status=PayoutRun.Status.SENDING).update(
            status=PayoutRun.Status.SENT, finished_at=timezone.now()
        ):
            counts = dict(run.items.values_list("status").annotate(n=Count("id")).values_list("status", "n"))
            audit.record(
                actor=actor,
                action="payout_run.sent",
                target=run,
                source="task",
                before={"status": PayoutRun.Status.SENDING},
                after={"status": PayoutRun.Status.SENT, **counts},
            )
    run.refresh_from_db()
    return run


def payout_run_retry_failed(*, run_id: int, actor) -> PayoutRun:
    """Items that failed (Dots unreachable, unknown outcome) are sent again with the same key and body."""
    with transaction.atomic():
        run = PayoutRun.objects.select_for_update().get(pk=run_id)
        if run.status != PayoutRun.Status.SENT or not run.items.filter(status=PayoutRunItem.Status.FAILED).exists():
            raise RunNotReady(f"{run} has no failed items to retry.")
        PayoutRun.objects.filter(pk=run_id).update(status=PayoutRun.Status.SENDING)
        audit.record(
            actor=actor,
            action="payout_run.approved",
            target=run,
            reason="retry failed items",
            before={"status": PayoutRun.Status.SENT},
            after={"status": PayoutRun.Status.SENDING},
        )
    return payout_run_send(run_id=run_id, actor=actor)
