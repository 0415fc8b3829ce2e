"""Payment customers: created in Dots (our key in their metadata), refreshed, linked to a payee (same Dots user)."""

from __future__ import annotations

from typing import Any

import phonenumbers
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from core import audit
from core.dots_gateway import client, dots_call
from core.models import AuditEvent
from core.permissions import require_perm
from payouts.models import Payee
from receivables import seam
from receivables.errors import InvalidCustomer
from receivables.models import KEY, PaymentCustomer
from receivables.services._send import send_create

ADD = "receivables.add_paymentcustomer"
CHANGE = "receivables.change_paymentcustomer"


def phone_e164(phone: str, country: str = "US") -> str:
    """The number in E.164 ("+12015550123"), or InvalidCustomer naming what is wrong."""
    try:
        parsed = phonenumbers.parse(phone, country or "US")
    except phonenumbers.NumberParseException as exc:
        raise InvalidCustomer(f"The phone number {phone!r} cannot be read: {exc}.", code="invalid-phone") from exc
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidCustomer(f"The phone number {phone!r} is not a valid number.", code="invalid-phone")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _body(customer: PaymentCustomer) -> dict[str, Any]:
    body: dict[str, Any] = {"metadata": {KEY: str(customer.idempotency_key)}}
    for name in ("first_name", "last_name", "business_name", "email"):
        if getattr(customer, name):
            body[name] = getattr(customer, name)
    if customer.phone_e164:
        parsed = phonenumbers.parse(customer.phone_e164)
        body["country_code"] = str(parsed.country_code)
        body["phone_number"] = str(parsed.national_number)
    if customer.address_line_1:
        body["address"] = {
            "line_1": customer.address_line_1,
            "city": customer.city,
            "state": customer.state,
            "postcode": customer.postcode,
            "country": customer.country,
        }
        if customer.address_line_2:
            body["address"]["line_2"] = customer.address_line_2
    if customer.dots_user_id:
        body["user_id"] = customer.dots_user_id
    return body


@transaction.atomic
def payment_customer_request(
    *,
    actor: User,
    first_name: str = "",
    last_name: str = "",
    business_name: str = "",
    email: str = "",
    phone: str = "",
    country: str = "US",
    address: dict[str, str] | None = None,
    payee_id: int | None = None,
) -> PaymentCustomer:
    """Store the customer (and its key) before anything is sent to Dots."""
    require_perm(actor, ADD, "add payment customers")
    if not (first_name or last_name or business_name):
        raise InvalidCustomer("Give the customer's name or business name.", code="invalid-customer")
    payee = Payee.objects.get(pk=payee_id) if payee_id else None
    if payee is not None and not payee.dots_user_id:
        raise InvalidCustomer(f"{payee} is not in Dots yet, so it cannot be linked.", code="invalid-customer")
    address = address or {}
    customer = PaymentCustomer(
        first_name=first_name,
        last_name=last_name,
        business_name=business_name,
        email=email,
        phone_e164=phone_e164(phone, country) if phone else "",
        address_line_1=address.get("line_1", ""),
        address_line_2=address.get("line_2", ""),
        city=address.get("city", ""),
        state=address.get("state", ""),
        postcode=address.get("postcode", ""),
        country=address.get("country", "") or "US",
        payee=payee,
        dots_user_id=payee.dots_user_id if payee else "",
        created_by=actor,
    )
    customer.save()
    customer.request_body = _body(customer)
    customer.save(update_fields=["request_body"])
    audit.record(
        actor=actor,
        action="payment_customer.requested",
        target=customer,
        after={"name": str(customer), "email": email, "phone": customer.phone_e164, "payee": str(payee or "")},
    )
    return customer


def payment_customer_create(*, actor: User, **fields: Any) -> PaymentCustomer:
    """Store the customer, then create it in Dots (at most once). Dots' refusal is raised after it is recorded."""
    customer = payment_customer_request(actor=actor, **fields)
    return payment_customer_push(payment_customer_id=customer.pk, actor=actor)


def payment_customer_push(*, payment_customer_id: int, actor: User, from_queue: bool = False) -> PaymentCustomer:
    """Send a customer not yet in Dots (again): looked for by its key first after a lost answer."""
    require_perm(actor, ADD, "add payment customers")
    customer = PaymentCustomer.objects.get(pk=payment_customer_id)
    if customer.dots_id:
        return customer
    dots_customer = send_create(
        customer,
        actor=actor,
        create=lambda: client().create_payment_customer(**customer.request_body),
        listing=client().iter_payment_customers,
        what="create the payment customer",
        audit_prefix="payment_customer",
        kind=seam.PAYMENT_CUSTOMER_PUSH,
        from_queue=from_queue,
    )
    return store_customer_state(customer.pk, dots_customer, actor, action="payment_customer.created")


def link_payee(customer: PaymentCustomer, dots_user_id: str | None) -> None:
    """The payee that is the same Dots user, if any (read-only: the payee is never changed)."""
    customer.dots_user_id = dots_user_id or ""
    customer.payee = Payee.objects.filter(dots_user_id=dots_user_id).first() if dots_user_id else None


def store_customer_state(
    customer_id: int,
    dots_customer: Any,
    actor: User,
    *,
    action: str = "payment_customer.refreshed",
    source: str = AuditEvent.Source.ADMIN,
) -> PaymentCustomer:
    with transaction.atomic():
        customer = PaymentCustomer.objects.select_for_update().get(pk=customer_id)
        before = {"status": customer.status, "dots_id": customer.dots_id, "payee": str(customer.payee or "")}
        customer.dots_id = dots_customer.get("id") or customer.dots_id
        customer.status = PaymentCustomer.Status.CREATED
        for name in ("first_name", "last_name", "business_name", "email"):
            if dots_customer.get(name) is not None:
                setattr(customer, name, dots_customer.get(name))
        link_payee(customer, dots_customer.get("user_id"))
        customer.last_dots_error = ""
        customer.last_dots_attempt_at = timezone.now()
        customer.save()
        after = {"status": customer.status, "dots_id": customer.dots_id, "payee": str(customer.payee or "")}
        if before != after or action == "payment_customer.created":
            audit.record(actor=actor, action=action, target=customer, before=before, after=after, source=source)
    return customer


def payment_customer_refresh(
    *, payment_customer_id: int, actor: User, source: str = AuditEvent.Source.ADMIN
) -> PaymentCustomer:
    require_perm(actor, CHANGE, "refresh payment customers from Dots")
    customer = PaymentCustomer.objects.get(pk=payment_customer_id)
    if not customer.dots_id:
        if customer.status == PaymentCustomer.Status.UNKNOWN:
            return payment_customer_push(payment_customer_id=customer.pk, actor=actor)
        return customer
    with dots_call("read the payment customer"):
        dots_customer = client().retrieve_payment_customer(payment_customer_id=customer.dots_id)
    return store_customer_state(customer.pk, dots_customer, actor, source=source)
