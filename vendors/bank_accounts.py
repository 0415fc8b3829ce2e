"""Every change to vendors' bank accounts: added in Dots, verified here by a second person, deleted.

A bank account's full number is a parameter of `bank_account_create` and goes nowhere
but Dots' create call: only its last four digits are saved or audited. Dots calls never
run inside a transaction or under a row lock.
"""

from __future__ import annotations

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import ProtectedError
from django.utils import timezone

from core import audit, dots_health
from core.dots_gateway import client, dots_call, is_not_found
from core.errors import (
    DotsOutcomeUnknownError,
    DotsRejected,
    DotsUnavailable,
    InvalidTransition,
    SegregationOfDutiesViolation,
)
from core.permissions import require_perm
from vendors import notify as vendor_notify
from vendors.errors import (
    AlreadyVerified,
    BankAccountRetired,
    InvalidBankDetails,
    VendorNotInDots,
    VerificationNoteRequired,
    VerifyNotAllowed,
)
from vendors.models import Vendor, VendorBankAccount
from vendors.selectors import bank_account_in_use
from vendors.services import DELETED, _bank_account_snapshot
from vendors.validators import validate_account_number, validate_routing_number

RETIRED = "retired"


def check_bank_details(*, name: str, routing_number: str, account_number: str, account_type: str) -> None:
    """Raise InvalidBankDetails naming every field that is wrong."""
    errors: dict[str, list[str]] = {}
    if "\x00" in name:
        errors["name"] = ["Remove the NUL character."]
    elif not name.strip():
        errors["name"] = ["Give the account a name, for example “Operating account at First Bank”."]
    for field, validator, value in (
        ("routing_number", validate_routing_number, routing_number),
        ("account_number", validate_account_number, account_number),
    ):
        try:
            validator(value)
        except ValidationError as exc:
            errors[field] = exc.messages
    if account_type not in VendorBankAccount.AccountType.values:
        errors["account_type"] = ["Choose checking or savings."]
    if errors:
        raise InvalidBankDetails(errors)


def _find_payment_method(vendor: Vendor, *, name: str, routing_number: str, last4: str, account_type: str):
    """After an unanswered create: the one payment method that call made, or None."""
    taken = set(VendorBankAccount.objects.exclude(dots_id__isnull=True).values_list("dots_id", flat=True))
    matches = [
        method
        for method in client().list_vendor_payment_methods(vendor_id=vendor.dots_id)
        if method.id not in taken
        and method.name == name
        and method.ach_routing_number == routing_number
        and method.ach_account_type == account_type
        and (method.ach_account_number or "").endswith(last4)
    ]
    return matches[0] if len(matches) == 1 else None


def bank_account_create(
    *,
    actor: User,
    vendor_id: int,
    name: str,
    routing_number: str,
    account_number: str,
    account_type: str,
) -> VendorBankAccount:
    """Add a bank account in Dots, then here (unverified). Nothing is saved unless Dots said yes.

    `account_number` is sent to Dots once and dropped: the row keeps its last four digits.
    """
    require_perm(actor, "vendors.add_vendorbankaccount", "add bank accounts")
    name, routing_number, account_number = name.strip(), routing_number.strip(), account_number.strip()
    check_bank_details(
        name=name, routing_number=routing_number, account_number=account_number, account_type=account_type
    )
    last4 = account_number[-4:]
    vendor = Vendor.objects.get(pk=vendor_id)
    # The full number is never stored, so this cannot be queued: refuse now, clearly.
    outage = dots_health.current_outage()
    if outage is not None:
        raise DotsUnavailable(
            f"{dots_health.unreachable_since_text(outage)}; add the bank account again when it "
            f"is back. Nothing was saved."
        )
    if not vendor.dots_id:
        raise VendorNotInDots(
            f"{vendor} is not in Dots yet ({vendor.get_dots_status_display().lower()}); "
            f"send it to Dots before adding a bank account."
        )
    if not vendor.active:
        raise InvalidTransition(f"{vendor} is inactive: it takes no new bank accounts.", code="vendor-inactive")

    try:
        with dots_call("add the bank account"):
            method = client().create_vendor_payment_method(
                vendor_id=vendor.dots_id,
                name=name,
                ach_account_number=account_number,
                ach_routing_number=routing_number,
                ach_account_type=account_type,
            )
    except DotsOutcomeUnknownError:
        # It may exist in Dots now: adopt it if Dots lists it, rather than sending the number again.
        with dots_call("look for the bank account in Dots"):
            method = _find_payment_method(
                vendor, name=name, routing_number=routing_number, last4=last4, account_type=account_type
            )
        if method is None:
            raise DotsOutcomeUnknownError(
                "Dots did not answer whether it added the bank account, and does not list it. Nothing was "
                "saved here; look at the vendor's bank accounts in a minute before adding it again."
            ) from None
    del account_number  # the full number goes no further than Dots

    with transaction.atomic():
        account = VendorBankAccount.objects.create(
            vendor=vendor,
            name=name,
            routing_number=routing_number,
            account_last4=last4,
            account_type=account_type,
            dots_id=method.id,
            last_dots_attempt_at=timezone.now(),
            created_by=actor,
        )
        audit.record(
            actor=actor, action="vendor_bank_account.created", target=account, after=_bank_account_snapshot(account)
        )
        vendor_notify.bank_account_added(account)
    return account


