"""The money-in app's refusals (core.errors.DomainError: a code and a message naming the record)."""

from core.errors import DomainError


class InvalidCustomer(DomainError):
    code = "invalid-customer"


class InvalidPaymentIntent(DomainError):
    code = "invalid-payment-intent"


class InvalidCheckoutSession(DomainError):
    code = "invalid-checkout-session"


class PaymentMethodInUse(DomainError):
    code = "payment-method-in-use"


class InvalidPayment(DomainError):
    code = "invalid-payment"


class AlreadyRequested(DomainError):
    """The same form was sent again: the payment it made is `record`."""

    code = "already-requested"

    def __init__(self, record) -> None:
        super().__init__(f"This form was already sent: it made {record}; nothing was collected twice.")
        self.record = record
