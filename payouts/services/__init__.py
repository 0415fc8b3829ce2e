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
