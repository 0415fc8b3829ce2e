"""Who vendors tell, and in which words (notifications.services.notify does the telling)."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.urls import reverse

from core.people import full_name
from core.registry import InboxItem
from notifications import selectors as notification_selectors
from notifications.services import notify
from vendors import seam
from vendors.models import VendorBankAccount


def verifiers_for(account: VendorBankAccount) -> list[User]:
    """Everyone who may verify bank accounts, but the person who added this one."""
    return [
        user
        for user in notification_selectors.users_with_perm("vendors.verify_vendorbankaccount")
        if user.pk != account.created_by_id
    ]


def bank_account_added(account: VendorBankAccount) -> None:
    notify(
        event=seam.BANK_ACCOUNT_WAITING_FOR_VERIFICATION,
        recipients=verifiers_for(account),
        target=account,
        title=f"{account.vendor.name}: bank account {account} waits for your verification",
        body="\n".join(
            [
                f"{full_name(account.created_by)} added it. Nobody can pay to it until a second person confirms it",
                "with the vendor through a channel you already trusted (never a number given in the same email).",
                "",
                "Open it, confirm the details with the vendor, then verify it and say how you confirmed it.",
            ]
        ),
        dedupe_key=f"vendor_bank_account:{account.pk}:waiting_for_verification",
    )


def waiting_for_my_verification(user: User) -> list[InboxItem]:
    """Bank accounts this person may verify now (the inbox source of vendors)."""
    if not user.has_perm("vendors.verify_vendorbankaccount"):
        return []
    accounts = (
        VendorBankAccount.objects.filter(verified_at__isnull=True, retired_at__isnull=True)
        .exclude(created_by=user)
        .select_related("vendor", "created_by")
        .order_by("-id")[:200]
    )
    return [
        InboxItem(
            title=f"{account.vendor.name}: {account} waits for your verification",
            url=reverse("admin:vendors_vendorbankaccount_change", args=[account.pk]),
            note=f"Added by {full_name(account.created_by)}.",
            since=account.created_at,
        )
        for account in accounts
    ]
