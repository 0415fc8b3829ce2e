"""Payout links: the intent (key and exact body) stored first, then sent to Dots; refreshed, cancelled, redelivered."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django_q.tasks import async_task

from core import action_queue, audit
from core.dots_gateway import client, dots_call
from core.errors import DotsOutcomeUnknownError, DotsRejected, DotsUnavailable
from core.models import QueuedDotsAction
from payouts import csv_import
from payouts.errors import PayeeNotInDots
from payouts.models import Payee, PayoutLink


def _link_body(
    *,
    payee: Payee | None,
    amount_cents: int,
    delivery_method: str,
    memo: str,
    tax_exempt: bool,
    key: str,
    payee_details: dict | None = None,
) -> dict:
    body = {
        "amount": amount_cents,
        "idempotency_key": key,
        "delivery": {"method": delivery_method},
        "tax_exempt": tax_exempt,
    }
    if payee is not None and payee.dots_user_id:
        body["user_id"] = payee.dots_user_id
    if payee is not None:
        country_code, national = csv_import.dots_phone(payee.phone_e164)
        body["payee"] = {
            "first_name": payee.first_name,
            "last_name": payee.last_name,
            "email": payee.email,
            "country_code": country_code,
            "phone_number": national,
        }
    elif payee_details:
        body["payee"] = payee_details
    if memo:
        body["memo"] = memo
    return body


@transaction.atomic
def payout_link_request(
    *,
    amount_cents: int,
    actor,
    payee_id: int | None = None,
    delivery_method: str = "link",
    memo: str = "",
    tax_exempt: bool = False,
    push: bool = True,
) -> PayoutLink:
    """Store the intent (key and exact body); the Dots call happens after commit (payout_link_push)."""
    payee = Payee.objects.get(pk=payee_id) if payee_id else None
    link = PayoutLink(
        payee=payee,
        amount_cents=amount_cents,
        delivery_method=delivery_method,
        memo=memo,
        tax_exempt=tax_exempt,
        created_by=actor,
    )
    link.request_body = _link_body(
        payee=payee,
        amount_cents=amount_cents,
        delivery_method=delivery_method,
        memo=memo,
        tax_exempt=tax_exempt,
        key=str(link.idempotency_key),
    )
    link.save()
    audit.record(
        actor=actor,
        action="payout_link.requested",
        target=link,
        after={"amount_cents": amount_cents, "payee": str(payee) if payee else "", "delivery": delivery_method},
    )
    if push:
        transaction.on_commit(lambda: async_task("payouts.tasks.payout_link_push", link.pk))
    return link


def payout_link_push(
    *, payout_link_id: int, actor, retry_refused: bool = False, from_queue: bool = False
) -> PayoutLink:
    """Send the stored body with the stored key. Repeating it never makes a second link.

    `retry_refused` sends a refused link again (Dots does not remember refused requests,
    so the same key is safe once the cause, say a short wallet, is fixed).
    While Dots is unreachable the push is queued (ActionQueued); when Dots does not answer
    a retry is queued (core.action_queue: backoff, stops 23 h after the link was made).
    `from_queue`: called by the queue (or by a caller that retries by itself): never queue.
    """
    link = PayoutLink.objects.get(pk=payout_link_id)
    retryable = {PayoutLink.Status.PENDING, PayoutLink.Status.UNKNOWN}
    if retry_refused:
        retryable.add(PayoutLink.Status.REFUSED)
    if link.status not in retryable:
        return link
    action_queue.queue_if_unreachable(
        kind=QueuedDotsAction.Kind.PAYOUT_LINK_PUSH,
        target=link,
        actor=actor,
        arguments={"retry_refused": True} if retry_refused else {},
        from_queue=from_queue,
    )
    now = timezone.now()
    try:
        with dots_call("create the payout link"):
            created = client().create_payout_link(**link.request_body)
    except DotsOutcomeUnknownError as exc:
        _link_failed(link, PayoutLink.Status.UNKNOWN, str(exc), "payout_link.outcome_unknown", actor, now)
        _queue_link_retry(link, actor=actor, error=str(exc), from_queue=from_queue)
        raise
    except DotsUnavailable as exc:
        _link_failed(link, link.status, str(exc), None, actor, now)
        _queue_link_retry(link, actor=actor, error=str(exc), from_queue=from_queue)
        raise
    except DotsRejected as exc:
        _link_failed(link, PayoutLink.Status.REFUSED, str(exc), "payout_link.refused", actor, now)
        raise
    with transaction.atomic():
        link = PayoutLink.objects.select_for_update().get(pk=payout_link_id)
        before = link.status
        apply_link_state(link, created.raw)
        link.last_dots_error = ""
        link.last_dots_attempt_at = now
        link.save()
        audit.record(
            actor=actor,
            action="payout_link.created",
            target=link,
            before={"status": before},
            after={"status": link.status, "dots_id": link.dots_id},
        )
    return link


def _queue_link_retry(link: PayoutLink, *, actor, error: str, from_queue: bool) -> None:
    if not from_queue:
        # The key was made with the link: Dots forgets it 24 h after, so retries stop at 23 h.
        action_queue.queue_retry(
            kind=QueuedDotsAction.Kind.PAYOUT_LINK_PUSH,
            target=link,
            actor=actor,
            error=error,
            first_attempt_at=link.created_at,
        )


def _link_failed(link, status, message, action, actor, now) -> None:
    with transaction.atomic():
        before = link.status
        # Only while no push has recorded a Dots id: a failure seen by one push must not undo
        # the link another push (same key) recorded a moment earlier.
        if not PayoutLink.objects.filter(pk=link.pk, dots_id__isnull=True).update(
            status=status, last_dots_error=message[:2000], last_dots_attempt_at=now
        ):
            return
        if action:
            audit.record(
                actor=actor,
                action=action,
                target=link,
                before={"status": before},
                after={"status": status},
                reason=message[:500],
            )


def apply_link_state(link: PayoutLink, data: dict) -> bool:
    """Copy Dots' view; append to the timeline when the status moved. Answers whether it moved."""
    status = data.get("status") or link.status
    moved = status != link.status
    link.dots_id = data.get("id") or link.dots_id
    link.link = data.get("link") or link.link
    link.claimed_user_id = data.get("claimed_user_id") or link.claimed_user_id
    link.transfer_dots_id = data.get("transfer_id") or link.transfer_dots_id
    if moved or not link.timeline:
        link.timeline = [*link.timeline, {"status": status, "seen_at": timezone.now().isoformat()}]
    link.status = status
    return moved


