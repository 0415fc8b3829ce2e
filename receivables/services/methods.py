"""Payment methods of a customer: read from Dots, attached, detached (each audited).

Dots collects bank details on its own pages, so no method is created here; Dots' method shape
has no customer field, so which customer a method is attached to is read through Dots' list
filtered by customer.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from core import audit
from core.dots_gateway import client, dots_call
from core.models import AuditEvent
from core.permissions import require_perm
from receivables.errors import PaymentMethodInUse
from receivables.models import PaymentCustomer, PaymentMethod
from receivables.selectors import uses_of_method

CHANGE = "receivables.change_paymentmethod"
UNKNOWN_METHOD_CUSTOMERS_READ = 50


def _fields(dots_method: Any) -> dict[str, Any]:
    return {"platform": str(dots_method.get("platform") or ""), "mask": str(dots_method.get("mask") or "")[-4:]}


def _state(method: PaymentMethod) -> dict[str, Any]:
    return {"customer": str(method.customer or ""), "attached": method.attached, "mask": method.mask}


def payment_methods_read(
    *, payment_customer_id: int, actor: User, source: str = AuditEvent.Source.ADMIN
) -> list[PaymentMethod]:
    """The customer's methods as Dots lists them now; methods Dots no longer lists for them are detached here."""
    require_perm(actor, CHANGE, "read payment methods from Dots")
    customer = PaymentCustomer.objects.get(pk=payment_customer_id)
    if not customer.dots_id:
        return []
    with dots_call("list the customer's payment methods"):
        listed = list(client().list_payment_methods(customer_id=customer.dots_id).items)
    now = timezone.now()
    seen = []
    with transaction.atomic():
        for dots_method in listed:
            method, created = PaymentMethod.objects.select_for_update().get_or_create(
                dots_id=dots_method["id"], defaults={"customer": customer}
            )
            before = _state(method)
            for name, value in _fields(dots_method).items():
                setattr(method, name, value)
            method.customer, method.attached, method.refreshed_at = customer, True, now
            method.save()
            if created or before != _state(method):
                audit.record(
                    actor=actor,
                    action="payment_method.refreshed",
                    target=method,
                    before=None if created else before,
                    after=_state(method),
                    source=source,
                )
            seen.append(method)
        gone = customer.payment_methods.filter(attached=True).exclude(pk__in=[m.pk for m in seen])
        for method in gone.select_for_update():
            before = _state(method)
            method.attached, method.refreshed_at = False, now
            method.save(update_fields=["attached", "refreshed_at"])
            audit.record(
                actor=actor,
                action="payment_method.refreshed",
                target=method,
                before=before,
                after=_state(method),
                source=source,
                reason="Dots no longer lists it for this customer",
            )
    return seen


def payment_method_attach(*, payment_customer_id: int, dots_payment_method_id: str, actor: User) -> PaymentMethod:
    require_perm(actor, CHANGE, "attach payment methods")
    customer = PaymentCustomer.objects.get(pk=payment_customer_id)
    if not customer.dots_id:
        raise PaymentMethodInUse(f"{customer} is not in Dots yet: send it to Dots first.", code="invalid-customer")
    with dots_call("attach the payment method"):
        dots_method = client().attach_payment_method(
            payment_method_id=dots_payment_method_id.strip(), customer_id=customer.dots_id
        )
    with transaction.atomic():
        method, created = PaymentMethod.objects.select_for_update().get_or_create(
            dots_id=dots_method["id"], defaults={"customer": customer}
        )
        before = None if created else _state(method)
        for name, value in _fields(dots_method).items():
            setattr(method, name, value)
        method.customer, method.attached, method.refreshed_at = customer, True, timezone.now()
        method.save()
        audit.record(actor=actor, action="payment_method.attached", target=method, before=before, after=_state(method))
    return method


def payment_method_detach(*, payment_method_id: int, actor: User) -> PaymentMethod:
    """Detach in Dots. A method an intent waits on, or a payment on its way uses, is refused, saying which."""
    require_perm(actor, CHANGE, "detach payment methods")
    method = PaymentMethod.objects.select_related("customer").get(pk=payment_method_id)
    if not method.attached or method.customer is None:
        raise PaymentMethodInUse(f"{method} is not attached to a customer.", code="not-attached")
    uses = uses_of_method(method)
    if uses:
        raise PaymentMethodInUse(
            f"{method} is in use by {', '.join(uses)}: it stays attached until "
            f"{'that finishes' if len(uses) == 1 else 'those finish'}."
        )
    with dots_call("detach the payment method"):
        client().detach_payment_method(payment_method_id=method.dots_id, customer_id=method.customer.dots_id)
    with transaction.atomic():
        method = PaymentMethod.objects.select_for_update().get(pk=method.pk)
        before = _state(method)
        method.attached, method.refreshed_at = False, timezone.now()
        method.save(update_fields=["attached", "refreshed_at"])
        audit.record(actor=actor, action="payment_method.detached", target=method, before=before, after=_state(method))
    return method


def payment_method_refresh(*, dots_payment_method_id: str, actor: User, source: str = AuditEvent.Source.ADMIN) -> str:
    """A `payment_method.updated` webhook: re-read the methods of the customer it belongs to here."""
    method = PaymentMethod.objects.filter(dots_id=dots_payment_method_id).select_related("customer").first()
    customers = {method.customer_id} if method is not None and method.customer_id else set()
    if not customers:
        # Attached in Dots to a customer we have not seen it with: Dots' method has no customer
        # field, so ask the lists of the newest customers (bounded: a webhook answers quickly).
        with dots_call("read the payment method"):
            client().retrieve_payment_method(payment_method_id=dots_payment_method_id)
        newest = PaymentCustomer.objects.filter(dots_id__isnull=False).order_by("-pk")
        customers = set(newest.values_list("pk", flat=True)[:UNKNOWN_METHOD_CUSTOMERS_READ])
    for customer_id in sorted(customers):
        payment_methods_read(payment_customer_id=customer_id, actor=actor, source=source)
    method = PaymentMethod.objects.filter(dots_id=dots_payment_method_id).select_related("customer").first()
    if method is None:
        return "no customer here has this payment method"
    return f"{method} is {'attached to ' + str(method.customer) if method.attached else 'not attached'}"
