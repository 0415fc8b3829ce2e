"""What the payables app brings to the shared machinery (core/registry.py): one place to read it all."""

import datetime as dt

from django.utils import timezone

from core import registry
from core.registry import ActionKind, ScheduleSpec, SyncStep
from payables.audit_actions import ACTIONS
from payables.roles import ROLE_PERMISSIONS

APP = "payables"
# Queued Dots action kinds (stored on core's QueuedDotsAction.kind).
PAYABLE_SUBMIT = "payable.submit"
PAYABLE_APPROVE = "payable.approve"
PAYABLE_REJECT = "payable.reject"
PAYABLE_CANCEL = "payable.cancel"
PAYABLE_PAY = "payable.pay"

registry.role_permissions(APP, ROLE_PERMISSIONS)
registry.audit_actions(APP, ACTIONS)


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
