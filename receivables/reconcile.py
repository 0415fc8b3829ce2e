"""Money-in records compared with Dots (the reconciliation report), and records in doubt settled first.

- In doubt: a customer, intent, session or payment whose create ended without an answer is looked
  for in Dots by the key in its metadata (and, for a stored account, sent again only when Dots has
  nothing carrying it); a payment typed with a full account number is only looked for.
- Compared: for intents, sessions and payments, status and amount; for all four, a record one side
  has and the other lacks. Dots' objects that carry the key of a local record still in doubt are
  left to the in-doubt step. Payments: Dots lists every `payment` transfer (intents' included), so
  only the ones recorded here are compared.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from types import SimpleNamespace
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import models, transaction
from django.utils import timezone

from core import audit
from core.compare import compare_listing
from core.dots_gateway import client, dots_call, is_not_found
from core.errors import DomainError, DotsCallError, DotsRejected
from core.findings import Finding, RecordCheck, Settling, status_and_amount_findings
from core.models import AuditEvent
from receivables.models import KEY, CheckoutSession, Payment, PaymentCustomer, PaymentIntent
from receivables.services import customers, intents, payments, sessions

RECONCILE = AuditEvent.Source.RECONCILE
AUDIT_PREFIX: dict[type[models.Model], str] = {
    PaymentCustomer: "payment_customer",
    PaymentIntent: "payment_intent",
    CheckoutSession: "checkout_session",
    Payment: "payment",
}


class _Listed(dict):
    """A Dots object from a listing, with the `.id` core.compare reads."""

    @property
    def id(self) -> Any:
        return self.get("id")


def _listed(listing: Callable[[], Iterable[Any]]) -> Callable[[], Iterator[_Listed]]:
    return lambda: (_Listed(obj.raw) for obj in listing())


def _in_doubt_key(model: type[models.Model], obj: Any) -> bool:
    metadata = obj.get("metadata") if hasattr(obj, "get") else getattr(obj, "metadata", None)
    key = metadata.get(KEY) if isinstance(metadata, dict) else None
    return bool(key) and model.objects.filter(idempotency_key=key, status="unknown").exists()  # type: ignore[attr-defined]


def _settle(model: type[models.Model], label: str, refresh: Callable[[int], Any]) -> Callable[..., Settling]:
    """Records whose create ended without an answer, and pending ones a dead process left (Dots may have
    them: they become unknown, so the next send looks for their key first), settled from Dots' answer."""

    def resolve(*, actor: User) -> Settling:
        settling = Settling()
        stale = timezone.now() - dt.timedelta(seconds=settings.PAY_REQUEST_STALE_SECONDS)
        manager = model.objects  # type: ignore[attr-defined]
        for record in manager.filter(status="pending", created_at__lt=stale):
            with transaction.atomic():
                if manager.filter(pk=record.pk, status="pending").update(status="unknown"):
                    audit.record(
                        actor=actor,
                        action=f"{AUDIT_PREFIX[model]}.outcome_unknown",
                        target=record,
                        source=RECONCILE,
                        before={"status": "pending"},
                        after={"status": "unknown"},
                        reason="Its send was interrupted: looking for it in Dots",
                    )
        for pk in manager.filter(status="unknown").values_list("pk", flat=True):
            try:
                record = refresh(pk, actor)
            except DotsCallError as exc:
                settling.still_in_doubt.append(f"{label} #{pk}: still unknown ({exc})")
                continue
            if record.status == "unknown":
                settling.still_in_doubt.append(f"{record}: Dots shows nothing carrying its key yet")
            else:
                settling.settled.append(f"{record}: unknown -> {record.status}")
        return settling

    return resolve


def _missing_locally(record_type: str, what: str, obj: Any, status: str = "") -> Finding:
    return Finding(
        record_type=record_type,
        kind="missing_locally",
        label=f"Dots {what} {obj['id'] if hasattr(obj, 'get') else obj.id}",
        local_id=None,
        dots_id=obj["id"] if hasattr(obj, "get") else obj.id,
        local_value="(none)",
        dots_value=status,
        detail="Adopting records it here, as Dots shows it.",
    )


