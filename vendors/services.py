"""Every change to vendors (their bank accounts: vendors/bank_accounts.py).

Dots calls never run inside a transaction or under a row lock: the intent is
committed first (a vendor marked "sending"), Dots is called, and the outcome is
recorded in a second transaction. Callers must therefore not wrap these functions
in `transaction.atomic` themselves (the admin calls them from views that are not
atomic).

Bank accounts: vendors/bank_accounts.py.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone

from core import action_queue, audit
from core.dots_gateway import client, dots_call, is_not_found
from core.errors import (
    ActionQueued,
    DotsCallError,
    DotsOutcomeUnknownError,
    DotsRejected,
    DotsUnavailable,
    InvalidTransition,
)
from core.permissions import require_perm
from core.send_once import create_once, find_in_dots
from vendors import seam as vendors_seam
from vendors.errors import (
    AlreadyInDots,
    VendorNotEditable,
)
from vendors.models import Vendor, VendorBankAccount
from vendors.selectors import vendor_has_payables

# A vendor still "sending" after this long was cut off mid-call (a killed worker or
# request): treat the call's outcome as unknown and look in Dots before creating again.
STALE_SENDING = dt.timedelta(minutes=2)

# Editable whatever Dots knows: these live only here.
LOCAL_ONLY_FIELDS = ("description", "active")
VENDOR_AUDIT_FIELDS = (*Vendor.DOTS_FIELDS, *LOCAL_ONLY_FIELDS)

DELETED = "deleted"
BANK_ACCOUNT_AUDIT_FIELDS = ("vendor", "name", "routing_number", "account_number", "account_type", "dots_id")
DEACTIVATED = "deactivated"


def _snapshot(obj: models.Model, fields) -> dict[str, Any]:
    return {name: getattr(obj, name) for name in fields}


def _bank_account_snapshot(account: VendorBankAccount) -> dict[str, Any]:
    return {
        "vendor": account.vendor_id,
        "name": account.name,
        "routing_number": account.routing_number,
        # Only ever the masked form: the full number is not known here.
        "account_number": account.masked_number,
        "account_type": account.account_type,
        "dots_id": account.dots_id,
    }


# --- vendors -----------------------------------------------------------------------------------


def _dots_address(vendor: Vendor) -> dict[str, str]:
    address = {
        "line_1": vendor.address_line_1,
        "line_2": vendor.address_line_2,
        "city": vendor.city,
        "state": vendor.state,
        "postcode": vendor.postcode,
        "country": vendor.country,
    }
    return {key: value for key, value in address.items() if value}


def vendor_create(
    *,
    actor: User,
    name: str,
    address_line_1: str,
    city: str,
    state: str,
    postcode: str,
    address_line_2: str = "",
    contact_email: str = "",
    description: str = "",
    external_id: str = "",
    active: bool = True,
) -> Vendor:
    """Save the vendor here, then create it in Dots.

    If Dots refuses or cannot be reached the vendor stays, saying why
    (`last_dots_error`), and `vendor_send_to_dots` tries again (queued on its own when
    Dots did not answer). Never raises for a Dots failure: the vendor exists either way.
    """
    require_perm(actor, "vendors.add_vendor", "add vendors")
    texts = {
        "name": name,
        "address_line_1": address_line_1,
        "address_line_2": address_line_2,
        "city": city,
        "postcode": postcode,
        "contact_email": contact_email,
        "description": description,
        "external_id": external_id,
    }
    _refuse_nul(texts)
    with transaction.atomic():
        vendor = Vendor(
            name=name.strip(),
            description=description,
            contact_email=contact_email.strip(),
            external_id=external_id.strip(),
            address_line_1=address_line_1.strip(),
            address_line_2=address_line_2.strip(),
            city=city.strip(),
            state=state,
            postcode=postcode.strip(),
            active=active,
            created_by=actor,
        )
        vendor.full_clean()
        vendor.save()
        audit.record(actor=actor, action="vendor.created", target=vendor, after=_snapshot(vendor, VENDOR_AUDIT_FIELDS))
    try:
        return vendor_send_to_dots(actor=actor, vendor_id=vendor.pk)
    except (DotsCallError, ActionQueued):
        vendor.refresh_from_db()
        return vendor


def _refuse_nul(texts: Mapping[str, str]) -> None:
    # PostgreSQL refuses NUL in text (SQLite stores it): say which field, not a server error.
    bad = {field: ["Remove the NUL character."] for field, value in texts.items() if "\x00" in (value or "")}
    if bad:
        raise ValidationError(bad)


def _claim_for_sending(vendor_id: int) -> tuple[bool, str] | None:
    """Mark the vendor "sending" if nobody else is; (needs a look in Dots first, previous status)."""
    now = timezone.now()
    S = Vendor.DotsStatus
    base = Vendor.objects.filter(pk=vendor_id, dots_id__isnull=True)
    # A previous call may have created it: those claims must look in Dots before creating.
    for needs_lookup, condition in (
        (True, Q(dots_status=S.UNKNOWN) | Q(dots_status=S.SENDING, last_dots_attempt_at__lt=now - STALE_SENDING)),
        (False, Q(dots_status__in=[S.PENDING, S.FAILED])),
    ):
        row = base.filter(condition).values_list("dots_status", flat=True).first()
        if row is None:
            continue
        # Compare-and-set on the status we read: a second click claims nothing.
        if base.filter(condition, dots_status=row).update(dots_status=S.SENDING, last_dots_attempt_at=now):
            return needs_lookup, row
    return None


def _find_vendor_in_dots(vendor: Vendor):
    """The vendor Dots made from an earlier call whose answer we lost, or None.

    Matched on name, external id and postcode, skipping vendors another local row already owns.
    """
    taken = set(Vendor.objects.exclude(dots_id__isnull=True).values_list("dots_id", flat=True))

    def matches(candidate) -> bool:
        address = candidate.address or {}
        return (
            candidate.name == vendor.name
            and (candidate.external_id or "") == vendor.external_id
            and address.get("postcode") == vendor.postcode
        )

    return find_in_dots(client().iter_vendors, matches=matches, taken=taken, what="the vendor")


def vendor_send_to_dots(*, actor: User, vendor_id: int, from_queue: bool = False) -> Vendor:
    """Create the vendor in Dots (again), at most once: only while it has no Dots id.

    After an unknown outcome it first looks for the vendor in Dots and adopts it.
    Raises `DotsCallError` subclasses when Dots fails (the vendor records why); when Dots
    did not answer, a retry is queued (core.action_queue), and while Dots is unreachable
    the send is queued instead of tried (ActionQueued). The queue runs it with `from_queue`.
    """
    require_perm(actor, "vendors.change_vendor", "send vendors to Dots")
    vendor = Vendor.objects.get(pk=vendor_id)
    if vendor.dots_id:
        raise AlreadyInDots(f"{vendor} is already in Dots.")
    action_queue.queue_if_unreachable(kind=vendors_seam.VENDOR_SEND, target=vendor, actor=actor, from_queue=from_queue)
    with transaction.atomic():
        claim = _claim_for_sending(vendor_id)
    if claim is None:
        vendor.refresh_from_db()
        if vendor.dots_id:
            raise AlreadyInDots(f"{vendor} is already in Dots.")
        raise InvalidTransition(
            f"{vendor} is being sent to Dots right now; wait a moment and reload.", code="vendor-being-sent"
        )
    needs_lookup, previous = claim
    vendor.refresh_from_db()

    looked = False

    def find():
        nonlocal looked
        found = _find_vendor_in_dots(vendor)
        looked = True
        return found

    try:
        found, was_found = create_once(
            create=lambda: client().create_vendor(
                name=vendor.name,
                address=_dots_address(vendor),
                contact_email=vendor.contact_email or None,
                external_id=vendor.external_id or None,
            ),
            find=find,
            what="create the vendor",
            look_first=needs_lookup,
        )
    except DotsCallError as exc:
        unknown = isinstance(exc, DotsOutcomeUnknownError) or (needs_lookup and not looked)
        status = Vendor.DotsStatus.UNKNOWN if unknown else Vendor.DotsStatus.FAILED
        with transaction.atomic():
            Vendor.objects.filter(pk=vendor_id, dots_status=Vendor.DotsStatus.SENDING).update(
                dots_status=status, last_dots_error=str(exc), last_dots_attempt_at=timezone.now()
            )
            vendor.refresh_from_db()
            audit.record(
                actor=actor,
                action="vendor.dots_failed",
                target=vendor,
                changes={"dots_status": {"before": previous, "after": status}},
                reason=str(exc),
            )
        if not from_queue and isinstance(exc, (DotsUnavailable, DotsOutcomeUnknownError)):
            # Dots did not answer: try again by itself later (the queue retries its own runs).
            action_queue.queue_retry(kind=vendors_seam.VENDOR_SEND, target=vendor, actor=actor, error=str(exc))
        raise

    with transaction.atomic():
        Vendor.objects.filter(pk=vendor_id).update(
            dots_id=found.id,
            dots_status=Vendor.DotsStatus.CREATED,
            last_dots_error="",
            last_dots_attempt_at=timezone.now(),
        )
        vendor.refresh_from_db()
        audit.record(
            actor=actor,
            action="vendor.sent_to_dots",
            target=vendor,
            before={"dots_id": None, "dots_status": previous},
            after={"dots_id": vendor.dots_id, "dots_status": vendor.dots_status},
            reason="found in Dots after an unanswered call" if was_found else "",
        )
    return vendor


def vendor_fields_locked(vendor: Vendor) -> bool:
    """True once Dots may hold the vendor: its Dots fields can then no longer change."""
    return vendor.dots_status not in (Vendor.DotsStatus.PENDING, Vendor.DotsStatus.FAILED) or bool(vendor.dots_id)


@transaction.atomic
def vendor_update(*, actor: User, vendor_id: int, data: Mapping[str, Any], reason: str = "") -> Vendor:
    """Change local fields. Dots has no vendor update, so once the vendor may be in Dots
    its name, contact email, external id and address are refused (`vendor-not-editable`)."""
    require_perm(actor, "vendors.change_vendor", "change vendors")
    unknown = set(data) - set(VENDOR_AUDIT_FIELDS)
    if unknown:
        raise ValueError(f"vendor_update cannot change {sorted(unknown)}")
    vendor = Vendor.objects.select_for_update().get(pk=vendor_id)
    before = _snapshot(vendor, VENDOR_AUDIT_FIELDS)
    changed = [name for name, value in data.items() if getattr(vendor, name) != value]
    if not changed:
        return vendor
    locked = [name for name in changed if name in Vendor.DOTS_FIELDS]
    if locked and vendor_fields_locked(vendor):
        labels = ", ".join(Vendor._meta.get_field(name).verbose_name for name in locked)
        raise VendorNotEditable(
            f"{vendor} is in Dots, which has no vendor update: {labels} cannot change. "
            f"Delete the vendor and add it again to change them."
        )
    _refuse_nul({name: data[name] for name in changed if isinstance(data[name], str)})
    for name in changed:
        setattr(vendor, name, data[name])
    vendor.full_clean()
    vendor.save(update_fields=[*changed, "updated_at"])
    audit.record(
        actor=actor,
        action="vendor.updated",
        target=vendor,
        before=before,
        after=_snapshot(vendor, VENDOR_AUDIT_FIELDS),
        reason=reason,
    )
    return vendor


def vendor_delete(*, actor: User, vendor_id: int, reason: str = "") -> str:
    """Delete the vendor (and its bank accounts) in Dots and here; returns "deleted".

    A vendor that payables refer to is deactivated instead ("deactivated"): kept for their
    history, offered for no new payable, and left in Dots.
    """
    require_perm(actor, "vendors.delete_vendor", "delete vendors")
    vendor = Vendor.objects.get(pk=vendor_id)
    if vendor_has_payables(vendor):
        return _vendor_deactivate(actor=actor, vendor_id=vendor_id, reason=reason)
    if (
        vendor.dots_status == Vendor.DotsStatus.SENDING
        and vendor.last_dots_attempt_at
        and (timezone.now() - vendor.last_dots_attempt_at < STALE_SENDING)
    ):
        raise InvalidTransition(
            f"{vendor} is being sent to Dots right now; delete it once that is done.", code="vendor-being-sent"
        )

    dots_id = vendor.dots_id
    if dots_id is None and vendor.dots_status in (Vendor.DotsStatus.UNKNOWN, Vendor.DotsStatus.SENDING):
        with dots_call("look for the vendor in Dots"):
            found = _find_vendor_in_dots(vendor)
        dots_id = found.id if found else None
    if dots_id:
        try:
            with dots_call("delete the vendor"):
                client().delete_vendor(vendor_id=dots_id)
        except DotsRejected as exc:
            if not is_not_found(exc):  # already gone from Dots: finish here
                raise

    with transaction.atomic():
        for account in vendor.bank_accounts.all():
            audit.record(
                actor=actor,
                action="vendor_bank_account.deleted",
                target=account,
                before=_bank_account_snapshot(account),
                reason=f"deleted with vendor {vendor}",
            )
        audit.record(
            actor=actor,
            action="vendor.deleted",
            target=vendor,
            before={**_snapshot(vendor, VENDOR_AUDIT_FIELDS), "dots_id": dots_id},
            reason=reason,
        )
        VendorBankAccount.objects.filter(vendor_id=vendor_id).delete()
        Vendor.objects.filter(pk=vendor_id).delete()
    return DELETED


@transaction.atomic
def _vendor_deactivate(*, actor: User, vendor_id: int, reason: str) -> str:
    vendor = Vendor.objects.select_for_update().get(pk=vendor_id)
    if vendor.active:
        vendor.active = False
        vendor.save(update_fields=["active", "updated_at"])
        audit.record(
            actor=actor,
            action="vendor.deactivated",
            target=vendor,
            before={"active": True},
            after={"active": False},
            reason=reason or "payables refer to this vendor",
        )
    return DEACTIVATED
