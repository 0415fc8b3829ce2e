"""What the payables app brings to the shared machinery (core/registry.py): one place to read it all."""

import datetime as dt

from django.utils import timezone

from core import registry, roles
from core.registry import ActionKind, ScheduleSpec, SyncStep

APP = "payables"
# Queued Dots action kinds (stored on core's QueuedDotsAction.kind).
PAYABLE_SUBMIT = "payable.submit"
PAYABLE_APPROVE = "payable.approve"
PAYABLE_REJECT = "payable.reject"
PAYABLE_CANCEL = "payable.cancel"
PAYABLE_PAY = "payable.pay"

# --- roles: what each role may do with payables, line items and approval policies.

_LINE_ITEMS = (
    "payables.view_lineitem",
    "payables.add_lineitem",
    "payables.change_lineitem",
    "payables.delete_lineitem",
)
_READ = (
    "payables.view_payable",
    "payables.view_lineitem",
    "payables.view_payableapproval",
    "payables.view_approvalpolicy",
    "payables.view_approvalstep",
    "payables.view_approver",
)

ROLE_PERMISSIONS = {
    roles.AP_CLERK: (
        *_READ,
        "payables.add_payable",
        "payables.change_payable",
        *_LINE_ITEMS,
        "payables.submit_payable",
    ),
    # Holding a payable stops approving and paying it: for the people who approve and pay.
    roles.APPROVER: (*_READ, "payables.approve_payable", "payables.hold_payable"),
    roles.PAYER: (*_READ, "payables.pay_payable", "payables.hold_payable"),
    # Approval policies decide who may release money: administered, not self-served.
    roles.ADMINISTRATOR: (
        *_READ,
        "payables.add_approvalpolicy",
        "payables.change_approvalpolicy",
        "payables.delete_approvalpolicy",
        "payables.add_approvalstep",
        "payables.change_approvalstep",
        "payables.delete_approvalstep",
        "payables.change_approver",
        # Emergency overrides: asked for by one Administrator, confirmed by another (payables.overrides).
        "payables.view_controloverride",
        "payables.override_control",
    ),
}

# --- audit actions (dotted, stable: filters and exports rely on them)

ACTIONS = {
    "payable.created": "Payable created",
    "payable.updated": "Payable updated",
    "payable.file_attached": "Payable file attached",
    "payable.file_removed": "Payable file removed",
    "payable.file_removed_in_dots": "Payable's PDF removed in Dots",
    "payable.created_from_file": "Payable read from a PDF by Dots",
    "payable.duplicate_overridden": "Possible duplicate submitted anyway",
    "payable.submitted": "Payable submitted for approval",
    "payable.approved": "Payable approved",
    "payable.step_approved": "Approval step approved",
    "payable.rejected": "Payable rejected",
    "payable.canceled": "Payable canceled",
    "payable.pay_requested": "Payment requested",
    "payable.payment_initiated": "Payment initiated",
    "payable.payment_outcome_unknown": "Payment outcome unknown",
    "payable.payment_completed": "Payable paid",
    "payable.payment_failed": "Payment failed",
    "payable.pay_refused": "Payment refused by Dots",
    "payable.reconciled": "Payable reconciled with Dots",
    "payable.synced": "Payable changed in Dots (sync)",
    "payable.adopted_from_dots": "Dots' state adopted for a payable",
    "payable.interrupted_payment": "Payment call interrupted: outcome unknown",
    "payable.create_in_dots_resolved": "Interrupted create in Dots settled",
    "payable.dots_error": "Dots call failed",
    "payable.pay_scheduled": "Payment scheduled for a date",
    "payable.pay_unscheduled": "Scheduled payment taken off the schedule",
    "payable.scheduled_pay_outcome": "Scheduled payment: outcome",
    "payable.approval_escalated": "Approval escalated (waiting too long)",
    "approval_policy.created": "Approval policy created",
    "approval_policy.updated": "Approval policy changed (new version)",
    "approval_policy.deleted": "Approval policy deleted",
    "approval_policy.reordered": "Approval policy priority changed",
    "approval_policy.unsatisfiable_confirmed": "Policy change saved although open payables lose every approver",
    "approval_policy.dots_synced": "Approval policy brought in line with Dots",
    "approval_policy.dots_error": "Approval policy: Dots call failed",
    "approval_policy.backup_added": "Backup of an absent approver added to a policy step (new version)",
    "approver.synced": "Approvers synced from Dots",
    "approver.linked": "Approver linked to a user",
}
# Stronger controls (payables.controls, holds, send_back, overrides): notifications may follow these.
CONTROL_ACTIONS = {
    "payable.held": "Payable put on hold",
    "payable.hold_released": "Payable released from hold",
    "payable.approved_again": "Payable approved again after a change",
    "payable.sent_back": "Payable sent back for changes",
    "payable.created_from_sent_back": "Draft made from a payable sent back",
    "payable.override_requested": "Emergency override requested",
    "payable.override_confirmed": "Emergency override confirmed",
    "payable.override_used": "Emergency override used",
}

registry.role_permissions(APP, ROLE_PERMISSIONS)
registry.audit_actions(APP, ACTIONS)
registry.audit_actions(APP, CONTROL_ACTIONS)


def _payable_action(kind: str, label: str, service: str, noun: str, permission: str, doing: str, **flags) -> None:
    registry.action_kind(
        APP,
        ActionKind(
            kind=kind,
            label=label,
            service=f"payables.services.{service}",
            target_model="payables.payable",
            target_arg="payable_id",
            noun=noun,
            permission=permission,
            doing=doing,
            **flags,
        ),
    )