def _missing_in_dots(record_type: str, row) -> Finding:
    return Finding(
        record_type=record_type,
        kind="missing_in_dots",
        label=f"{row[2]}",
        local_id=row[0],
        dots_id=row[1],
        local_value=str(row[3]) if len(row) > 3 else "",
        dots_value="(none)",
        detail="Dots does not list it. Nothing to adopt: look into it with Dots' support.",
    )


def _rows(model, id_field: str, extra: tuple[str, ...] = ()):
    def local_rows(ids):
        return [
            (o.pk, getattr(o, id_field), str(o), *(getattr(o, f) for f in extra))
            for o in model.objects.filter(**{f"{id_field}__in": ids})
        ]

    def linked_rows():
        return (
            (o.pk, getattr(o, id_field), str(o), *(getattr(o, f) for f in extra))
            for o in model.objects.exclude(**{f"{id_field}__isnull": True}).iterator(chunk_size=500)
        )

    return local_rows, linked_rows


def _read(read: Callable[[], Any]) -> Any:
    try:
        with dots_call("read it from Dots"):
            return read()
    except DotsRejected as exc:
        if is_not_found(exc):
            return None
        raise


def _refuse_missing_in_dots(discrepancy) -> None:
    if discrepancy.kind == "missing_in_dots":
        raise DomainError(f"Dots has no {discrepancy.label}; there is nothing of Dots' to adopt.")


# --- payment customers -----------------------------------------------------------------------------------


def find_customer_disagreements() -> Iterator[Finding]:
    local_rows, linked_rows = _rows(PaymentCustomer, "dots_id")
    return compare_listing(
        what="the payment customers",
        listing=_listed(client().iter_payment_customers),
        local_rows=local_rows,
        linked_rows=linked_rows,
        only_in_dots=lambda c: (
            None if _in_doubt_key(PaymentCustomer, c) else _missing_locally("payment_customer", "payment customer", c)
        ),
        only_here=lambda row: _missing_in_dots("payment_customer", row),
    )


def adopt_customer(*, discrepancy, actor: User) -> str:
    _refuse_missing_in_dots(discrepancy)
    data = _read(lambda: client().retrieve_payment_customer(payment_customer_id=discrepancy.dots_id))
    if data is None:
        raise DomainError(f"Dots no longer has payment customer {discrepancy.dots_id}; nothing to adopt.")
    with transaction.atomic():
        if PaymentCustomer.objects.filter(dots_id=data["id"]).exists():
            raise DomainError(f"Payment customer {data['id']} is already recorded here.")
        customer = PaymentCustomer.objects.create(
            dots_id=data["id"],
            status=PaymentCustomer.Status.CREATED,
            created_by=audit.system_user(),
            request_body={"adopted_from_dots": data["id"]},
        )
        audit.record(
            actor=actor,
            action="payment_customer.adopted_from_dots",
            target=customer,
            source=RECONCILE,
            after={"dots_id": data["id"]},
            reason="Created here from Dots (it was missing here)",
        )
    customer = customers.store_customer_state(customer.pk, data, actor, source=RECONCILE)
    return f"{customer}: recorded here from Dots"


# --- payment intents -------------------------------------------------------------------------------------


def _intent_view(obj: Any) -> SimpleNamespace:
    return SimpleNamespace(status=obj.get("status"), amount=obj.get("amount"))


