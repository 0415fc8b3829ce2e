"""Reads shared by the admin, views and tasks."""

from collections.abc import Iterator

from django.db.models import Count, QuerySet, Sum
from django.utils import timezone

from payouts.models import PayeeImport, PayeeImportRow, PayoutRun, PayoutRunItem

PREVIEW_ERRORS_SHOWN = 500
FAILED_STATUSES = (PayeeImportRow.Status.INVALID, PayeeImportRow.Status.FAILED)


def import_problem_rows(payee_import: PayeeImport, *, limit: int = PREVIEW_ERRORS_SHOWN) -> QuerySet:
    """Invalid and duplicate rows (and failed ones once imported), in file order."""
    return (
        PayeeImportRow.objects.filter(payee_import=payee_import)
        .exclude(
            status__in=[
                PayeeImportRow.Status.PENDING,
                PayeeImportRow.Status.CREATING,
                PayeeImportRow.Status.CREATED,
                PayeeImportRow.Status.LINKED,
                PayeeImportRow.Status.CANCELLED,
            ]
        )
        .order_by("line_number")
        .only("line_number", "status", "error_column", "error_value", "error")[:limit]
    )


def import_progress(payee_import: PayeeImport) -> dict:
    if payee_import.status == PayeeImport.Status.CHECKING:
        return _checking_progress(payee_import)
    done = payee_import.created_count + payee_import.linked_count + payee_import.failed_count
    to_import = payee_import.valid_rows
    finished = payee_import.status in (
        PayeeImport.Status.COMPLETED,
        PayeeImport.Status.CANCELLED,
        PayeeImport.Status.DISCARDED,
        PayeeImport.Status.REFUSED,
    )
    remaining = 0 if finished else max(to_import - done - payee_import.cancelled_count, 0)
    rate = None
    eta = None
    if payee_import.started_at and done:
        end = payee_import.finished_at or payee_import.progress_updated_at or timezone.now()
        seconds = max((end - payee_import.started_at).total_seconds(), 0.001)
        rate = round(done / seconds, 1)
        eta = round(remaining / rate) if rate and not finished else 0
    return {
        "status": payee_import.status,
        "status_display": payee_import.get_status_display(),
        "finished": finished,
        "to_import": to_import,
        "created": payee_import.created_count,
        "linked": payee_import.linked_count,
        "failed": payee_import.failed_count,
        "cancelled": payee_import.cancelled_count,
        "done": done,
        "remaining": remaining,
        "rate_per_second": rate,
        "eta_seconds": eta,
        "percent": 100 if finished else (round(100 * done / to_import) if to_import else 0),
        "checking": False,
    }


def _checking_progress(payee_import: PayeeImport) -> dict:
    """While the worker reads a large file: rows read so far, and the share of the file's bytes."""
    size = payee_import.file_size or 1
    return {
        "status": payee_import.status,
        "status_display": payee_import.get_status_display(),
        "finished": False,
        "checking": True,
        "checked_rows": payee_import.checked_rows,
        "percent": min(99, round(100 * payee_import.checked_bytes / size)),
    }


def import_amounts(payee_import: PayeeImport) -> dict:
    """What the payout run would hold: rows that will be (or already are) payees, with an amount."""
    return PayeeImportRow.objects.filter(
        payee_import=payee_import,
        amount_cents__gt=0,
        status__in=[PayeeImportRow.Status.PENDING, PayeeImportRow.Status.EXISTING],
    ).aggregate(count=Count("id"), total=Sum("amount_cents"))


def failed_rows(payee_import: PayeeImport) -> Iterator[PayeeImportRow]:
    return (
        PayeeImportRow.objects.filter(payee_import=payee_import, status__in=FAILED_STATUSES)
        .order_by("line_number")
        .only("cells", "error")
        .iterator(chunk_size=2000)
    )


def run_items(run: PayoutRun) -> QuerySet:
    return (
        PayoutRunItem.objects.filter(run=run)
        .select_related("row", "row__payee", "payout_link")
        .order_by("row__line_number")
    )