_payable_action(
    PAYABLE_SUBMIT, "Submit payable for approval", "payable_submit", "submission", "payables.submit_payable",
    "submit payables",
)  # fmt: skip
# Approvals are per person (two approvers of one step queue two actions); a lost answer is not
# re-sent: the payable's next read from Dots shows whether it counted.
_payable_action(
    PAYABLE_APPROVE, "Approve payable", "payable_approve", "approval", "payables.approve_payable", "approve payables",
    per_actor=True, again_after_unknown=False,
)  # fmt: skip
_payable_action(
    PAYABLE_REJECT, "Reject payable", "payable_reject", "rejection", "payables.approve_payable", "reject payables",
    per_actor=True, again_after_unknown=False,
)  # fmt: skip
_payable_action(
    PAYABLE_CANCEL, "Cancel payable", "payable_cancel", "cancellation", "payables.submit_payable", "cancel payables",
)  # fmt: skip
# Pay is never sent again after a lost answer: payables.tasks.follow_payment follows the payable.
_payable_action(
    PAYABLE_PAY, "Pay payable", "payable_pay", "payment", "payables.pay_payable", "pay payables",
    again_after_unknown=False,
)  # fmt: skip

registry.schedule(
    APP,
    ScheduleSpec(
        name="Sync approvers from Dots",
        func="payables.tasks.sync_approvers",
        minutes=10,
        # Soon after start: under `make run` the emulator comes up with the worker.
        first_run=lambda: timezone.now() + dt.timedelta(seconds=15),
    ),
)
# Approvers have their own schedule (above), so they are not part of the 5-minute sync.
registry.sync_step(APP, SyncStep(name="approvers", run="payables.sync.approvers_step", order=10, scheduled=False))
registry.sync_step(APP, SyncStep(name="payables in flight", run="payables.sync.payables_in_flight_step", order=30))
registry.reconcile_check(APP, "payable", "payables.reconcile.PAYABLE_CHECK")
# Task functions enqueued with async_task (the schedules' funcs count already): the worker runs nothing else.
registry.task(APP, "payables.tasks.follow_payment")

# Pay on the day (payables.scheduled): every 15 minutes; a payable is due from SCHEDULED_PAY_HOUR on its
# day (company time). A poller: catch-up is off (Q_CLUSTER), so downtime brings one run, not many.
registry.schedule(
    APP,
    ScheduleSpec(name="Pay scheduled payables on their day", func="payables.tasks.pay_scheduled", minutes=15),
)
# Reminders and escalation of approvals that wait (payables.reminders); a day's reminder is sent once.
registry.schedule(
    APP,
    ScheduleSpec(
        name="Remind approvers and escalate waiting approvals", func="payables.tasks.remind_approvers", minutes=60
    ),
)
# --- what payables tell people (notifications.services.notify; wording in payables/notify.py)
WAITING_FOR_APPROVAL = "payable.waiting_for_approval"
APPROVED = "payable.approved"
REJECTED = "payable.rejected"
SENT_BACK = "payable.sent_back"
READY_TO_PAY = "payable.ready_to_pay"
PAYMENT_FAILED = "payable.payment_failed"
registry.notification_event(APP, WAITING_FOR_APPROVAL, "A payable waits for your approval")
registry.notification_event(APP, APPROVED, "A payable you created was approved")
registry.notification_event(APP, REJECTED, "A payable you created was rejected")
registry.notification_event(APP, SENT_BACK, "A payable you created was sent back for changes")
registry.notification_event(APP, READY_TO_PAY, "A payable is approved and ready to pay")
registry.notification_event(APP, PAYMENT_FAILED, "A payment failed")
# Pay on the day, reminders and escalation (payables.scheduled, payables.reminders, through payables.notices).
SCHEDULED_PAYMENT = "payable.scheduled_payment"
APPROVAL_REMINDER = "payable.approval_reminder"
APPROVAL_ESCALATED = "payable.approval_escalated"
registry.notification_event(APP, SCHEDULED_PAYMENT, "A payment you scheduled was made, refused or failed")
registry.notification_event(APP, APPROVAL_REMINDER, "Reminder: a payable still waits for your approval")
registry.notification_event(APP, APPROVAL_ESCALATED, "A payable has waited too long for approval")
registry.inbox_source(
    APP,
    registry.InboxSource(
        name="payables_to_approve",
        title="Payables waiting for your approval",
        build="payables.inbox.waiting_for_my_approval",
        order=10,
    ),
)
registry.inbox_source(
    APP,
    registry.InboxSource(
        name="payables_to_pay",
        title="Approved payables ready for you to pay",
        build="payables.inbox.ready_for_me_to_pay",
        order=20,
    ),
)
# Holds whose release date has come are released each hour (safe to run twice: compare-and-set per hold).
registry.schedule(
    APP, ScheduleSpec(name="Release payables held until today", func="payables.tasks.release_due_holds", minutes=60)
)
registry.dashboard_panel(
    APP,
    registry.DashboardPanel(
        name="control_overrides",
        title="Overrides in the last 30 days",
        permission="payables.view_controloverride",
        build="payables.overrides.dashboard_panel",
        template="admin/payables/dashboard/control_overrides.html",
        order=850,
    ),
)
registry.metric(
    APP,
    "ledgerline_payments_outcome_unknown",
    "Payables whose payment outcome is unknown (Dots' answer to pay was lost; being read back).",
    "payables.selectors.payments_outcome_unknown_count",
)
