"""What Dots holds for a vendor's bank account, read on demand for its page (a read: nothing is written).

Dots answers the account number masked to its last four; it is masked again here whatever Dots sends,
so a full number could never reach the page.
"""

from dataclasses import dataclass

from core.dots_gateway import client, dots_call
from core.errors import DotsCallError, DotsRejected
from dots.errors import DotsNotFound
from vendors.models import VendorBankAccount

ACCOUNT_TYPES = {"checking": "Checking", "savings": "Savings"}


@dataclass(frozen=True)
class Row:
    label: str
    in_dots: str
    here: str

    @property
    def matches(self) -> bool:
        return self.in_dots == self.here


@dataclass(frozen=True)
class InDots:
    rows: list[Row]
    problem: str = ""  # said instead of the rows when Dots could not show the account

    @property
    def all_match(self) -> bool:
        return bool(self.rows) and all(row.matches for row in self.rows)


def masked(number: str | None) -> str:
    digits = "".join(ch for ch in (number or "") if ch.isdigit())
    return f"••••{digits[-4:]}" if digits else "—"


def bank_account_in_dots(account: VendorBankAccount) -> InDots:
    if not account.dots_id or not account.vendor.dots_id:
        return InDots([], "This bank account is not in Dots yet.")
    try:
        with dots_call(f"read {account} from Dots"):
            try:
                method = client().retrieve_vendor_payment_method(
                    vendor_id=account.vendor.dots_id, payment_method_id=account.dots_id
                )
            except DotsNotFound:
                return InDots([], "Dots no longer has this bank account: it was deleted there.")
    except DotsRejected as exc:
        return InDots([], str(exc))
    except DotsCallError as exc:
        return InDots([], f"{exc} Nothing here changed.")
    account_type = method.ach_account_type or ""
    return InDots(
        [
            Row("Name", method.name or "—", account.name),
            Row("Account number", masked(method.ach_account_number), account.masked_number),
            Row("Routing number", method.ach_routing_number or "—", account.routing_number),
            Row(
                "Type",
                ACCOUNT_TYPES.get(account_type, account_type or "—"),
                ACCOUNT_TYPES.get(account.account_type, account.account_type),
            ),
        ]
    )
