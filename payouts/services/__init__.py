"""Every state change of the payouts app, one module per idea.

- `payees`: one payee (a Dots user): create or link, refresh, update, verify.
- `payee_imports`: a CSV of payees: preview, confirm, discard, cancel, process.
- `payout_links`: a payout link: request (the intent), push (the Dots call), refresh, cancel, redeliver.
- `payout_requests`: a payout request: request, push, refresh.
- `payout_runs`: the payout run an import with amounts prepares: approve, cancel, send, retry.

Dots calls never run inside a transaction or under a row lock: the intent (status,
idempotency key, exact body) is committed first, Dots is called, then the outcome
is recorded in a second transaction.
"""

# core.action_queue names the queued pushes by these dotted paths
# ("payouts.services.payout_link_push"); import from the modules everywhere else.
from payouts.services.payout_links import payout_link_push
from payouts.services.payout_requests import payout_request_push

__all__ = ["payout_link_push", "payout_request_push"]
