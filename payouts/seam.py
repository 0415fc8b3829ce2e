"""What the payouts app brings to the shared machinery (core/registry.py): one place to read it all."""

from core import registry
from core.registry import ActionKind, RecordDetail, SyncStep
from payouts.audit_actions import ACTIONS
from payouts.roles import ROLE_PERMISSIONS

APP = "payouts"
# Queued Dots action kinds (stored on core's QueuedDotsAction.kind).
PAYOUT_LINK_PUSH = "payout_link.push"
PAYOUT_REQUEST_PUSH = "payout_request.push"

registry.role_permissions(APP, ROLE_PERMISSIONS)
registry.audit_actions(APP, ACTIONS)
registry.action_kind(
    APP,
    ActionKind(
        kind=PAYOUT_LINK_PUSH,
        label="Create payout link in Dots",
        service="payouts.services.payout_link_push",
        target_model="payouts.payoutlink",
        target_arg="payout_link_id",
        noun="creation in Dots",
        permission="payouts.change_payoutlink",
        doing="create payout links in Dots",
        # Sent with its stored idempotency key: retries stop 23 h after the link was made.
        keyed=True,
        direct_replaces_waiting=True,
    ),
)
registry.action_kind(
    APP,
    ActionKind(
        kind=PAYOUT_REQUEST_PUSH,
        label="Create payout request in Dots",
        service="payouts.services.payout_request_push",
        target_model="payouts.payoutrequest",
        target_arg="payout_request_id",
        noun="creation in Dots",
        permission="payouts.change_payoutrequest",
        doing="create payout requests in Dots",
        direct_replaces_waiting=True,
    ),
)
registry.sync_step(APP, SyncStep(name="payout requests", run="payouts.sync.payout_requests_step", order=40))
registry.sync_step(APP, SyncStep(name="payout links", run="payouts.sync.payout_links_step", order=50))
registry.sync_step(APP, SyncStep(name="transfers", run="payouts.sync.transfers_step", order=60))
registry.sync_step(APP, SyncStep(name="payees", run="payouts.sync.payees_step", order=70))
# A payable's page shows the transfer that paid it, as this app's mirror last saw it.
registry.record_detail_provider(
    APP,
    RecordDetail(model="payables.payable", name="payment_transfer", render="payouts.transfers.payable_transfer_html"),
)
registry.reconcile_check(APP, "payout_link", "payouts.reconcile.PAYOUT_LINK_CHECK")
registry.reconcile_check(APP, "payout_request", "payouts.reconcile.PAYOUT_REQUEST_CHECK")
registry.reconcile_check(APP, "payee", "payouts.reconcile.PAYEE_CHECK")
