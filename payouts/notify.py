"""Who payouts tell, and in which words (notifications.services.notify does the telling)."""

from __future__ import annotations

from django.urls import reverse

from core.money import format_cents
from notifications.services import notify
from payouts import seam
from payouts.models import PayeeImport, PayoutRun, PayoutRunItem


def payout_run_finished(run: PayoutRun) -> None:
    """The person who prepared the run and the one who approved (started) its sending."""
    sent = run.items.filter(status=PayoutRunItem.Status.SENT).count()
    failed = run.items.filter(status=PayoutRunItem.Status.FAILED).count()
    skipped = run.items.filter(status=PayoutRunItem.Status.SKIPPED).count()
    words = f"{sent} sent" + (f", {failed} failed" if failed else "") + (f", {skipped} skipped" if skipped else "")
    lines = [
        f"Payouts: {run.item_count}, total {format_cents(run.total_cents)}.",
        f"Outcome: {words}.",
    ]
    if failed:
        lines += ["", "Open the run to see why each failed one failed, and retry them."]
    notify(
        event=seam.PAYOUT_RUN_FINISHED,
        recipients=[user for user in (run.created_by, run.approved_by) if user is not None],
        target=run,
        title=f"{run} finished: {words}",
        body="\n".join(lines),
        dedupe_key=f"payout_run:{run.pk}:finished:{run.finished_at.isoformat() if run.finished_at else ''}",
    )


def payee_import_finished(payee_import: PayeeImport) -> None:
    """Its uploader."""
    cancelled = payee_import.status == PayeeImport.Status.CANCELLED
    what = "was cancelled" if cancelled else "finished"
    words = f"{payee_import.created_count} created, {payee_import.linked_count} linked to existing Dots users"
    if payee_import.failed_count:
        words += f", {payee_import.failed_count} failed"
    if payee_import.cancelled_count:
        words += f", {payee_import.cancelled_count} not imported (cancelled)"
    lines = [f"Payees: {words}."]
    if payee_import.failed_count:
        failed_url = reverse("admin:payouts_payeeimport_failed_rows", args=[payee_import.pk])
        lines += ["", f"The failed rows, with why each failed, are listed at {failed_url}."]
    notify(
        event=seam.PAYEE_IMPORT_FINISHED,
        recipients=[payee_import.uploaded_by],
        target=payee_import,
        title=f"The payee import {payee_import.file_name} {what}: {words}",
        body="\n".join(lines),
        dedupe_key=f"payee_import:{payee_import.pk}:finished",
    )
