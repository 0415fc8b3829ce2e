"""The queue of Dots actions: backoff, one run per action across workers, reclaim, cancel, retries."""

import datetime as dt
import threading

import pytest
from django.db import connection
from django.utils import timezone

from core import action_queue, roles
from core.errors import DotsUnavailable, InvalidTransition, PermissionRefused
from core.models import AuditEvent, QueuedDotsAction
from payouts import seam as payouts_seam
from tests.outage_support import ALL_DOWN, end_outage, start_outage
from tests.support import make_user
from vendors import bank_accounts
from vendors import seam as vendors_seam
from vendors import services as vendor_services
from vendors.models import Vendor, VendorBankAccount

Q = QueuedDotsAction.Status
VENDORS_PATH = "/v2/accounts-payable/vendors"


def _vendor(actor, name="Acme Paper") -> Vendor:
    return Vendor.objects.create(
        name=name, address_line_1="1 Main St", city="Springfield", state="IL", postcode="62701", created_by=actor
    )


def _queue_send(vendor, actor) -> QueuedDotsAction:
    return action_queue._queue(
        kind=vendors_seam.VENDOR_SEND,
        target=vendor,
        actor=actor,
        arguments={},
        next_attempt_at=timezone.now(),
        reason="test",
    )


def test_backoff_grows_from_30_seconds_and_stops_at_30_minutes():
    assert [action_queue.backoff_seconds(n) for n in range(1, 10)] == [30, 60, 120, 240, 480, 960, 1800, 1800, 1800]


@pytest.mark.django_db(transaction=True)
def test_two_drains_at_once_run_each_action_exactly_once(dots, settings):
    settings.DOTS_HEALTH_CACHE_SECONDS = 0
    clerk = make_user("clerk", role=roles.AP_CLERK)
    actions = [_queue_send(_vendor(clerk, name=f"Vendor {i}"), clerk) for i in range(6)]
    barrier = threading.Barrier(2)
    errors = []

    def drain():
        try:
            barrier.wait()
            action_queue.drain()
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=drain) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert len(dots.received("POST", VENDORS_PATH)) == 6
    assert set(QueuedDotsAction.objects.values_list("status", flat=True)) == {Q.DONE}
    for action in actions:
        assert AuditEvent.objects.filter(action="dots_action.started", object_id=str(action.pk)).count() == 1
    assert Vendor.objects.filter(dots_id__isnull=True).count() == 0


@pytest.mark.django_db
def test_a_vendor_send_dots_does_not_answer_gets_a_retry_with_growing_backoff(dots, outage_settings):
    outage_settings.DOTS_OUTAGE_MIN_FAILURES = 100  # failing, but not yet an outage
    clerk = make_user("clerk", role=roles.AP_CLERK)
    dots.add_fault(method="POST", path=VENDORS_PATH, **ALL_DOWN)

    vendor = vendor_services.vendor_create(
        actor=clerk, name="Acme", address_line_1="1 Main St", city="Springfield", state="IL", postcode="62701"
    )

    assert vendor.last_dots_error and vendor.last_dots_attempt_at
    action = QueuedDotsAction.objects.get()
    assert (action.status, action.attempts, action.actor) == (Q.WAITING, 1, clerk)
    first_wait = (action.next_attempt_at - action.created_at).total_seconds()
    assert 29 <= first_wait <= 31

    QueuedDotsAction.objects.filter(pk=action.pk).update(next_attempt_at=timezone.now())
    action_queue.drain()
    action.refresh_from_db()
    assert (action.status, action.attempts) == (Q.WAITING, 2)
    assert 59 <= (action.next_attempt_at - timezone.now()).total_seconds() <= 61
    assert AuditEvent.objects.filter(action="dots_action.retry_scheduled", object_id=str(action.pk)).exists()

    dots.control("faults/clear")
    QueuedDotsAction.objects.filter(pk=action.pk).update(next_attempt_at=timezone.now())
    action_queue.drain()

    action.refresh_from_db()
    vendor.refresh_from_db()
    assert action.status == Q.DONE
    assert vendor.dots_id and vendor.last_dots_error == ""
    assert len([r for r in dots.received("POST", VENDORS_PATH) if r.get("status") in (200, 201)]) <= 1
    assert Vendor.objects.filter(dots_id__isnull=False).count() == 1


