"""Payout requests: Dots takes no idempotency key for them, so ours travels in their metadata."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone
from django_q.tasks import async_task

from core import action_queue, audit
from core.dots_gateway import client, dots_call
from core.errors import DotsOutcomeUnknownError, DotsRejected, DotsUnavailable, InvalidTransition
from core.permissions import require_perm
from core.send_once import create_once, find_in_dots
from core.transitions import DOTS
from dots.types import PayoutRequest as DotsPayoutRequest
from payouts import csv_import
from payouts import seam as payouts_seam
from payouts.errors import InvalidPayee
from payouts.models import Payee, PayoutLink, PayoutRequest
from payouts.services.payout_links import apply_link_state

ADD_REQUEST = "payouts.add_payoutrequest"
CHANGE_REQUEST = "payouts.change_payoutrequest"


@transaction.atomic
def payout_request_request(
    *,
    amount_cents: int,
    actor: User,
    payee_id: int | None = None,
    phone: str = "",
    country: str = "US",
    memo: str = "",
    push: bool = True,
) -> PayoutRequest:
    """Store the request (our key in its metadata); the Dots call happens after commit, as `actor`."""
    require_perm(actor, ADD_REQUEST, "send payout requests")
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
        transaction.on_commit(lambda: async_task("payouts.tasks.payout_request_push", request.pk, actor.pk))
    return request


def _e164_or_refuse(phone: str, country: str) -> str:
    layout = csv_import.CsvLayout(encoding="", delimiter=",", header=[], columns={"phone": 0, "country_code": 1})
    parsed = csv_import.validate_row(0, [phone, country], layout, 2)
    errors = [e for e in parsed.errors if e[0] in ("phone", "country_code")]
    if errors:
        raise InvalidPayee(csv_import.describe_errors(errors), code="invalid-phone")
    return parsed.values["phone_e164"]


def _carries_key(dots_request: DotsPayoutRequest, key: str) -> bool:
    metadata = dots_request.metadata if isinstance(dots_request.metadata, dict) else {}
    return metadata.get("ledgerline_key") == key


def _find_request_by_key(key: str) -> DotsPayoutRequest | None:
    return find_in_dots(
        client().iter_payout_requests,
        matches=lambda found: _carries_key(found, key),
        what="the payout request",
    )


def payout_request_push(
    *,
    payout_request_id: int,
    actor: User,
    from_queue: bool = False,
    queue_when_unreachable: bool = True,
) -> PayoutRequest:
    """Create it in Dots. Dots has no key here, so after an unknown outcome we first look for ours.

    Queued while Dots is unreachable (ActionQueued), and retried by the queue when Dots did
    not answer; `from_queue` and `queue_when_unreachable` as in payout_link_push.
    """
    require_perm(actor, ADD_REQUEST, "send payout requests")
    return send_request(
        payout_request_id=payout_request_id, actor=actor, queue=queue_when_unreachable and not from_queue
    )


def send_request(*, payout_request_id: int, actor: User, queue: bool = True) -> PayoutRequest:
    """payout_request_push without its permission check, for a refresh resending a request in doubt."""
    request = PayoutRequest.objects.get(pk=payout_request_id)
    if request.status not in (PayoutRequest.Status.PENDING, PayoutRequest.Status.UNKNOWN):
        return request
    if queue:
        action_queue.queue_if_unreachable(kind=payouts_seam.PAYOUT_REQUEST_PUSH, target=request, actor=actor)
    now = timezone.now()
    key = str(request.idempotency_key)
    try:
        dots_request, _found = create_once(
            create=lambda: client().create_payout_request(**request.request_body),
            find=lambda: _find_request_by_key(key),
            what="create the payout request",
            # An earlier attempt's answer was lost: look for the request carrying our key first.
            look_first=request.status == PayoutRequest.Status.UNKNOWN,
        )
    except (DotsOutcomeUnknownError, DotsUnavailable, DotsRejected) as exc:
        status = {
            DotsOutcomeUnknownError: PayoutRequest.Status.UNKNOWN,
            DotsRejected: PayoutRequest.Status.REFUSED,
        }.get(type(exc), request.status)
        with transaction.atomic():
            if status != request.status:
                PayoutRequest.TRANSITIONS.ensure(request, status)
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
        if queue and not isinstance(exc, DotsRejected):
            action_queue.queue_retry(kind=payouts_seam.PAYOUT_REQUEST_PUSH, target=request, actor=actor, error=str(exc))
        raise
    return store_request_state(request.pk, dots_request, actor, action="payout_request.created")


def store_request_state(
    request_id: int,
    dots_request: DotsPayoutRequest,
    actor: User,
    *,
    action: str = "payout_request.status_changed",
    source: str = "task",
    adopting: bool = False,
) -> PayoutRequest:
    """Record Dots' view of a payout request (and of the payout link its approval made).

    A status Dots moved on its own is checked against PayoutRequest.TRANSITIONS (by=DOTS);
    a move it should not make is not taken: the request keeps its status and says why
    (reconciliation reports the disagreement). `adopting`: a person takes Dots' view as it
    is (reconciliation), unchecked.
    """
    with transaction.atomic():
        request = PayoutRequest.objects.select_for_update().get(pk=request_id)
        before = request.status
        status = dots_request.status or request.status
        known = PayoutRequest.Status.values
        if status != before and not adopting and before in known and status in known:
            try:
                PayoutRequest.TRANSITIONS.ensure(request, status, by=DOTS)
            except InvalidTransition as exc:
                PayoutRequest.objects.filter(pk=request.pk).update(
                    last_dots_error=f"Not taken from Dots: {exc}"[:2000], last_dots_attempt_at=timezone.now()
                )
                request.refresh_from_db()
                return request
        request.dots_id = dots_request.id or request.dots_id
        request.status = status
        request.last_dots_error = ""
        request.last_dots_attempt_at = timezone.now()
        dots_link = dots_request.payout_link
        if dots_link is not None and dots_link.id:
            link = PayoutLink.objects.filter(dots_id=dots_link.id).first()
            if link is None:
                method = (dots_link.delivery or {}).get("method")
                link = PayoutLink(
                    payee=request.payee,
                    amount_cents=dots_link.amount or request.amount_cents,
                    delivery_method=method if method in ("link", "sms", "email") else "sms",
                    memo=request.memo,
                    created_by=request.created_by,
                    request_body={"from_payout_request": request.dots_id},
                )
            try:
                apply_link_state(link, dots_link, adopting=adopting)
                link.save()
            except InvalidTransition:
                pass  # the link keeps its status; its own refresh says why
            if link.pk:
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


def payout_request_refresh(*, payout_request_id: int, actor: User, source: str = "task") -> PayoutRequest:
    require_perm(actor, CHANGE_REQUEST, "refresh payout requests from Dots")
    request = PayoutRequest.objects.get(pk=payout_request_id)
    if not request.dots_id:
        if request.status == PayoutRequest.Status.UNKNOWN:
            # The sync and reconciliation retry a refresh by themselves: call Dots now, never queue.
            return send_request(payout_request_id=request.pk, actor=actor, queue=False)
        return request
    with dots_call("read the payout request"):
        dots_request = client().retrieve_payout_request(payout_request_id=request.dots_id)
    return store_request_state(request.pk, dots_request, actor, source=source)


def payout_request_adopt(
    *,
    payout_request_id: int,
    answer: DotsPayoutRequest,
    actor: User,
    source: str = "task",
    seen: PayoutRequest | None = None,
) -> PayoutRequest:
    """What Dots answered for one request, read by the sync's read pool: adopted as a refresh would.

    `seen`: the request as the sync loaded it; while Dots shows it waiting as it was, with no
    payout link and no error to clear, no transaction is opened."""
    require_perm(actor, CHANGE_REQUEST, "refresh payout requests from Dots")
    if (
        seen is not None
        and (answer.status or seen.status) == seen.status
        and (answer.id or seen.dots_id) == seen.dots_id
        and not (answer.payout_link is not None and answer.payout_link.id)
        and not seen.last_dots_error
    ):
        return seen
    return store_request_state(payout_request_id, answer, actor, source=source)