def find_intent_disagreements() -> Iterator[Finding]:
    local_rows, linked_rows = _rows(PaymentIntent, "dots_id", ("status", "amount_cents"))
    return compare_listing(
        what="the payment intents",
        listing=_listed(client().list_payment_intents),
        local_rows=local_rows,
        linked_rows=linked_rows,
        only_in_dots=lambda i: (
            None
            if _in_doubt_key(PaymentIntent, i)
            else _missing_locally("payment_intent", "payment intent", i, str(i.get("status") or ""))
        ),
        only_here=lambda row: _missing_in_dots("payment_intent", row),
        on_both=lambda row, obj: status_and_amount_findings(
            record_type="payment_intent",
            label=row[2],
            local_id=row[0],
            dots_id=row[1],
            local_status=row[3],
            local_amount=row[4],
            dots_obj=_intent_view(obj),
        ),
    )


def adopt_intent(*, discrepancy, actor: User) -> str:
    _refuse_missing_in_dots(discrepancy)
    data = _read(lambda: client().retrieve_payment_intent(payment_intent_id=discrepancy.dots_id))
    if data is None:
        raise DomainError(f"Dots no longer has payment intent {discrepancy.dots_id}; nothing to adopt.")
    if discrepancy.kind == "missing_locally":
        with transaction.atomic():
            if PaymentIntent.objects.filter(dots_id=data["id"]).exists():
                raise DomainError(f"Payment intent {data['id']} is already recorded here.")
            intent = PaymentIntent.objects.create(
                dots_id=data["id"],
                amount_cents=int(data.get("amount") or 0),
                created_by=audit.system_user(),
                status=PaymentIntent.Status.UNKNOWN,
                request_body={"adopted_from_dots": data["id"]},
            )
            audit.record(
                actor=actor,
                action="payment_intent.adopted_from_dots",
                target=intent,
                source=RECONCILE,
                after={"dots_id": data["id"]},
                reason="Created here from Dots (it was missing here)",
            )
    else:
        intent = PaymentIntent.objects.get(pk=discrepancy.local_id)
    intent = intents.store_intent_state(
        intent.pk, data, actor, action="payment_intent.adopted_from_dots", source=RECONCILE, adopting=True
    )
    return f"{intent}: now {intent.status}, {intent.amount_cents} cents as in Dots"


# --- checkout sessions -----------------------------------------------------------------------------------


def find_session_disagreements() -> Iterator[Finding]:
    local_rows, linked_rows = _rows(CheckoutSession, "dots_id", ("status", "amount_total_cents"))
    return compare_listing(
        what="the checkout sessions",
        listing=_listed(client().iter_checkout_sessions),
        local_rows=local_rows,
        linked_rows=linked_rows,
        only_in_dots=lambda s: (
            None
            if _in_doubt_key(CheckoutSession, s)
            else _missing_locally("checkout_session", "checkout session", s, str(s.get("status") or ""))
        ),
        only_here=lambda row: _missing_in_dots("checkout_session", row),
        on_both=lambda row, obj: status_and_amount_findings(
            record_type="checkout_session",
            label=row[2],
            local_id=row[0],
            dots_id=row[1],
            local_status=row[3],
            local_amount=row[4],
            dots_obj=SimpleNamespace(status=obj.get("status"), amount=obj.get("amount_total")),
        ),
    )


def adopt_session(*, discrepancy, actor: User) -> str:
    _refuse_missing_in_dots(discrepancy)
    data = _read(lambda: client().retrieve_checkout_session(checkout_session_id=discrepancy.dots_id))
    if data is None:
        raise DomainError(f"Dots no longer has checkout session {discrepancy.dots_id}; nothing to adopt.")
    if discrepancy.kind == "missing_locally":
        with transaction.atomic():
            if CheckoutSession.objects.filter(dots_id=data["id"]).exists():
                raise DomainError(f"Checkout session {data['id']} is already recorded here.")
            session = CheckoutSession.objects.create(
                dots_id=data["id"],
                amount_total_cents=int(data.get("amount_total") or 0),
                success_url=str(data.get("success_url") or ""),
                status=CheckoutSession.Status.UNKNOWN,
                created_by=audit.system_user(),
                request_body={"adopted_from_dots": data["id"]},
            )
            audit.record(
                actor=actor,
                action="checkout_session.adopted_from_dots",
                target=session,
                source=RECONCILE,
                after={"dots_id": data["id"]},
                reason="Created here from Dots (it was missing here)",
            )
    else:
        session = CheckoutSession.objects.get(pk=discrepancy.local_id)
        if data.get("amount_total") is not None:
            CheckoutSession.objects.filter(pk=session.pk).update(amount_total_cents=int(data["amount_total"]))
    session = sessions.store_session_state(
        session.pk, data, actor, action="checkout_session.adopted_from_dots", source=RECONCILE, adopting=True
    )
    return f"{session}: now {session.status} as in Dots"


