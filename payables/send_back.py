"""Sending a payable back for changes.

Dots treats a rejection as final, so "send back" is two things: the approver rejects the payable
in Dots with the reason (the reject service, `payables.services.payable_reject`), and a new draft
is made here with the same vendor, bank account, line items, PDF, description and due date,
linked to the original (`sent_back_from`) and created in the name of the original's clerk, who
fixes and submits it. The audit events of both name the other.
"""

import os

from django.contrib.auth.models import User
from django.core.files.base import ContentFile
from django.db import transaction

from core import audit, dots_health
from core.errors import DotsUnavailable
from payables import drafts, services
from payables import notify as payables_notify
from payables.errors import InvalidTransition, ReasonRequired
from payables.models import Payable

S = Payable.Status


def _copy_file(original: Payable, draft: Payable) -> None:
    """The PDF copied through the storage API (a new stored file: the draft's own, never shared)."""
    if not original.file:
        return
    with original.file.open("rb") as handle:
        content = handle.read()
    draft.file.save(os.path.basename(original.file.name), ContentFile(content), save=False)


def payable_send_back(*, payable_id: int, actor: User, reason: str) -> Payable:
    """Reject the payable in Dots with `reason` and make a new draft of it for its clerk. Answers the draft.

    Refused while Dots is unreachable (the rejection cannot be queued: the draft must follow it).
    """
    reason = (reason or "").strip()
    if not reason:
        raise ReasonRequired("Say what must change before the payable comes back for approval.")
    original = Payable.objects.get(pk=payable_id)
    if original.status != S.SUBMITTED:
        raise InvalidTransition(
            f"{original} is {original.get_status_display().lower()}: only a payable waiting for approval is sent back."
        )
    if dots_health.current_outage() is not None:
        raise DotsUnavailable(f"Dots cannot be reached, so {original} cannot be sent back now; try again later.")
    # The approver's rejection, with every check of rejecting (permission, creator, step list), in Dots first.
    rejected = services.payable_reject(
        payable_id=payable_id, actor=actor, reason=reason, from_queue=True, sending_back=True
    )
    if rejected.status != S.REJECTED:
        raise InvalidTransition(f"{rejected} was not rejected in Dots, so no draft was made.")
    with transaction.atomic():
        original = Payable.objects.select_for_update().select_related("vendor", "bank_account").get(pk=payable_id)
        if original.sent_back_as.exists():
            return original.sent_back_as.get()
        draft = Payable(
            bill_number=original.bill_number,
            vendor=original.vendor,
            bank_account=original.bank_account,
            description=original.description,
            external_id=original.external_id,
            due_date=original.due_date,
            funding_source=original.funding_source,
            amount_cents=original.amount_cents,
            created_by_id=original.created_by_id,
            sent_back_from=original,
        )
        _copy_file(original, draft)
        draft.save()
        for item in original.items.all():
            draft.items.create(
                name=item.name,
                description=item.description,
                unit_price_cents=item.unit_price_cents,
                quantity=item.quantity,
            )
        drafts.payable_recalculate(payable=draft)
        audit.record(
            actor=actor,
            action="payable.sent_back",
            target=original,
            before={"status": S.SUBMITTED},
            after={"status": original.status, "new_draft": f"{draft.bill_number} (#{draft.pk})"},
            reason=reason,
        )
        audit.record(
            actor=actor,
            action="payable.created_from_sent_back",
            target=draft,
            after={
                **drafts.payable_edit_snapshot(draft),
                "sent_back_from": f"{original.bill_number} (#{original.pk})",
                "assigned_to": original.created_by.get_username(),
            },
            reason=reason,
        )
        payables_notify.sent_back(original, draft, by=actor, reason=reason)
    return draft
