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