def payout_link_refresh(*, payout_link_id: int, actor, source: str = "task") -> PayoutLink:
    link = PayoutLink.objects.get(pk=payout_link_id)
    if not link.dots_id:
        if link.status == PayoutLink.Status.UNKNOWN:
            # Refresh (sync, reconciliation) retries by itself: call Dots, never queue.
            # from_queue: call Dots now, never queue (the refresh itself is retried by sync/reconciliation).
            return payout_link_push(payout_link_id=link.pk, actor=actor, from_queue=True)
        return link
    with dots_call("read the payout link"):
        data = client().retrieve_payout_link(payout_link_id=link.dots_id).raw
    return _store_link_state(link.pk, data, actor, source=source)


def _store_link_state(link_id: int, data: dict, actor, *, source: str = "task") -> PayoutLink:
    with transaction.atomic():
        link = PayoutLink.objects.select_for_update().get(pk=link_id)
        before = link.status
        moved = apply_link_state(link, data)
        link.save()
        if moved:
            audit.record(
                actor=actor,
                action="payout_link.status_changed",
                target=link,
                source=source,
                before={"status": before},
                after={"status": link.status},
            )
    return link


def payout_link_cancel(*, payout_link_id: int, actor, reason: str = "") -> PayoutLink:
    link = PayoutLink.objects.get(pk=payout_link_id)
    if not link.dots_id:
        raise PayeeNotInDots(f"{link} is not in Dots ({link.get_status_display()}).", code="not-in-dots")
    with dots_call("cancel the payout link"):
        data = client().cancel_payout_link(payout_link_id=link.dots_id).raw
    link = _store_link_state(link.pk, data, actor)
    audit.record(actor=actor, action="payout_link.cancelled", target=link, after={"status": link.status}, reason=reason)
    return link


def payout_link_redeliver(*, payout_link_id: int, actor) -> PayoutLink:
    link = PayoutLink.objects.get(pk=payout_link_id)
    if not link.dots_id:
        raise PayeeNotInDots(f"{link} is not in Dots ({link.get_status_display()}).", code="not-in-dots")
    with dots_call("redeliver the payout link"):
        answer = client().redeliver_payout_link(payout_link_id=link.dots_id)
    data = dict(answer).get("payout_link") or {}
    if data:
        link = _store_link_state(link.pk, data, actor)
    audit.record(
        actor=actor,
        action="payout_link.redelivered",
        target=link,
        after={"redelivered": bool(dict(answer).get("redelivered"))},
    )
    return link
