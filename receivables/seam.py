"""What the money-in app brings to the shared machinery (core/registry.py): one place to read it all."""

from core import registry, roles
from core.registry import ActionKind, SyncStep, WebhookHandler

APP = "receivables"
# Queued Dots action kinds (stored on core's QueuedDotsAction.kind).
PAYMENT_CUSTOMER_PUSH = "payment_customer.push"
PAYMENT_INTENT_PUSH = "payment_intent.push"
PAYMENT_INTENT_CONFIRM = "payment_intent.confirm"
CHECKOUT_SESSION_PUSH = "checkout_session.push"
PAYMENT_PUSH = "payment.push"

_MODELS = ("paymentcustomer", "paymentmethod", "paymentintent", "checkoutsession", "payment")

# The Receivables clerk does all of money in; Managers read it (every view_ permission, core.roles);
# nobody else changes it.
ROLE_PERMISSIONS = {
    roles.RECEIVABLES_CLERK: (
        *(f"receivables.view_{m}" for m in _MODELS),
        "receivables.add_paymentcustomer",
        "receivables.change_paymentcustomer",
        "receivables.change_paymentmethod",  # attach and detach
        "receivables.add_paymentintent",
        "receivables.change_paymentintent",
        "receivables.confirm_paymentintent",
        "receivables.add_checkoutsession",
        "receivables.change_checkoutsession",
        "receivables.add_payment",
        "receivables.change_payment",
    ),
}

ACTIONS = {
    "payment_customer.requested": "Payment customer saved",
    "payment_customer.created": "Payment customer created in Dots",
    "payment_customer.refused": "Payment customer refused by Dots",
    "payment_customer.outcome_unknown": "Payment customer outcome unknown",
    "payment_customer.refreshed": "Payment customer refreshed from Dots",
    "payment_customer.adopted_from_dots": "Dots' state adopted for a payment customer",
    "payment_method.attached": "Payment method attached to a customer",
    "payment_method.detached": "Payment method detached from a customer",
    "payment_method.refreshed": "Payment method refreshed from Dots",
    "payment_intent.requested": "Payment intent saved",
    "payment_intent.created": "Payment intent created in Dots",
    "payment_intent.refused": "Payment intent refused by Dots",
    "payment_intent.outcome_unknown": "Payment intent outcome unknown",
    "payment_intent.confirmed": "Payment intent confirmed",
    "payment_intent.status_changed": "Payment intent status changed",
    "payment_intent.adopted_from_dots": "Dots' state adopted for a payment intent",
    "checkout_session.requested": "Checkout session saved",
    "checkout_session.created": "Checkout session created in Dots",
    "checkout_session.refused": "Checkout session refused by Dots",
    "checkout_session.outcome_unknown": "Checkout session outcome unknown",
    "checkout_session.status_changed": "Checkout session status changed",
    "checkout_session.adopted_from_dots": "Dots' state adopted for a checkout session",
    "payment.requested": "Payment from a customer saved",
    "payment.created": "Payment from a customer created in Dots",
    "payment.refused": "Payment from a customer refused by Dots",
    "payment.outcome_unknown": "Payment from a customer outcome unknown",
    "payment.status_changed": "Payment from a customer status changed",
    "payment.adopted_from_dots": "Dots' state adopted for a payment from a customer",
}

registry.role_permissions(APP, ROLE_PERMISSIONS)
registry.audit_actions(APP, ACTIONS)
registry.sync_step(APP, SyncStep(name="checkout sessions", run="receivables.sync.checkout_sessions_step", order=80))
registry.sync_step(APP, SyncStep(name="payment intents", run="receivables.sync.payment_intents_step", order=81))
registry.sync_step(APP, SyncStep(name="payments in", run="receivables.sync.payments_step", order=82))
registry.reconcile_check(APP, "payment_customer", "receivables.reconcile.PAYMENT_CUSTOMER_CHECK")
registry.reconcile_check(APP, "payment_intent", "receivables.reconcile.PAYMENT_INTENT_CHECK")
registry.reconcile_check(APP, "checkout_session", "receivables.reconcile.CHECKOUT_SESSION_CHECK")
registry.reconcile_check(APP, "payment", "receivables.reconcile.PAYMENT_CHECK")
registry.webhook_handler(
    APP,
    WebhookHandler(
        event_type="payment_intent.updated",
        object_type="payment_intent",
        payload_key="payment_intent_id",
        handle="receivables.webhooks.payment_intent_updated",
    ),
)
registry.webhook_handler(
    APP,
    WebhookHandler(
        event_type="payment_method.updated",
        object_type="payment_method",
        payload_key="payment_method_id",
        handle="receivables.webhooks.payment_method_updated",
    ),
)


def _push(kind: str, label: str, service: str, model: str, arg: str, permission: str, doing: str) -> None:
    # Each create carries our key in Dots' metadata: after a lost answer the service looks for it before sending.
    registry.action_kind(
        APP,
        ActionKind(
            kind=kind,
            label=label,
            service=service,
            target_model=model,
            target_arg=arg,
            noun="creation in Dots",
            permission=permission,
            doing=doing,
            direct_replaces_waiting=True,
        ),
    )


_push(
    PAYMENT_CUSTOMER_PUSH,
    "Create payment customer in Dots",
    "receivables.services.customers.payment_customer_push",
    "receivables.paymentcustomer",
    "payment_customer_id",
    "receivables.add_paymentcustomer",
    "add payment customers",
)
_push(
    PAYMENT_INTENT_PUSH,
    "Create payment intent in Dots",
    "receivables.services.intents.payment_intent_push",
    "receivables.paymentintent",
    "payment_intent_id",
    "receivables.add_paymentintent",
    "create payment intents",
)
_push(
    CHECKOUT_SESSION_PUSH,
    "Create checkout session in Dots",
    "receivables.services.sessions.checkout_session_push",
    "receivables.checkoutsession",
    "checkout_session_id",
    "receivables.add_checkoutsession",
    "create checkout sessions",
)
_push(
    PAYMENT_PUSH,
    "Collect payment from a stored bank account",
    "receivables.services.payments.payment_push",
    "receivables.payment",
    "payment_id",
    "receivables.add_payment",
    "collect payments from customers",
)
registry.action_kind(
    APP,
    ActionKind(
        kind=PAYMENT_INTENT_CONFIRM,
        label="Confirm payment intent",
        service="receivables.services.intents.payment_intent_confirm",
        target_model="receivables.paymentintent",
        target_arg="payment_intent_id",
        noun="confirmation",
        permission="receivables.confirm_paymentintent",
        doing="confirm payment intents",
        # A lost answer is settled by reading the intent back (sync, refresh), never by confirming again.
        again_after_unknown=False,
    ),
)