@pytest.mark.django_db
def test_a_running_action_left_by_a_dead_worker_is_reclaimed_and_run(dots, settings):
    settings.DOTS_HEALTH_CACHE_SECONDS = 0
    clerk = make_user("clerk", role=roles.AP_CLERK)
    action = _queue_send(_vendor(clerk), clerk)
    QueuedDotsAction.objects.filter(pk=action.pk).update(
        status=Q.RUNNING, claimed_at=timezone.now() - action_queue.RUNNING_TIMEOUT - dt.timedelta(seconds=1)
    )

    result = action_queue.drain()

    assert result.reclaimed == 1 and result.done == 1
    assert AuditEvent.objects.filter(action="dots_action.reclaimed", object_id=str(action.pk)).exists()


@pytest.mark.django_db
def test_a_keyed_push_stops_retrying_23_hours_after_its_key_was_made(dots, outage_settings):
    from payouts.models import PayoutLink
    from payouts.services import payout_links

    operator = make_user("operator", role=roles.PAYOUTS_OPERATOR)
    link = payout_links.payout_link_request(amount_cents=1_000, actor=operator, push=False)
    action = action_queue.queue_retry(
        kind=payouts_seam.PAYOUT_LINK_PUSH,
        target=link,
        actor=operator,
        error="Dots could not be reached",
        first_attempt_at=timezone.now() - dt.timedelta(hours=23, minutes=1),
    )
    QueuedDotsAction.objects.filter(pk=action.pk).update(next_attempt_at=timezone.now())
    dots.add_fault(method="POST", path="/v2/payouts/payout-links*", **ALL_DOWN)
    dots.add_fault(method="POST", path="/v2/payout-links*", **ALL_DOWN)
    outage_settings.DOTS_OUTAGE_MIN_FAILURES = 100

    action_queue.drain()

    action.refresh_from_db()
    assert action.status == Q.FAILED
    assert "idempotency key only 24 hours" in action.last_error
    assert PayoutLink.objects.get(pk=link.pk).dots_id in (None, "")


@pytest.mark.django_db
def test_an_administrator_cancels_a_waiting_action_with_a_reason_and_others_may_not(dots):
    clerk = make_user("clerk", role=roles.AP_CLERK)
    admin_user = make_user("admin", role=roles.ADMINISTRATOR)
    action = _queue_send(_vendor(clerk), clerk)

    with pytest.raises(PermissionRefused):
        action_queue.cancel(action_id=action.pk, actor=clerk, reason="no")
    action_queue.cancel(action_id=action.pk, actor=admin_user, reason="vendor withdrew")

    action.refresh_from_db()
    assert action.status == Q.CANCELLED
    event = AuditEvent.objects.get(action="dots_action.cancelled", object_id=str(action.pk))
    assert (event.actor, event.reason) == (admin_user, "vendor withdrew")
    with pytest.raises(InvalidTransition):
        action_queue.cancel(action_id=action.pk, actor=admin_user, reason="again")
    assert action_queue.drain().done == 0


@pytest.mark.django_db
def test_drain_during_an_outage_probes_and_runs_nothing(dots, outage_settings):
    clerk = make_user("clerk", role=roles.AP_CLERK)
    start_outage(dots)
    action = _queue_send(_vendor(clerk), clerk)

    result = action_queue.drain()

    assert (result.probed, result.dots_up, result.done) == (True, False, 0)
    assert dots.received("POST", VENDORS_PATH) == []
    end_outage(dots)
    assert action_queue.drain().done == 1
    action.refresh_from_db()
    assert action.status == Q.DONE


@pytest.mark.django_db
def test_adding_a_bank_account_during_an_outage_is_refused_and_nothing_is_stored(dots, outage_settings):
    clerk = make_user("clerk", role=roles.AP_CLERK)
    vendor = vendor_services.vendor_create(
        actor=clerk, name="Acme", address_line_1="1 Main St", city="Springfield", state="IL", postcode="62701"
    )
    start_outage(dots)

    with pytest.raises(DotsUnavailable, match="Dots is unreachable since .*; add the bank account again when it is"):
        bank_accounts.bank_account_create(
            actor=clerk,
            vendor_id=vendor.pk,
            name="Operating",
            routing_number="021000021",
            account_number="000123456789",
            account_type="checking",
        )

    assert VendorBankAccount.objects.count() == 0
    assert QueuedDotsAction.objects.count() == 0
    assert dots.received("POST", "/v2/accounts-payable/vendors/*/payment-methods*") == []
