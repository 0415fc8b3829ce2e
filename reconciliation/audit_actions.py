ACTIONS = {
    "reconciliation.run": "Reconciliation with Dots ran",
    "discrepancy.opened": "Disagreement with Dots found",
    "discrepancy.closed": "Disagreement with Dots went away",
    "discrepancy.adopted": "Dots' state adopted",
    "app_wallet.synced": "App wallet balance changed in Dots",
    "sync.ran": "Sync with Dots ran",
}
