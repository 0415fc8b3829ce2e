"""What the wallet app brings to the shared machinery (core/registry.py): one place to read it all."""

from core import registry, roles
from core.registry import ActionKind, SyncStep

APP = "wallet"
# Queued Dots action kind (stored on core's QueuedDotsAction.kind).
WALLET_TRANSFER_SEND = "wallet_transfer.send"

_VIEW = ("wallet.view_app", "wallet.view_achaccount", "wallet.view_wallettransfer")

# Payers move wallet money (a second Payer approves above WALLET_SECOND_APPROVAL_CENTS) and may
# verify the app's bank account an Administrator added; Administrators run KYB, the bank account
# and the settings. Managers read everything by themselves (core.roles). Nobody verifies their own
# account or approves their own request: the services refuse that for everyone, superusers included.
ROLE_PERMISSIONS: dict[str, tuple[str, ...]] = {
    roles.PAYER: (
        *_VIEW,
        "wallet.add_wallettransfer",
        "wallet.approve_wallettransfer",
        "wallet.verify_achaccount",
    ),
    roles.ADMINISTRATOR: (
        *_VIEW,
        "wallet.add_app",
        "wallet.change_app",
        "wallet.add_achaccount",
        "wallet.verify_achaccount",
    ),
}

ACTIONS: dict[str, str] = {
    "app.created": "App created in Dots",
    "app.read_from_dots": "App's KYB state changed in Dots",
    "app.compliance_sent": "KYB information sent to Dots",
    "app.kyb_flow_created": "KYB flow link created",
    "app.settings_changed": "App wallet settings changed",
    "app_ach_account.added": "App bank account added",
    "app_ach_account.verified": "App bank account verified",
    "wallet_transfer.requested": "Deposit or withdrawal requested",
    "wallet_transfer.approved": "Deposit or withdrawal approved",
    "wallet_transfer.rejected": "Deposit or withdrawal rejected",
    "wallet_transfer.sent": "Deposit or withdrawal accepted by Dots",
    "wallet_transfer.outcome_unknown": "Deposit or withdrawal sent, no answer from Dots",
    "wallet_transfer.refused": "Deposit or withdrawal refused by Dots",
    "wallet_transfer.status_changed": "Deposit or withdrawal status changed in Dots",
}

registry.role_permissions(APP, ROLE_PERMISSIONS)
registry.audit_actions(APP, ACTIONS)
registry.action_kind(
    APP,
    ActionKind(
        kind=WALLET_TRANSFER_SEND,
        label="Send deposit or withdrawal",
        service="wallet.transfers.transfer_send",
        target_model="wallet.wallettransfer",
        target_arg="transfer_id",
        noun="deposit or withdrawal",
        permission="wallet.add_wallettransfer",
        doing="move app wallet money",
        keyed=True,
        direct_replaces_waiting=True,
    ),
)
registry.task(APP, "wallet.tasks.wallet_transfer_send")
registry.sync_step(APP, SyncStep(name="apps", run="wallet.sync.apps_step", order=84))
registry.sync_step(APP, SyncStep(name="app deposits and withdrawals", run="wallet.sync.transfers_step", order=85))
registry.reconcile_check(APP, "wallet_transfer", "wallet.reconcile.TRANSFER_CHECK")