def bank_account_verify(*, actor: User, bank_account_id: int, how_confirmed: str) -> VendorBankAccount:
    """A second person, never the account's creator (superusers included), records how it was confirmed.

    Compare-and-set on "not yet verified": of two people verifying at once, one wins and
    the other is told it was already done.
    """
    note = (how_confirmed or "").strip()
    with transaction.atomic():
        account = VendorBankAccount.objects.select_related("vendor", "verified_by").get(pk=bank_account_id)
        if not actor.has_perm("vendors.verify_vendorbankaccount"):
            raise VerifyNotAllowed(f"You may not verify bank accounts ({account}).")
        if account.created_by_id is not None and account.created_by_id == actor.pk:
            raise SegregationOfDutiesViolation(
                f"You added {account} for {account.vendor}; a second person must verify it."
            )
        if account.is_verified:
            raise AlreadyVerified(_already_verified_text(account))
        if account.is_retired:
            raise BankAccountRetired(f"{account} is retired: it is not verified any more.")
        if not note:
            raise VerificationNoteRequired(
                "Say how the account was confirmed, for example “called the vendor on the number we already had”."
            )
        now = timezone.now()
        won = (
            VendorBankAccount.objects.filter(pk=bank_account_id, verified_at__isnull=True, retired_at__isnull=True)
            .exclude(created_by=actor)
            .update(verified_by=actor, verified_at=now, verification_note=note)
        )
        account.refresh_from_db()
        if won != 1:
            raise AlreadyVerified(_already_verified_text(account))
        audit.record(
            actor=actor,
            action="vendor_bank_account.verified",
            target=account,
            before={"verified_by": None, "verified_at": None, "verification_note": ""},
            after={"verified_by": actor.get_username(), "verified_at": now, "verification_note": note},
            reason=note,
        )
    return account


def _already_verified_text(account: VendorBankAccount) -> str:
    who = account.verified_by.get_username() if account.verified_by else "someone"
    when = timezone.localtime(account.verified_at).strftime("%Y-%m-%d %H:%M") if account.verified_at else ""
    return f"{account} was already verified by {who} {when}".rstrip() + "."


def bank_account_delete(*, actor: User, bank_account_id: int, reason: str = "") -> str:
    """Delete the account in Dots and here ("deleted"), or retire it when payables use it ("retired")."""
    require_perm(actor, "vendors.delete_vendorbankaccount", "delete bank accounts")
    account = VendorBankAccount.objects.select_related("vendor").get(pk=bank_account_id)
    if bank_account_in_use(account):
        return _bank_account_retire(actor=actor, bank_account_id=bank_account_id, reason=reason)
    if account.dots_id and account.vendor.dots_id:
        try:
            with dots_call("delete the bank account"):
                client().delete_vendor_payment_method(
                    vendor_id=account.vendor.dots_id, payment_method_id=account.dots_id
                )
        except DotsRejected as exc:
            if not is_not_found(exc):
                raise
    try:
        with transaction.atomic():
            audit.record(
                actor=actor,
                action="vendor_bank_account.deleted",
                target=account,
                before=_bank_account_snapshot(account),
                reason=reason,
            )
            VendorBankAccount.objects.filter(pk=bank_account_id).delete()
    except ProtectedError:
        # A payable picked it between the check and now: Dots no longer has it, so keep
        # the row, retired, for that payable's history.
        return _bank_account_retire(
            actor=actor, bank_account_id=bank_account_id, reason="a payable uses it; it was already deleted in Dots"
        )
    return DELETED


@transaction.atomic
def _bank_account_retire(*, actor: User, bank_account_id: int, reason: str) -> str:
    now = timezone.now()
    if VendorBankAccount.objects.filter(pk=bank_account_id, retired_at__isnull=True).update(
        retired_at=now, retired_by=actor
    ):
        account = VendorBankAccount.objects.get(pk=bank_account_id)
        audit.record(
            actor=actor,
            action="vendor_bank_account.retired",
            target=account,
            before={"retired_at": None},
            after={"retired_at": now},
            reason=reason or "payables use this account",
        )
    return RETIRED
