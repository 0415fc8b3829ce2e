"""Reads the money-in admin and services share."""

from django.db.models import QuerySet

from receivables.models import PaymentCustomer, PaymentIntent, PaymentMethod


def customers_in_dots() -> QuerySet[PaymentCustomer]:
    """Customers that are in Dots, by name as a person looks for them."""
    return PaymentCustomer.objects.filter(dots_id__isnull=False).order_by("business_name", "first_name", "last_name")


def methods_none() -> QuerySet[PaymentMethod]:
    return PaymentMethod.objects.none()


def attached_methods(customer_id: int | None) -> QuerySet[PaymentMethod]:
    """Payment methods attached to a customer (to any customer when None)."""
    methods = PaymentMethod.objects.filter(attached=True, customer__isnull=False).select_related("customer")
    if customer_id is not None:
        methods = methods.filter(customer_id=customer_id)
    return methods.order_by("customer_id", "mask")


def uses_of_method(method: PaymentMethod) -> list[str]:
    """What still counts on this payment method: intents waiting for it, payments on their way from it."""
    from receivables.models import Payment

    uses = [
        f"{intent} ({PaymentIntent.TRANSITIONS.label(intent.status)})"
        for intent in method.payment_intents.filter(status=PaymentIntent.Status.REQUIRES_CONFIRMATION)
    ]
    uses += [
        f"{payment} ({Payment.TRANSITIONS.label(payment.status)})"
        for payment in method.payments.filter(
            status__in=(*Payment.OPEN, Payment.Status.PENDING, Payment.Status.UNKNOWN)
        )
    ]
    return uses
