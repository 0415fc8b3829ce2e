"""A payable while it is a local draft: recording the clerk's edits, and a draft read from a PDF.

Until it is submitted (payables.services) a payable lives only here; the admin's form saves
its fields and line items, and `payable_record_edit` recomputes the total and audits the
change. `payable_create_from_file` lets Dots read a bill's PDF and opens the draft prefilled.
"""

import hashlib
import logging

from django.contrib.auth.models import User
from django.core.files.base import ContentFile
from django.db import transaction

from core import audit
from core.dots_gateway import client, dots_call
from core.errors import DotsCallError
from core.permissions import require_perm
from dots.errors import DotsNotFound
from payables import selectors
from payables.errors import InvalidTransition
from payables.models import Payable

logger = logging.getLogger(__name__)


def payable_recalculate(*, payable: Payable) -> None:
    """Total = sum of line items, or the amount entered when there are none; PDF checksum."""
    items_total = sum(item.amount_cents for item in payable.items.all())
    payable.total_cents = items_total if payable.items.exists() else (payable.amount_cents or 0)
    if payable.file:
        payable.file.open("rb")
        try:
            digest = hashlib.sha256()
            for chunk in payable.file.chunks():
                digest.update(chunk)
        finally:
            payable.file.close()
        payable.file_sha256 = digest.hexdigest()
    else:
        payable.file_sha256 = ""
    payable.save(update_fields=["total_cents", "file_sha256", "updated_at"])


@transaction.atomic
def payable_record_edit(*, payable_id: int, actor: User, before: dict, created: bool) -> Payable:
    """After the admin saved a draft and its items: recompute the total and audit what changed."""
    payable = Payable.objects.select_for_update().get(pk=payable_id)
    if not created and before.get("status") not in {s.value for s in Payable.EDITABLE}:
        raise InvalidTransition(f"{payable} was submitted: it can no longer be edited.")
    payable_recalculate(payable=payable)
    after = payable_edit_snapshot(payable)
    if not created and before.get("file") != after["file"] and payable.dots_file_uploaded:
        if after["file"]:
            # Another PDF: the next send to Dots uploads it over the one Dots holds.
            Payable.objects.filter(pk=payable.pk).update(dots_file_uploaded=False)
            payable.dots_file_uploaded = False
        else:
            # Removed here: removed in Dots once this edit is saved (submit does it if Dots is away now).
            transaction.on_commit(lambda: _remove_in_dots_after_edit(payable_id=payable.pk, actor=actor))
    if not created and before.get("file") and before.get("file") != after["file"]:
        # The PDF was removed or replaced on the draft: its stored copy goes too, once the edit is saved.
        old_name, storage = before["file"], payable.file.storage
        transaction.on_commit(lambda: _delete_stored_file(storage, old_name))
    if created:
        audit.record(actor=actor, action="payable.created", target=payable, before={}, after=after)
    else:
        changes = audit.diff(before, after)
        changes.pop("status", None)
        if changes:
            audit.record(actor=actor, action="payable.updated", target=payable, changes=changes)
    return payable


def payable_file_remove_in_dots(*, payable_id: int, actor: User) -> bool:
    """The PDF was removed here from a draft Dots already has: remove Dots' copy too (audited).

    Answers whether Dots' copy was removed now. Dots answering that it holds none counts as removed.
    """
    require_perm(actor, "payables.change_payable", "edit payables")
    with transaction.atomic():
        payable = Payable.objects.select_for_update().get(pk=payable_id)
        if payable.file or not payable.dots_file_uploaded or not payable.dots_id:
            return False
    with dots_call(f"remove the PDF of {payable} in Dots"):
        try:
            client().delete_payable_file(payable_id=payable.dots_id)
        except DotsNotFound:
            pass  # Dots holds none already: nothing left to remove
    with transaction.atomic():
        if not Payable.objects.filter(pk=payable_id, dots_file_uploaded=True).update(dots_file_uploaded=False):
            return False  # someone else removed it meanwhile (and audited it)
        audit.record(
            actor=actor,
            action="payable.file_removed_in_dots",
            target=payable,
            changes={"PDF in Dots": ["attached", "removed"]},
        )
    return True


def _remove_in_dots_after_edit(*, payable_id: int, actor: User) -> None:
    try:
        payable_file_remove_in_dots(payable_id=payable_id, actor=actor)
    except DotsCallError as exc:
        # Kept marked as in Dots: submitting the payable removes it there first.
        logger.warning("payable %s: the PDF removed here is still in Dots: %s", payable_id, exc)


def _delete_stored_file(storage, name: str) -> None:
    try:
        storage.delete(name)
    except Exception:  # noqa: BLE001 - the edit is saved; a file left behind in storage harms nobody
        logger.warning("could not delete the replaced PDF %s from storage", name, exc_info=True)


def payable_edit_snapshot(payable: Payable) -> dict:
    return {
        "status": payable.status,
        "bill_number": payable.bill_number,
        "vendor": str(payable.vendor) if payable.vendor_id else None,
        "bank_account": str(payable.bank_account) if payable.bank_account_id else None,
        "description": payable.description,
        "external_id": payable.external_id,
        "due_date": payable.due_date,
        "funding_source": payable.funding_source,
        "amount_cents": payable.amount_cents,
        "total_cents": payable.total_cents,
        "file": payable.file.name if payable.file else "",
        "items": [f"{i.name} {i.quantity} × {i.unit_price_cents}" for i in payable.items.all()],
    }


def payable_create_from_file(*, actor: User, upload, vendor, bank_account) -> Payable:
    """Dots reads the PDF (upload-from-file); a local draft opens prefilled for the clerk to check."""
    require_perm(actor, "payables.add_payable", "create payables")
    if bank_account.vendor_id != vendor.pk:
        raise InvalidTransition(f"“{bank_account}” belongs to {bank_account.vendor}, not to {vendor}.")
    acting_user_id = selectors.required_acting_dots_user_id(actor)
    upload.seek(0)
    content = upload.read()
    with dots_call("read the bill from the PDF"):
        answer = client().create_payable_from_file(
            acting_user_id=acting_user_id, file=content, filename=upload.name or "bill.pdf"
        )
    with transaction.atomic():
        payable = Payable(
            bill_number=(answer.number or "")[:100],
            description=answer.description or "",
            vendor=vendor,
            bank_account=bank_account,
            amount_cents=answer.amount if not answer.items else None,
            funding_source=answer.funding_source or Payable.FundingSource.DOTS_BALANCE,
            created_by=actor,
            dots_id=answer.id,
            dots_status=answer.status or "created",
            dots_file_uploaded=True,
        )
        payable.file.save(upload.name or "bill.pdf", ContentFile(content), save=False)
        payable.save()
        for item in answer.items or []:
            payable.items.create(
                name=str(item.get("name") or "Item")[:200],
                description=str(item.get("description") or "")[:500],
                unit_price_cents=int(item.get("unit_price") or item.get("amount") or 0),
                quantity=int(item.get("quantity") or 1),
            )
        payable_recalculate(payable=payable)
        audit.record(
            actor=actor,
            action="payable.created_from_file",
            target=payable,
            before={},
            after=payable_edit_snapshot(payable),
        )
    return payable
