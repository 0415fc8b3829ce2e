"""What each role may do with the payouts app's models (core.roles merges this)."""

from core import roles

ROLE_PERMISSIONS = {
    roles.PAYOUTS_OPERATOR: (
        "payouts.view_payee",
        "payouts.add_payee",
        "payouts.change_payee",
        "payouts.view_payeeimport",
        "payouts.add_payeeimport",
        "payouts.change_payeeimport",
        "payouts.view_payoutrun",
        "payouts.view_payoutrequest",
        "payouts.add_payoutrequest",
        "payouts.change_payoutrequest",
        "payouts.view_payoutlink",
        "payouts.add_payoutlink",
        "payouts.change_payoutlink",
        "payouts.view_transfer",
    ),
    # Approving a run sends money out of the app wallet: a Payer's call, never the importer's.
    roles.PAYER: (
        "payouts.view_payoutrun",
        "payouts.approve_payoutrun",
        "payouts.view_payee",
        "payouts.view_payoutlink",
        "payouts.view_transfer",
    ),
    roles.ADMINISTRATOR: ("payouts.view_webhookdelivery",),
}
