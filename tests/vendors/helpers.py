"""Vendors and bank accounts for tests: through the services (with Dots) or straight to the table."""

from vendors import bank_accounts, services
from vendors.models import Vendor, VendorBankAccount

GOOD_ROUTING = "021000021"  # passes the ABA checksum
BAD_CHECKSUM_ROUTING = "021000022"
ACCOUNT_NUMBER = "987654321012"


def vendor_fields(**overrides) -> dict:
    fields = {
        "name": "Acme Paper Supply",
        "contact_email": "billing@acme.example",
        "address_line_1": "1 Main Street",
        "city": "Springfield",
        "state": "IL",
        "postcode": "62701",
        "external_id": "V-1001",
        "description": "Office paper",
    }
    fields.update(overrides)
    return fields


def create_vendor(actor, **overrides) -> Vendor:
    """A vendor created through the service (in Dots too)."""
    return services.vendor_create(actor=actor, **vendor_fields(**overrides))


def create_bank_account(actor, vendor, *, account_number: str = ACCOUNT_NUMBER, **overrides) -> VendorBankAccount:
    fields = {"name": "Operating account", "routing_number": GOOD_ROUTING, "account_type": "checking"}
    fields.update(overrides)
    return bank_accounts.bank_account_create(actor=actor, vendor_id=vendor.pk, account_number=account_number, **fields)


def local_vendor(actor=None, **overrides) -> Vendor:
    """A vendor row without Dots (role-matrix pages, admin lists)."""
    fields = vendor_fields(**overrides)
    return Vendor.objects.create(created_by=actor, **fields)


def local_bank_account(vendor, actor=None, **overrides) -> VendorBankAccount:
    fields = {
        "name": "Operating account",
        "routing_number": GOOD_ROUTING,
        "account_last4": "1012",
        "account_type": "checking",
        "created_by": actor,
    }
    fields.update(overrides)
    return VendorBankAccount.objects.create(vendor=vendor, **fields)


def vendor_in_dots(clerk, *, name: str, contact_email: str) -> Vendor:
    """A vendor at an address in Springfield, IL, added by `clerk` and sent to Dots."""
    return services.vendor_create(
        actor=clerk,
        name=name,
        address_line_1="1 Main St",
        city="Springfield",
        state="IL",
        postcode="62701",
        contact_email=contact_email,
    )


def verified_vendor_account(
    clerk, verifier, *, name: str, contact_email: str, account_name: str, account_number: str = "000123456789"
) -> tuple[Vendor, VendorBankAccount]:
    """A vendor in Dots with a bank account `clerk` added and `verifier`, a second person, verified:
    what a payable needs before it can be paid."""
    vendor = vendor_in_dots(clerk, name=name, contact_email=contact_email)
    account = create_bank_account(clerk, vendor, account_number=account_number, name=account_name)
    bank_accounts.bank_account_verify(
        actor=verifier, bank_account_id=account.pk, how_confirmed="called the vendor on the number we already had"
    )
    account.refresh_from_db()
    return vendor, account
