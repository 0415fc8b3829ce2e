"""Parsed Dots objects, and the lenient field parsing they share (NOTES.md decision 11).

A sync must never crash on a surprising body, so parsing here never raises:
- amounts are integer cents; an int, an integral float or a numeric string is
  accepted (``"1250"``, ``1250.0`` -> 1250); anything else becomes None;
- timestamps without a zone are read as UTC; unparseable ones become None;
- enum-like fields (status, type, role...) stay plain strings, so a value Dots
  adds tomorrow (``funds_pending``, ``settled``) passes through untouched;
- missing optional fields are None.

Every dataclass keeps the full response body in ``raw``: fields we do not model
are still there, and nothing is lost when Dots adds some. Resources the app does
not use heavily come back as ``DotsObject``, a read-only mapping over the body.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, Generic, NamedTuple, TypeVar

__all__ = [
    "App",
    "ApprovalPolicy",
    "Approver",
    "Deleted",
    "Page",
    "DotsObject",
    "Payable",
    "PayoutLink",
    "PayoutRequest",
    "Transfer",
    "User",
    "Vendor",
    "VendorPaymentMethod",
    "Wallet",
    "parse_bool",
    "parse_cents",
    "parse_datetime",
    "parse_decimal_dollars",
    "parse_int",
    "parse_str",
]


# --- field parsers ---------------------------------------------------------------------------


def parse_cents(value: Any) -> int | None:
    """Integer cents from an int, a float or a numeric string; None when it is not a number."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return None
        value = repr(value)
    if isinstance(value, str):
        value = value.strip().replace(",", "").replace("_", "")
        if not value:
            return None
    try:
        # Half-up rounding so "12.5" cents behaves like a person would expect, not banker's rounding.
        return int(Decimal(value).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    except (InvalidOperation, ValueError, TypeError):
        return None


def parse_decimal_dollars(value: Any) -> int | None:
    """Integer cents from a ``format: decimal`` dollar string (``"1000.50"`` -> 100050).

    Only app metrics use this shape; every other Dots amount is already in cents.
    """
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, float):
        value = repr(value)
    if isinstance(value, str):
        value = value.strip().replace(",", "").lstrip("$")
    try:
        return int((Decimal(value) * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    except (InvalidOperation, ValueError, TypeError):
        return None


def parse_datetime(value: Any) -> datetime | None:
    """An aware UTC datetime from ISO 8601 text (zone optional) or Unix seconds."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, (int, float)):
        try:
            return datetime.fromtimestamp(value, tz=UTC)
        except (OverflowError, OSError, ValueError):
            return None
    elif isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            return None
    else:
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def parse_int(value: Any) -> int | None:
    """An integer id or count; numeric strings accepted."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return None


def parse_str(value: Any) -> str | None:
    """A string field; numbers are turned into text, containers into None."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return None


def parse_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("true", "1", "yes"):
            return True
        if lowered in ("false", "0", "no"):
            return False
    if isinstance(value, int):
        return bool(value)
    return None


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _dict_or_none(value: Any) -> dict[str, Any] | None:
    return value if isinstance(value, dict) else None


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


# --- the generic object ----------------------------------------------------------------------


class DotsObject(Mapping[str, Any]):
    """A read-only view of a response body for resources without a dataclass."""

    __slots__ = ("raw",)

    def __init__(self, raw: Any) -> None:
        self.raw = raw if isinstance(raw, dict) else {"value": raw}

    def __getitem__(self, key: str) -> Any:
        return self.raw[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.raw)

    def __len__(self) -> int:
        return len(self.raw)

    def __repr__(self) -> str:
        return f"DotsObject({self.raw!r})"

    @classmethod
    def from_dict(cls, data: Any) -> DotsObject:
        return cls(data)


# --- accounts payable ------------------------------------------------------------------------


@dataclass(frozen=True)
class Vendor:
    id: str | None
    name: str | None
    description: str | None
    active: bool | None
    contact_email: str | None
    external_id: str | None
    api_app_id: str | None
    address: dict[str, Any] | None
    created: datetime | None
    raw: dict[str, Any] = field(repr=False)

    @classmethod
    def from_dict(cls, data: Any) -> Vendor:
        d = _mapping(data)
        return cls(
            id=parse_str(d.get("id")),
            name=parse_str(d.get("name")),
            description=parse_str(d.get("description")),
            active=parse_bool(d.get("active")),
            contact_email=parse_str(d.get("contact_email")),
            external_id=parse_str(d.get("external_id")),
            api_app_id=parse_str(d.get("api_app_id")),
            address=_dict_or_none(d.get("address")),
            created=parse_datetime(d.get("created")),
            raw=d,
        )


@dataclass(frozen=True)
class VendorPaymentMethod:
    id: str | None
    name: str | None
    # Dots (and the emulator) return the account number masked to its last four.
    ach_account_number: str | None
    ach_routing_number: str | None
    ach_account_type: str | None
    raw: dict[str, Any] = field(repr=False)

    @classmethod
    def from_dict(cls, data: Any) -> VendorPaymentMethod:
        d = _mapping(data)
        return cls(
            id=parse_str(d.get("id")),
            name=parse_str(d.get("name")),
            ach_account_number=parse_str(d.get("ach_account_number")),
            ach_routing_number=parse_str(d.get("ach_routing_number")),
            ach_account_type=parse_str(d.get("ach_account_type")),
            raw=d,
        )


@dataclass(frozen=True)
class Payable:
    id: str | None
    status: str | None
    amount: int | None  # cents
    currency: str | None
    number: str | None
    description: str | None
    external_id: str | None
    ap_vendor_id: str | None
    ap_vendor_name: str | None
    ap_payment_method_id: str | None
    ap_payment_method_name: str | None
    api_app_id: str | None
    funding_source: str | None
    file_url: str | None
    transfer_id: str | None
    created: datetime | None
    updated: datetime | None
    items: list[Any] = field(repr=False)
    status_history: list[Any] = field(repr=False)
    action_history: list[Any] = field(repr=False)
    approval_steps: list[Any] = field(repr=False)
    transfer_history: list[Any] = field(repr=False)
    raw: dict[str, Any] = field(repr=False)

    @classmethod
    def from_dict(cls, data: Any) -> Payable:
        d = _mapping(data)
        return cls(
            id=parse_str(d.get("id")),
            status=parse_str(d.get("status")),
            amount=parse_cents(d.get("amount")),
            currency=parse_str(d.get("currency")),
            number=parse_str(d.get("number")),
            description=parse_str(d.get("description")),
            external_id=parse_str(d.get("external_id")),
            ap_vendor_id=parse_str(d.get("ap_vendor_id")),
            ap_vendor_name=parse_str(d.get("ap_vendor_name")),
            ap_payment_method_id=parse_str(d.get("ap_payment_method_id")),
            ap_payment_method_name=parse_str(d.get("ap_payment_method_name")),
            api_app_id=parse_str(d.get("api_app_id")),
            funding_source=parse_str(d.get("funding_source")),
            file_url=parse_str(d.get("file_url")),
            transfer_id=parse_str(d.get("transfer_id")),
            created=parse_datetime(d.get("created")),
            updated=parse_datetime(d.get("updated")),
            items=_list(d.get("items")),
            status_history=_list(d.get("status_history")),
            action_history=_list(d.get("action_history")),
            approval_steps=_list(d.get("approval_steps")),
            transfer_history=_list(d.get("transfer_history")),
            raw=d,
        )


@dataclass(frozen=True)
class ApprovalPolicy:
    id: str | None
    priority: int | None
    active: bool | None
    description: str | None
    api_app_id: str | None
    payable_conditions: list[Any]
    approval_conditions: list[Any]
    created: datetime | None
    raw: dict[str, Any] = field(repr=False)

    @classmethod
    def from_dict(cls, data: Any) -> ApprovalPolicy:
        d = _mapping(data)
        return cls(
            id=parse_str(d.get("id")),
            priority=parse_int(d.get("priority")),
            active=parse_bool(d.get("active")),
            description=parse_str(d.get("description")),
            api_app_id=parse_str(d.get("api_app_id")),
            payable_conditions=_list(d.get("payable_conditions")),
            approval_conditions=_list(d.get("approval_conditions")),
            created=parse_datetime(d.get("created")),
            raw=d,
        )


@dataclass(frozen=True)
class Approver:
    id: int | None  # dashboard users have integer ids
    email: str | None
    first_name: str | None
    last_name: str | None
    username: str | None
    phone_number: str | None
    role: str | None
    scope: str | None
    raw: dict[str, Any] = field(repr=False)

    @classmethod
    def from_dict(cls, data: Any) -> Approver:
        d = _mapping(data)
        return cls(
            id=parse_int(d.get("id")),
            email=parse_str(d.get("email")),
            first_name=parse_str(d.get("first_name")),
            last_name=parse_str(d.get("last_name")),
            username=parse_str(d.get("username")),
            phone_number=parse_str(d.get("phone_number")),
            role=parse_str(d.get("role")),
            scope=parse_str(d.get("scope")),
            raw=d,
        )


@dataclass(frozen=True)
class Deleted:
    """The ``{"id", "deleted", "object"}`` answer of Dots' delete endpoints."""

    id: str | None
    deleted: bool | None
    object: str | None
    raw: dict[str, Any] = field(repr=False)

    @classmethod
    def from_dict(cls, data: Any) -> Deleted:
        d = _mapping(data)
        return cls(
            id=parse_str(d.get("id")),
            deleted=parse_bool(d.get("deleted")),
            object=parse_str(d.get("object")),
            raw=d,
        )


# --- users, wallets, money movement -----------------------------------------------------------


@dataclass(frozen=True)
class Wallet:
    amount: int | None  # cents
    withdrawable_amount: int | None
    credit_balance: int | None
    raw: dict[str, Any] = field(repr=False)

    @classmethod
    def from_dict(cls, data: Any) -> Wallet:
        d = _mapping(data)
        return cls(
            amount=parse_cents(d.get("amount")),
            withdrawable_amount=parse_cents(d.get("withdrawable_amount")),
            credit_balance=parse_cents(d.get("credit_balance")),
            raw=d,
        )


@dataclass(frozen=True)
class User:
    id: str | None
    first_name: str | None
    last_name: str | None
    email: str | None
    phone_number: dict[str, Any] | None  # {"country_code", "phone_number"}
    status: str | None
    default_payout_method: str | None
    wallet: Wallet | None
    compliance: dict[str, Any] | None
    metadata: Any
    raw: dict[str, Any] = field(repr=False)

    @classmethod
    def from_dict(cls, data: Any) -> User:
        d = _mapping(data)
        wallet = d.get("wallet")
        return cls(
            id=parse_str(d.get("id")),
            first_name=parse_str(d.get("first_name")),
            last_name=parse_str(d.get("last_name")),
            email=parse_str(d.get("email")),
            phone_number=_dict_or_none(d.get("phone_number")),
            status=parse_str(d.get("status")),
            default_payout_method=parse_str(d.get("default_payout_method")),
            wallet=Wallet.from_dict(wallet) if isinstance(wallet, dict) else None,
            compliance=_dict_or_none(d.get("compliance")),
            metadata=d.get("metadata"),
            raw=d,
        )


@dataclass(frozen=True)
class Transfer:
    id: str | None
    status: str | None
    type: str | None
    amount: int | None  # cents
    user_id: str | None
    payout_link_id: str | None
    created: datetime | None
    external_data: dict[str, Any] | None
    transactions: list[Any] = field(repr=False)
    metadata: Any = field(repr=False)
    raw: dict[str, Any] = field(repr=False)

    @classmethod
    def from_dict(cls, data: Any) -> Transfer:
        d = _mapping(data)
        return cls(
            id=parse_str(d.get("id")),
            status=parse_str(d.get("status")),
            type=parse_str(d.get("type")),
            amount=parse_cents(d.get("amount")),
            user_id=parse_str(d.get("user_id")),
            payout_link_id=parse_str(d.get("payout_link_id")),
            created=parse_datetime(d.get("created")),
            external_data=_dict_or_none(d.get("external_data")),
            transactions=_list(d.get("transactions")),
            metadata=d.get("metadata"),
            raw=d,
        )


@dataclass(frozen=True)
class PayoutLink:
    id: str | None
    status: str | None
    amount: int | None  # cents
    link: str | None
    created: datetime | None
    payee: dict[str, Any] | None
    delivery: dict[str, Any] | None
    tax_exempt: bool | None
    claimed_user_id: str | None
    flow_id: str | None
    transfer_id: str | None
    funding_source: str | None
    memo: str | None
    description: str | None
    metadata: Any = field(repr=False)
    raw: dict[str, Any] = field(repr=False)

    @classmethod
    def from_dict(cls, data: Any) -> PayoutLink:
        d = _mapping(data)
        return cls(
            id=parse_str(d.get("id")),
            status=parse_str(d.get("status")),
            amount=parse_cents(d.get("amount")),
            link=parse_str(d.get("link")),
            created=parse_datetime(d.get("created")),
            payee=_dict_or_none(d.get("payee")),
            delivery=_dict_or_none(d.get("delivery")),
            tax_exempt=parse_bool(d.get("tax_exempt")),
            claimed_user_id=parse_str(d.get("claimed_user_id")),
            flow_id=parse_str(d.get("flow_id")),
            transfer_id=parse_str(d.get("transfer_id")),
            funding_source=parse_str(d.get("funding_source")),
            memo=parse_str(d.get("memo")),
            description=parse_str(d.get("description")),
            metadata=d.get("metadata"),
            raw=d,
        )


@dataclass(frozen=True)
class PayoutRequest:
    id: str | None
    status: str | None
    amount: int | None  # cents
    created: datetime | None
    payee: dict[str, Any] | None
    # Dots spells this key "payout-link", with a hyphen; None until the request is approved.
    payout_link: PayoutLink | None
    user: User | None
    memo: str | None
    metadata: Any = field(repr=False)
    raw: dict[str, Any] = field(repr=False)

    @classmethod
    def from_dict(cls, data: Any) -> PayoutRequest:
        d = _mapping(data)
        link = d.get("payout-link")
        if link is None:
            link = d.get("payout_link")  # tolerate the spelling Dots uses elsewhere
        user = d.get("user")
        memo = d.get("memo")
        if isinstance(memo, list):  # the spec types memo as an array of strings here
            memo = " ".join(str(m) for m in memo) if memo else None
        return cls(
            id=parse_str(d.get("id")),
            status=parse_str(d.get("status")),
            amount=parse_cents(d.get("amount")),
            created=parse_datetime(d.get("created")),
            payee=_dict_or_none(d.get("payee")),
            payout_link=PayoutLink.from_dict(link) if isinstance(link, dict) else None,
            user=User.from_dict(user) if isinstance(user, dict) else None,
            memo=parse_str(memo),
            metadata=d.get("metadata"),
            raw=d,
        )


# --- apps -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class App:
    id: str | None
    name: str | None
    status: str | None
    # Dots reports metrics as decimal dollar strings ("100000.00"); converted to cents here.
    wallet_balance_cents: int | None
    money_out_cents: int | None
    connected_users: int | None
    metrics: dict[str, Any] | None
    metadata: Any = field(repr=False)
    raw: dict[str, Any] = field(repr=False)

    @classmethod
    def from_dict(cls, data: Any) -> App:
        d = _mapping(data)
        metrics = _mapping(d.get("metrics"))
        return cls(
            id=parse_str(d.get("id")),
            name=parse_str(d.get("name")),
            status=parse_str(d.get("status")),
            wallet_balance_cents=parse_decimal_dollars(metrics.get("wallet_balance")),
            money_out_cents=parse_decimal_dollars(metrics.get("money_out")),
            connected_users=parse_int(metrics.get("connected_users")),
            metrics=_dict_or_none(d.get("metrics")),
            metadata=d.get("metadata"),
            raw=d,
        )


# --- list pages --------------------------------------------------------------------------------


T = TypeVar("T")


class Page(NamedTuple, Generic[T]):
    """One page of an enveloped list (``{"data": [...], "has_more": bool}``)."""

    items: list[T]
    has_more: bool