# --- payments ----------------------------------------------------------------------------------------------


def find_payment_disagreements() -> Iterator[Finding]:
    local_rows, linked_rows = _rows(Payment, "dots_transfer_id", ("status", "amount_cents"))

    def on_both(row, transfer):
        view = SimpleNamespace(status=Payment.status_from_dots(transfer.status), amount=transfer.amount)
        return status_and_amount_findings(
            record_type="payment",
            label=row[2],
            local_id=row[0],
            dots_id=row[1],
            local_status=row[3],
            local_amount=row[4],
            dots_obj=view,
        )

    return compare_listing(
        what="the payments",
        listing=lambda: client().iter_transfers(type="payment"),
        local_rows=local_rows,
        linked_rows=linked_rows,
        only_in_dots=lambda transfer: None,  # intents' payments and others' are not recorded here as payments
        only_here=lambda row: _missing_in_dots("payment", row),
        on_both=on_both,
    )


def adopt_payment(*, discrepancy, actor: User) -> str:
    _refuse_missing_in_dots(discrepancy)
    payment = Payment.objects.get(pk=discrepancy.local_id)
    data = _read(lambda: client().retrieve_transfer(transfer_id=payment.dots_transfer_id))
    if data is None:
        raise DomainError(f"Dots no longer has the transfer of {payment}; nothing to adopt.")
    payment = payments.store_payment_state(
        payment.pk, data, actor, action="payment.adopted_from_dots", source=RECONCILE, adopting=True
    )
    return f"{payment}: now {payment.status} as in Dots"


PAYMENT_CUSTOMER_CHECK = RecordCheck(
    label="payment customers",
    model="receivables.paymentcustomer",
    find=find_customer_disagreements,
    adopt=adopt_customer,
    resolve_in_doubt=_settle(
        PaymentCustomer,
        "Payment customer",
        lambda pk, actor: customers.payment_customer_refresh(payment_customer_id=pk, actor=actor, source=RECONCILE),
    ),
)
PAYMENT_INTENT_CHECK = RecordCheck(
    label="payment intents",
    model="receivables.paymentintent",
    find=find_intent_disagreements,
    adopt=adopt_intent,
    resolve_in_doubt=_settle(
        PaymentIntent,
        "Payment intent",
        lambda pk, actor: intents.payment_intent_refresh(payment_intent_id=pk, actor=actor, source=RECONCILE),
    ),
)
CHECKOUT_SESSION_CHECK = RecordCheck(
    label="checkout sessions",
    model="receivables.checkoutsession",
    find=find_session_disagreements,
    adopt=adopt_session,
    resolve_in_doubt=_settle(
        CheckoutSession,
        "Checkout session",
        lambda pk, actor: sessions.checkout_session_refresh(checkout_session_id=pk, actor=actor, source=RECONCILE),
    ),
)
PAYMENT_CHECK = RecordCheck(
    label="payments from customers",
    model="receivables.payment",
    find=find_payment_disagreements,
    adopt=adopt_payment,
    resolve_in_doubt=_settle(
        Payment,
        "Payment",
        lambda pk, actor: payments.payment_refresh(payment_id=pk, actor=actor, source=RECONCILE),
    ),
)
