"""Who sees and settles disagreements with Dots (core.roles merges this)."""

from core import roles

ROLE_PERMISSIONS = {
    # Adopting Dots' state rewrites local records: an Administrator's call; Managers review.
    roles.ADMINISTRATOR: (
        "reconciliation.view_discrepancy",
        "reconciliation.adopt_discrepancy",
        "reconciliation.view_reconciliationrun",
        "reconciliation.view_appwallet",
    ),
    roles.PAYER: ("reconciliation.view_discrepancy", "reconciliation.view_appwallet"),
}
