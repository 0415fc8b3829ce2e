"""The resource modules app.py mounts, each exposing ROUTES (and optionally CONTROL_ROUTES).

To the other emulator helper ("emulator-payouts"): import your module here and append
it to RESOURCE_MODULES (users, payout_links, payout_requests, payouts, payout_batches,
payments, payment_intents, payment_customers, payment_methods, checkout_sessions).
Imports are plain on purpose: a module that fails to import must fail the start,
not silently drop its routes.
"""

from dots.emulator.resources import (  # emulator-payouts' resources
    approval_policies,
    approvers,
    apps,
    checkout_sessions,
    payables,
    payment_customers,
    payment_intents,
    payment_methods,
    payments,
    payout_batches,
    payout_links,
    payout_requests,
    payouts,
    transfers,
    user_seed,
    users,
    vendors,
)

RESOURCE_MODULES = [
    apps,
    transfers,
    vendors,
    approvers,
    approval_policies,
    payables,
    # emulator-payouts:
    users,
    payout_links,
    payout_requests,
    payouts,
    payout_batches,
    payments,
    payment_intents,
    payment_customers,
    payment_methods,
    checkout_sessions,
    user_seed,
]
