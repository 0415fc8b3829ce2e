"""Payout requests: Dots takes no idempotency key for them, so ours travels in their metadata."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django_q.tasks import async_task

from core import action_queue, audit
from core.dots_gateway import client, dots_call
from core.errors import DotsOutcomeUnknownError, DotsRejected, DotsUnavailable
from core.models import QueuedDotsAction
from payouts import csv_import
from payouts.errors import InvalidPayee
from payouts.models import Payee, PayoutLink, PayoutRequest
from payouts.services.payout_links import apply_link_state


@transaction.atomic
def payout_request_request(
    *,
    amount_cents: int,
    actor,
    payee_id: int | None = None,
    phone: str = "",
    country: str = "US",
    memo: str = "",
    push: bool = True,
) -> PayoutRequest:
    payee = Payee.objects.get(pk=payee_id) if payee_id else None
    request = PayoutRequest(payee=payee, amount_cents=amount_cents, memo=memo, created_by=actor)
    body: dict = {"amount": amount_cents, "metadata": {"ledgerline_key": str(request.idempotency_key)}}
    if payee is not None and payee.dots_user_id:
        body["user_id"] = payee.dots_user_id
    else:
        e164 = payee.phone_e164 if payee else _e164_or_refuse(phone, country)
        request.phone_e164 = e164
        country_code, national = csv_import.dots_phone(e164)
        body["payee"] = {"country_code": country_code, "phone_number": national}
    if memo:
        body["memo"] = memo
    request.request_body = body
    request.save()
    audit.record(
        actor=actor,
        action="payout_request.requested",
        target=request,
        after={"amount_cents": amount_cents, "payee": str(payee) if payee else request.phone_e164},
    )
    if push:
        transaction.on_commit(lambda: async_task("payouts.tasks.payout_request_push", request.pk))
    return request


def _e164_or_refuse(phone: str, country: str) -> str:
    layout = csv_import.CsvLayout(encoding="", delimiter=",", header=[], columns={"phone": 0, "country_code": 1})
    parsed = csv_import.validate_row(0, [phone, country], layout, 2)
    errors = [e for e in parsed.errors if e[0] in ("phone", "country_code")]
    if errors:
        raise InvalidPayee(csv_import.describe_errors(errors), code="invalid-phone")
    return parsed.values["phone_e164"]


def _find_request_by_key(key: str) -> dict | None:
    with dots_call("look for the payout request"):
        for found in client().iter_payout_requests():
            metadata = found.metadata if isinstance(found.metadata, dict) else {}
            if metadata.get("ledgerline_key") == key:
                return found.raw
    return None


def payout_request_push(*, payout_request_id: int, actor, from_queue: bool = False) -> PayoutRequest:
    """Create it in Dots. Dots has no key here, so after an unknown outcome we first look for ours.

    Queued while Dots is unreachable (ActionQueued), and retried by the queue when Dots did
    not answer; `from_queue` as in payout_link_push.
    """
    request = PayoutRequest.objects.get(pk=payout_request_id)
    if request.status not in (PayoutRequest.Status.PENDING, PayoutRequest.Status.UNKNOWN):
        return request
    action_queue.queue_if_unreachable(
        kind=QueuedDotsAction.Kind.PAYOUT_REQUEST_PUSH, target=request, actor=actor, from_queue=from_queue
    )
    now = timezone.now()
    data = None
    if request.status == PayoutRequest.Status.UNKNOWN:
        data = _find_request_by_key(str(request.idempotency_key))
    if data is None:
        try:
            with dots_call("create the payout request"):
                data = client().create_payout_request(**request.request_body).raw
        except (DotsOutcomeUnknownError, DotsUnavailable, DotsRejected) as exc:
            status = {
                DotsOutcomeUnknownError: PayoutRequest.Status.UNKNOWN,
                DotsRejected: PayoutRequest.Status.REFUSED,
            }.get(type(exc), request.status)
            with transaction.atomic():
                PayoutRequest.objects.filter(pk=request.pk).update(
                    status=status, last_dots_error=str(exc)[:2000], last_dots_attempt_at=now
                )
                if status != request.status:
                    action = (
                        "payout_request.outcome_unknown"
                        if status == PayoutRequest.Status.UNKNOWN
                        else "payout_request.refused"
                    )
                    audit.record(
                        actor=actor,
                        action=action,
                        target=request,
                        before={"status": request.status},
                        after={"status": status},
                        reason=str(exc)[:500],
                    )
            if not from_queue and not isinstance(exc, DotsRejected):
                action_queue.queue_retry(
                    kind=QueuedDotsAction.Kind.PAYOUT_REQUEST_PUSH, target=request, actor=actor, error=str(exc)
                )
            raise
    return store_request_state(request.pk, data, actor, action="payout_request.created")


def store_request_state(
    request_id: int, data: dict, actor, *, action: str = "payout_request.status_changed", source: str = "task"
):
    with transaction.atomic():
        request = PayoutRequest.objects.select_for_update().get(pk=request_id)
        before = request.status
        request.dots_id = data.get("id") or request.dots_id
        request.status = data.get("status") or request.status
        request.last_dots_error = ""
        request.last_dots_attempt_at = timezone.now()
        link_data = data.get("payout-link") or data.get("payout_link")
        if isinstance(link_data, dict) and link_data.get("id"):
            link = PayoutLink.objects.filter(dots_id=link_data["id"]).first()
            if link is None:
                link = PayoutLink(
                    payee=request.payee,
                    amount_cents=link_data.get("amount") or request.amount_cents,
                    delivery_method=(link_data.get("delivery") or {}).get("method", "sms")
                    if (link_data.get("delivery") or {}).get("method") in ("link", "sms", "email")
                    else "sms",
                    memo=request.memo,
                    created_by=request.created_by,
                    request_body={"from_payout_request": request.dots_id},
                )
            apply_link_state(link, link_data)
            link.save()
            request.payout_link = link
        request.save()
        if before != request.status or action == "payout_request.created":
            audit.record(
                actor=actor,
                action=action,
                target=request,
                source=source,
                before={"status": before},
                after={"status": request.status, "dots_id": request.dots_id},
            )
    return request


def payout_request_refresh(*, payout_request_id: int, actor, source: str = "task") -> PayoutRequest:
    request = PayoutRequest.objects.get(pk=payout_request_id)
    if not request.dots_id:
        if request.status == PayoutRequest.Status.UNKNOWN:
            # Refresh (sync, reconciliation) retries by itself: call Dots, never queue.
            # from_queue: call Dots now, never queue (the refresh itself is retried by sync/reconciliation).
            return payout_request_push(payout_request_id=request.pk, actor=actor, from_queue=True)
        return request
    with dots_call("read the payout request"):
        data = client().retrieve_payout_request(payout_request_id=request.dots_id).raw
    return store_request_state(request.pk, data, actor, source=source)
