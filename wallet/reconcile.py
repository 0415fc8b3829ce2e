"""Deposits and withdrawals compared with Dots (the reconciliation report), and those in doubt settled.

Wallet transfers are few (people ask for each), so each one Dots has is read by its id.
Settling a transfer in doubt resends it with its own key: Dots answers with the transfer
the first call made, if any, and makes it otherwise; never a second one (core.keyed_send).
"""

from wallet import transfers

RECORD_TYPE = "wallet_transfer"

TRANSFER_CHECK = transfers.KEYED.record_check(
    record_type=RECORD_TYPE,
    label="app deposits and withdrawals",
    noun="Deposit or withdrawal",
    doing="read the deposit or withdrawal",
    refresh=lambda pk, actor, source: transfers.transfer_refresh(transfer_id=pk, actor=actor, source=source),
)
