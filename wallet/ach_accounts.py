"""The app's bank (ACH) account: added in Dots by an Administrator, verified here by a second person.

The full account number is a parameter of `ach_account_add` and goes nowhere but Dots'
call: only its last four digits are saved or audited. The account's holder must be the
business named in the KYB information Dots holds (Dots' own rule for this account).
Dots keeps one account per app, so a new one replaces the old one here too, and the new
one is unverified: no money moves until a second person verifies it.
"""

from __future__ import annotations

import re

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from core import audit, dots_health
from core.dots_gateway import client, dots_call, is_not_found
from core.errors import DotsOutcomeUnknownError, DotsRejected, DotsUnavailable, SegregationOfDutiesViolation
from core.permissions import require_perm
from vendors.validators import validate_routing_number
from wallet.errors import (
    AlreadyVerified,
    HolderDoesNotMatchKyb,
    InvalidAchDetails,
    VerificationNoteRequired,
    VerifyNotAllowed,
)
from wallet.models import AchAccount, App

_ACCOUNT = re.compile(r"[0-9]{7,20}")
# Words a legal name may carry or drop ("Acme Inc." and "ACME, Inc" are the same holder).
_SUFFIXES = {"inc", "incorporated", "llc", "l", "c", "corp", "corporation", "co", "company", "ltd", "limited"}


def normalised_name(name: str) -> str:
    words = re.sub(r"[^a-z0-9 ]+", " ", (name or "").lower()).split()
    while words and words[-1] in _SUFFIXES:
        words.pop()
    return " ".join(words)


def check_ach_details(*, holder_name: str, routing_number: str, account_number: str, account_type: str) -> None:
    errors: dict[str, list[str]] = {}
    if not holder_name.strip() or "\x00" in holder_name:
        errors["holder_name"] = ["Give the account holder's name, as the bank knows it."]
    try:
        validate_routing_number(routing_number)
    except ValidationError as exc:
        errors["routing_number"] = exc.messages
    if not _ACCOUNT.fullmatch(account_number or ""):
        errors["account_number"] = ["An account number is 7 to 20 digits, with no spaces or dashes."]
    if account_type not in AchAccount.AccountType.values:
        errors["account_type"] = ["Choose checking or savings."]
    if errors:
        raise InvalidAchDetails(errors)


def kyb_names(app: App) -> list[str]:
    """The legal name and DBA in the KYB information Dots holds for the app (empty: none sent)."""
    try:
        with dots_call("read the app's KYB information"):
            compliance = client().retrieve_app_compliance(app_id=app.dots_app_id)
    except DotsRejected as exc:
        if is_not_found(exc):
            return []
        raise
    company = compliance.get("company_info") or {}
    return [name for name in (company.get("name"), company.get("dba")) if isinstance(name, str) and name.strip()]


def current_account(app: App) -> AchAccount | None:
    return app.ach_accounts.filter(replaced_at__isnull=True).order_by("-id").first()


def ach_account_add(
    *,
    actor: User,
    app_id: int,
    holder_name: str,
    routing_number: str,
    account_number: str,
    account_type: str,
) -> AchAccount:
    """Add the app's bank account in Dots, then here (unverified). Nothing is saved unless Dots said yes."""
    require_perm(actor, "wallet.add_achaccount", "add the app's bank account")
    holder_name, routing_number, account_number = holder_name.strip(), routing_number.strip(), account_number.strip()
    check_ach_details(
        holder_name=holder_name, routing_number=routing_number, account_number=account_number, account_type=account_type
    )
    last4 = account_number[-4:]
    app = App.objects.get(pk=app_id)
    # The full number is never stored, so this cannot be queued: refuse now, clearly.
    outage = dots_health.current_outage()
    if outage is not None:
        raise DotsUnavailable(
            f"{dots_health.unreachable_since_text(outage)}; add the bank account again when it is back. "
            f"Nothing was saved."
        )
    names = kyb_names(app)
    if not names:
        raise HolderDoesNotMatchKyb(
            f"Dots holds no KYB information for {app}: send it first (the account holder must be the business "
            f"named there)."
        )
    if normalised_name(holder_name) not in {normalised_name(n) for n in names}:
        raise HolderDoesNotMatchKyb(
            f"The account holder “{holder_name}” is not the business in the KYB information "
            f"(“{'” or “'.join(names)}”): Dots accepts only an account of that business."
        )
    try:
        with dots_call("add the app's bank account"):
            answer = client().put_app_ach_account(
                app_id=app.dots_app_id,
                account_number=account_number,
                routing_number=routing_number,
                account_type=account_type,
            )
    except DotsOutcomeUnknownError:
        # Dots keeps one account per app: if it shows ours now, the call went through.
        with dots_call("read the app's bank account"):
            answer = client().retrieve_app_ach_account(app_id=app.dots_app_id)
        if answer.get("mask") != last4:
            raise DotsOutcomeUnknownError(
                "Dots did not answer whether it added the bank account, and does not show it. Nothing was saved "
                "here; look again in a minute before adding it again."
            ) from None
    del account_number  # the full number goes no further than Dots

    now = timezone.now()
    with transaction.atomic():
        App.objects.select_for_update().get(pk=app.pk)
        replaced = list(app.ach_accounts.filter(replaced_at__isnull=True))
        app.ach_accounts.filter(replaced_at__isnull=True).update(replaced_at=now)
        account = AchAccount.objects.create(
            app=app,
            holder_name=holder_name,
            routing_number=routing_number,
            account_last4=last4,
            account_type=account_type,
            dots_name=str(answer.get("name") or "")[:200],
            created_by=actor,
        )
        audit.record(
            actor=actor,
            action="app_ach_account.added",
            target=account,
            after={
                "app": str(app),
                "holder_name": holder_name,
                "routing_number": routing_number,
                "account_number": f"••••{last4}",
                "account_type": account_type,
                "replaces": ", ".join(str(old) for old in replaced),
            },
        )
    return account


def ach_account_verify(*, actor: User, ach_account_id: int, how_confirmed: str) -> AchAccount:
    """A second person, never the one who added it (superusers included), records how it was confirmed."""
    note = (how_confirmed or "").strip()
    with transaction.atomic():
        account = AchAccount.objects.select_related("app", "verified_by").get(pk=ach_account_id)
        if not actor.is_active or not actor.has_perm("wallet.verify_achaccount"):
            raise VerifyNotAllowed(f"Your role does not allow you to verify the app's bank account ({account}).")
        if account.created_by_id is not None and account.created_by_id == actor.pk:
            raise SegregationOfDutiesViolation(f"You added {account}; a second person must verify it.")
        if account.is_verified:
            raise AlreadyVerified(f"{account} was already verified by {account.verified_by}.")
        if not account.is_current:
            raise AlreadyVerified(f"{account} was replaced by a newer account: verify that one.")
        if not note:
            raise VerificationNoteRequired(
                "Say how the account was confirmed, for example “checked the bank letter on file”."
            )
        now = timezone.now()
        won = (
            AchAccount.objects.filter(pk=account.pk, verified_at__isnull=True, replaced_at__isnull=True)
            .exclude(created_by=actor)
            .update(verified_by=actor, verified_at=now, verification_note=note)
        )
        account.refresh_from_db()
        if won != 1:
            raise AlreadyVerified(f"{account} was already verified or replaced.")
        audit.record(
            actor=actor,
            action="app_ach_account.verified",
            target=account,
            before={"verified_by": None, "verified_at": None},
            after={"verified_by": actor.get_username(), "verified_at": now},
            reason=note,
        )
    return account
