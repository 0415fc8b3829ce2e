"""What the payouts app brings to the shared machinery (core/registry.py): one place to read it all."""

from core import registry, roles
from core.registry import ActionKind, RecordDetail, SyncStep

APP = "payouts"
# Queued Dots action kinds (stored on core's QueuedDotsAction.kind).
PAYOUT_LINK_PUSH = "payout_link.push"
PAYOUT_REQUEST_PUSH = "payout_request.push"
PAYEE_TRANSFER_SEND = "payee_transfer.send"
PAYEE_PAYOUT_SEND = "payee_payout.send"
PAYOUT_BATCH_SEND = "payout_batch.send"

# --- roles: what each role may do with the payouts app's models.

ROLE_PERMISSIONS = {
    roles.PAYOUTS_OPERATOR: (
        "payouts.view_payee",
        "payouts.add_payee",
        "payouts.change_payee",
        "payouts.delete_payee",
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
        "payouts.view_payeetransfer",
        "payouts.add_payeetransfer",
        "payouts.view_payeepayout",
        "payouts.add_payeepayout",
        "payouts.view_payoutbatch",
        "payouts.add_payoutbatch",
    ),
    # Approving a run sends money out of the app wallet: a Payer's call, never the importer's.
    roles.PAYER: (
        "payouts.view_payoutrun",
        "payouts.approve_payoutrun",
        "payouts.view_payee",
        "payouts.view_payoutlink",
        "payouts.view_transfer",
        "payouts.view_payeetransfer",
        "payouts.approve_payeetransfer",
        "payouts.view_payeepayout",
        "payouts.approve_payeepayout",
        "payouts.view_payoutbatch",
        "payouts.approve_payoutbatch",
    ),
    roles.ADMINISTRATOR: ("payouts.view_webhookdelivery",),
}

# --- audit actions (dotted, stable: filters and exports rely on them)

ACTIONS = {
    "payee.created": "Payee created in Dots",
    "payee.linked": "Payee linked to an existing Dots user",
    "payee.refreshed": "Payee refreshed from Dots",
    "payee.updated": "Payee updated in Dots",
    "payee.create_failed": "Payee creation failed",
    "payee.verification_sent": "Payee verification token sent",
    "payee.verified": "Payee verified",
    "payee.deleted": "Payee deleted in Dots",
    "payee.compliance_set": "Payee's tax form (W-9) sent to Dots",
    "payee.w8ben_sent": "Payee's tax form (W-8BEN) sent to Dots",
    "payee.address_set": "Payee's address sent to Dots",
    "payee.payout_method_added": "Payout method added to a payee in Dots",
    "payee.delete_refused": "Payee deletion refused by Dots",
    "payee_transfer.requested": "Transfer to a payee asked for",
    "payee_transfer.approved": "Transfer to a payee approved",
    "payee_transfer.rejected": "Transfer to a payee rejected",
    "payee_transfer.sent": "Transfer to a payee sent to Dots",
    "payee_transfer.outcome_unknown": "Transfer to a payee: no answer from Dots",
    "payee_transfer.refused": "Transfer to a payee refused by Dots",
    "payee_transfer.status_changed": "Transfer to a payee changed status in Dots",
    "payee_payout.requested": "Payout from a payee's wallet asked for",
    "payee_payout.approved": "Payout from a payee's wallet approved",
    "payee_payout.rejected": "Payout from a payee's wallet rejected",
    "payee_payout.sent": "Payout from a payee's wallet sent to Dots",
    "payee_payout.outcome_unknown": "Payout from a payee's wallet: no answer from Dots",
    "payee_payout.refused": "Payout from a payee's wallet refused by Dots",
    "payee_payout.status_changed": "Payout from a payee's wallet changed status in Dots",
    "payout_batch.requested": "Payout batch built",
    "payout_batch.approved": "Payout batch approved",
    "payout_batch.rejected": "Payout batch rejected",
    "payout_batch.sent": "Payout batch sent to Dots",
    "payout_batch.outcome_unknown": "Payout batch: no answer from Dots",
    "payout_batch.refused": "Payout batch refused by Dots",
    "payout_batch.status_changed": "Payout batch changed status in Dots",
    "payout_batch.outcomes_read": "Payout batch: payees' outcomes read from Dots",
    "payee_import.uploaded": "Payee file uploaded for checking",
    "payee_import.refused": "Payee file refused while checking",
    "payee_import.previewed": "Payee file previewed",
    "payee_import.confirmed": "Payee import confirmed",
    "payee_import.discarded": "Payee import discarded",
    "payee_import.cancel_requested": "Payee import cancel requested",
    "payee_import.finished": "Payee import finished",
    "payout_run.created": "Payout run prepared",
    "payout_run.approved": "Payout run approved",
    "payout_run.sent": "Payout run sent",
    "payout_run.cancelled": "Payout run cancelled",
    "payout_link.requested": "Payout link requested",
    "payout_link.created": "Payout link created in Dots",
    "payout_link.refused": "Payout link refused by Dots",
    "payout_link.outcome_unknown": "Payout link outcome unknown",
    "payout_link.cancelled": "Payout link cancelled",
    "payout_link.redelivered": "Payout link redelivered",
    "payout_link.status_changed": "Payout link status changed",
    "payout_request.requested": "Payout request requested",
    "payout_request.created": "Payout request created in Dots",
    "payout_request.refused": "Payout request refused by Dots",
    "payout_request.outcome_unknown": "Payout request outcome unknown",
    "payout_request.status_changed": "Payout request status changed",
    "transfer.changed": "Transfer changed in Dots (status, amount or failure reason)",
    "transfers.synced": "Transfers seen in Dots for the first time (one event per sync run)",
    "payout_link.adopted_from_dots": "Dots' state adopted for a payout link",
    "payout_request.adopted_from_dots": "Dots' state adopted for a payout request",
    "payee.adopted_from_dots": "Dots' state adopted for a payee",
}

