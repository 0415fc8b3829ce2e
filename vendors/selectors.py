"""Reads of vendors and bank accounts shared by the admin, payables and tasks."""

from django.db import models
from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from vendors.models import Vendor, VendorBankAccount


def _account_count(**filters) -> Coalesce:
    # A correlated subquery per row of the page, not a GROUP BY over the whole vendor table.
    counted = (
        VendorBankAccount.objects.filter(vendor=OuterRef("pk"), retired_at__isnull=True, **filters)
        .order_by()
        .values("vendor")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


def vendor_list_for_admin() -> QuerySet[Vendor]:
    """Vendors with `bank_account_count` and `unverified_count` (retired accounts left out)."""
    return Vendor.objects.annotate(
        bank_account_count=_account_count(),
        unverified_count=_account_count(verified_at__isnull=True),
    )


def unverified_bank_accounts() -> QuerySet[VendorBankAccount]:
    """Accounts waiting for a second person to confirm them (not retired)."""
    return VendorBankAccount.objects.filter(verified_at__isnull=True, retired_at__isnull=True).select_related(
        "vendor", "created_by"
    )


def vendors_for_new_bank_account() -> QuerySet[Vendor]:
    """Vendors a bank account can be added to: active and in Dots."""
    return Vendor.objects.filter(active=True, dots_id__isnull=False)


def vendors_for_payables() -> QuerySet[Vendor]:
    """Vendors a new payable may name: active and in Dots."""
    return Vendor.objects.filter(active=True, dots_id__isnull=False)


def bank_accounts_for_payables(*, vendor_id: int | None = None) -> QuerySet[VendorBankAccount]:
    """Accounts a new payable may name (verified or not: an unverified one blocks paying, not entering)."""
    accounts = VendorBankAccount.objects.filter(
        retired_at__isnull=True, dots_id__isnull=False, vendor__active=True
    ).select_related("vendor")
    if vendor_id is not None:
        accounts = accounts.filter(vendor_id=vendor_id)
    return accounts


def _referenced_elsewhere(obj: models.Model, *, ignore: tuple[type[models.Model], ...] = ()) -> bool:
    """True when another app's rows (payables) point at `obj` through a foreign key.

    Read from the model graph rather than importing payables, so this app does not
    depend on it; the PROTECT foreign keys stay the last line of defence.
    """
    for rel in obj._meta.related_objects:
        if rel.related_model in ignore or not (rel.one_to_many or rel.one_to_one):
            continue
        if rel.related_model._base_manager.filter(**{rel.field.name: obj.pk}).exists():
            return True
    return False


def bank_account_in_use(account: VendorBankAccount) -> bool:
    """True when payables point at the account (it is then retired, not deleted)."""
    return _referenced_elsewhere(account)


def vendor_has_payables(vendor: Vendor) -> bool:
    if _referenced_elsewhere(vendor, ignore=(VendorBankAccount,)):
        return True
    return any(_referenced_elsewhere(account) for account in vendor.bank_accounts.all())