registry.role_permissions(APP, ROLE_PERMISSIONS)
registry.audit_actions(APP, ACTIONS)
registry.action_kind(
    APP,
    ActionKind(
        kind=PAYOUT_LINK_PUSH,
        label="Create payout link in Dots",
        service="payouts.services.payout_links.payout_link_push",
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
        service="payouts.services.payout_requests.payout_request_push",
        target_model="payouts.payoutrequest",
        target_arg="payout_request_id",
        noun="creation in Dots",
        permission="payouts.change_payoutrequest",
        doing="create payout requests in Dots",
        direct_replaces_waiting=True,
    ),
)
registry.action_kind(
    APP,
    ActionKind(
        kind=PAYEE_TRANSFER_SEND,
        label="Send transfer to a payee",
        service="payouts.services.payee_transfers.transfer_send",
        target_model="payouts.payeetransfer",
        target_arg="transfer_id",
        noun="transfer",
        permission="payouts.approve_payeetransfer",
        doing="send transfers to payees",
        # Sent with its stored idempotency key: retries stop 23 h after the first send.
        keyed=True,
        direct_replaces_waiting=True,
    ),
)
registry.action_kind(
    APP,
    ActionKind(
        kind=PAYEE_PAYOUT_SEND,
        label="Send payout from a payee's wallet",
        service="payouts.services.payee_payouts.payout_send",
        target_model="payouts.payeepayout",
        target_arg="payout_id",
        noun="payout",
        permission="payouts.approve_payeepayout",
        doing="send payouts from payees' wallets",
        keyed=True,
        direct_replaces_waiting=True,
    ),
)
registry.action_kind(
    APP,
    ActionKind(
        kind=PAYOUT_BATCH_SEND,
        label="Send payout batch",
        service="payouts.services.payout_batches.batch_send",
        target_model="payouts.payoutbatch",
        target_arg="batch_id",
        noun="payout batch",
        permission="payouts.approve_payoutbatch",
        doing="send payout batches",
        keyed=True,
        direct_replaces_waiting=True,
    ),
)
registry.sync_step(APP, SyncStep(name="payout requests", run="payouts.sync.payout_requests_step", order=40))
registry.sync_step(APP, SyncStep(name="payout links", run="payouts.sync.payout_links_step", order=50))
registry.sync_step(APP, SyncStep(name="transfers", run="payouts.sync.transfers_step", order=60))
registry.sync_step(APP, SyncStep(name="payees", run="payouts.sync.payees_step", order=70))
registry.sync_step(APP, SyncStep(name="transfers to payees", run="payouts.sync.payee_transfers_step", order=75))
registry.sync_step(APP, SyncStep(name="payouts from payees' wallets", run="payouts.sync.payee_payouts_step", order=76))
registry.sync_step(APP, SyncStep(name="payout batches", run="payouts.sync.payout_batches_step", order=77))
# A payable's page shows the transfer that paid it, as this app's mirror last saw it.
registry.record_detail_provider(
    APP,
    RecordDetail(model="payables.payable", name="payment_transfer", render="payouts.transfers.payable_transfer_html"),
)
registry.reconcile_check(APP, "payout_link", "payouts.reconcile.PAYOUT_LINK_CHECK")
registry.reconcile_check(APP, "payout_request", "payouts.reconcile.PAYOUT_REQUEST_CHECK")
registry.reconcile_check(APP, "payee", "payouts.reconcile.PAYEE_CHECK")
registry.reconcile_check(APP, "payee_transfer", "payouts.reconcile_money_out.PAYEE_TRANSFER_CHECK")
registry.reconcile_check(APP, "payee_payout", "payouts.reconcile_money_out.PAYEE_PAYOUT_CHECK")
registry.reconcile_check(APP, "payout_batch", "payouts.reconcile_money_out.PAYOUT_BATCH_CHECK")
# Task functions enqueued with async_task: the worker runs nothing else (core.task_guard).
for _path in (
    "payouts.tasks.payee_import_check",
    "payouts.tasks.payee_import_run",
    "payouts.tasks.payout_link_push",
    "payouts.tasks.payout_request_push",
    "payouts.tasks.payout_run_send",
    "payouts.tasks.webhook_delivery_process",
):
    registry.task(APP, _path)

# What payouts tell people (notifications.services.notify; wording in payouts/notify.py).
PAYOUT_RUN_FINISHED = "payout_run.finished"
PAYEE_IMPORT_FINISHED = "payee_import.finished"
registry.notification_event(APP, PAYOUT_RUN_FINISHED, "A payout run you started finished")
registry.notification_event(APP, PAYEE_IMPORT_FINISHED, "A payee import you uploaded finished")
