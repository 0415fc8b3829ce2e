"""Payout links: the intent (key and exact body) stored first, then sent to Dots; refreshed, cancelled, redelivered."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone
from django_q.tasks import async_task

from core import action_queue, audit
from core.dots_gateway import client, dots_call
from core.errors import DotsOutcomeUnknownError, DotsRejected, DotsUnavailable, InvalidTransition
from core.permissions import require_perm
from core.transitions import DOTS
from dots.types import PayoutLink as DotsPayoutLink
from payouts import csv_import, tax
from payouts import seam as payouts_seam
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


ADD_LINK = "payouts.add_payoutlink"
CHANGE_LINK = "payouts.change_payoutlink"


def payout_link_request(
    *,
    amount_cents: int,
    actor: User,
    payee_id: int | None = None,
    delivery_method: str = "link",
    memo: str = "",
    tax_exempt: bool = False,
    push: bool = True,
) -> PayoutLink:
    """Store the intent (key and exact body); the Dots call happens after commit (payout_link_push).

    The push task runs as `actor`, so a retry it queues is theirs.
    """
    require_perm(actor, ADD_LINK, "create payout links")
    tax.refuse_unless_1099_ready(
        Payee.objects.get(pk=payee_id) if payee_id else None, amount_cents, tax_exempt=tax_exempt
    )
    return store_link_intent(
        amount_cents=amount_cents,
        actor=actor,
        payee_id=payee_id,
        delivery_method=delivery_method,
        memo=memo,
        tax_exempt=tax_exempt,
        push=push,
    )


@transaction.atomic
def store_link_intent(
    *,
    amount_cents: int,
    actor: User,
    payee_id: int | None = None,
    delivery_method: str = "link",
    memo: str = "",
    tax_exempt: bool = False,
    push: bool = True,
) -> PayoutLink:
    """payout_link_request without its permission check, for a service that checked its own
    (payout_run_send: the run a Payer approved)."""
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
        transaction.on_commit(lambda: async_task("payouts.tasks.payout_link_push", link.pk, actor.pk))
    return link


def payout_link_push(
    *,
    payout_link_id: int,
    actor: User,
    retry_refused: bool = False,
    from_queue: bool = False,
    queue_when_unreachable: bool = True,
) -> PayoutLink:
    """Send the stored body with the stored key. Repeating it never makes a second link.

    `retry_refused` sends a refused link again (Dots does not remember refused requests,
    so the same key is safe once the cause, say a short wallet, is fixed).
    While Dots is unreachable the push is queued (ActionQueued); when Dots does not answer
    a retry is queued (core.action_queue: backoff, stops 23 h after the link was made).
    `from_queue`: the queue is running this action (it retries it itself): never queue.
    `queue_when_unreachable=False`: the caller retries by itself: never queue.
    """
    require_perm(actor, ADD_LINK, "create payout links")
    return send_link(
        payout_link_id=payout_link_id,
        actor=actor,
        retry_refused=retry_refused,
        queue=queue_when_unreachable and not from_queue,
    )


def send_link(*, payout_link_id: int, actor: User, retry_refused: bool = False, queue: bool = True) -> PayoutLink:
    """payout_link_push without its permission check, for a service that checked its own
    (a payout run a Payer approved, a refresh resending a link in doubt)."""
    link = PayoutLink.objects.get(pk=payout_link_id)
    retryable = {PayoutLink.Status.PENDING, PayoutLink.Status.UNKNOWN}
    if retry_refused:
        retryable.add(PayoutLink.Status.REFUSED)
    if link.status not in retryable:
        return link
    if queue:
        action_queue.queue_if_unreachable(
            kind=payouts_seam.PAYOUT_LINK_PUSH,
            target=link,
            actor=actor,
            arguments={"retry_refused": True} if retry_refused else {},
        )
    now = timezone.now()
    try:
        with dots_call("create the payout link"):
            created = client().create_payout_link(**link.request_body)
    except DotsOutcomeUnknownError as exc:
        _link_failed(link, PayoutLink.Status.UNKNOWN, str(exc), "payout_link.outcome_unknown", actor, now)
        if queue:
            _queue_link_retry(link, actor=actor, error=str(exc))
        raise
    except DotsUnavailable as exc:
        _link_failed(link, link.status, str(exc), None, actor, now)
        if queue:
            _queue_link_retry(link, actor=actor, error=str(exc))
        raise
    except DotsRejected as exc:
        _link_failed(link, PayoutLink.Status.REFUSED, str(exc), "payout_link.refused", actor, now)
        raise
    with transaction.atomic():
        link = PayoutLink.objects.select_for_update().get(pk=payout_link_id)
        before = link.status
        if not _adopt_dots_state(link, created, now=now):
            return link
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


def _queue_link_retry(link: PayoutLink, *, actor: User, error: str) -> None:
    # The key was made with the link: Dots forgets it 24 h after, so retries stop at 23 h.
    action_queue.queue_retry(
        kind=payouts_seam.PAYOUT_LINK_PUSH,
        target=link,
        actor=actor,
        error=error,
        first_attempt_at=link.created_at,
    )


def _link_failed(link, status, message, action, actor: User, now) -> None:
    with transaction.atomic():
        before = link.status
        # Only while no push has recorded a Dots id: a failure seen by one push must not undo
        # the link another push (same key) recorded a moment earlier. A compare-and-set on the
        # statuses PayoutLink.TRANSITIONS lets us move from (the row may have moved since it was read).
        may_move_from = [source for source, targets in PayoutLink.TRANSITIONS.ours.items() if status in targets]
        if not PayoutLink.objects.filter(pk=link.pk, dots_id__isnull=True, status__in=[status, *may_move_from]).update(
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


def apply_link_state(link: PayoutLink, dots_link: DotsPayoutLink, *, adopting: bool = False) -> bool:
    """Copy Dots' view; append to the timeline when the status moved. Answers whether it moved.

    A status Dots moved on its own is checked against PayoutLink.TRANSITIONS (by=DOTS) and
    refused with InvalidTransition, `link` untouched. `adopting`: a person takes Dots' view
    as it is (reconciliation), unchecked. A status our table does not know (one Dots added
    since) is stored as Dots says it.
    """
    status = dots_link.status or link.status
    moved = status != link.status
    known = PayoutLink.Status.values
    if moved and not adopting and link.status in known and status in known:
        PayoutLink.TRANSITIONS.ensure(link, status, by=DOTS)
    link.dots_id = dots_link.id or link.dots_id
    link.link = dots_link.link or link.link
    link.claimed_user_id = dots_link.claimed_user_id or link.claimed_user_id
    link.transfer_dots_id = dots_link.transfer_id or link.transfer_dots_id
    if moved or not link.timeline:
        link.timeline = [*link.timeline, {"status": status, "seen_at": timezone.now().isoformat()}]
    link.status = status
    return moved


def _adopt_dots_state(link: PayoutLink, dots_link: DotsPayoutLink, *, now) -> bool:
    """apply_link_state for a locked link; a move Dots should not make is kept out and written down.

    Answers False when refused: the link keeps its status and says why (the sync and the
    webhooks go on; reconciliation reports the disagreement for a person to adopt).
    """
    try:
        apply_link_state(link, dots_link)
    except InvalidTransition as exc:
        link.last_dots_error = f"Not taken from Dots: {exc}"[:2000]
        link.last_dots_attempt_at = now
        link.save(update_fields=["last_dots_error", "last_dots_attempt_at", "updated_at"])
        return False
    return True


def payout_link_refresh(*, payout_link_id: int, actor: User, source: str = "task") -> PayoutLink:
    require_perm(actor, CHANGE_LINK, "refresh payout links from Dots")
    link = PayoutLink.objects.get(pk=payout_link_id)
    if not link.dots_id:
        if link.status == PayoutLink.Status.UNKNOWN:
            # The sync and reconciliation retry a refresh by themselves: call Dots now, never queue.
            return send_link(payout_link_id=link.pk, actor=actor, queue=False)
        return link
    with dots_call("read the payout link"):
        dots_link = client().retrieve_payout_link(payout_link_id=link.dots_id)
    return _store_link_state(link.pk, dots_link, actor, source=source)


def payout_link_adopt(
    *, payout_link_id: int, answer: DotsPayoutLink, actor: User, source: str = "task", seen: PayoutLink | None = None
) -> PayoutLink:
    """What Dots answered for one link, read by the sync's read pool: adopted as a refresh would.

    `seen`: the link as the sync loaded it; when Dots' answer changes nothing, no transaction."""
    require_perm(actor, CHANGE_LINK, "refresh payout links from Dots")
    if seen is not None and _link_unchanged(seen, answer):
        return seen
    return _store_link_state(payout_link_id, answer, actor, source=source)


def _link_unchanged(link: PayoutLink, dots_link: DotsPayoutLink) -> bool:
    """Whether apply_link_state would leave `link` as it is."""
    return (
        bool(link.timeline)
        and (dots_link.status or link.status) == link.status
        and (dots_link.id or link.dots_id) == link.dots_id
        and (dots_link.link or link.link) == link.link
        and (dots_link.claimed_user_id or link.claimed_user_id) == link.claimed_user_id
        and (dots_link.transfer_id or link.transfer_dots_id) == link.transfer_dots_id
    )


def _store_link_state(link_id: int, dots_link: DotsPayoutLink, actor: User, *, source: str = "task") -> PayoutLink:
    with transaction.atomic():
        link = PayoutLink.objects.select_for_update().get(pk=link_id)
        before = link.status
        if not _adopt_dots_state(link, dots_link, now=timezone.now()):
            return link
        link.save()
        if link.status != before:
            audit.record(
                actor=actor,
                action="payout_link.status_changed",
                target=link,
                source=source,
                before={"status": before},
                after={"status": link.status},
            )
    return link


def payout_link_cancel(*, payout_link_id: int, actor: User, reason: str = "") -> PayoutLink:
    require_perm(actor, CHANGE_LINK, "cancel payout links")
    link = PayoutLink.objects.get(pk=payout_link_id)
    if not link.dots_id:
        raise PayeeNotInDots(f"{link} is not in Dots ({link.get_status_display()}).", code="not-in-dots")
    if link.status in PayoutLink.Status.values:  # one Dots added since: Dots decides
        PayoutLink.TRANSITIONS.ensure(link, PayoutLink.Status.CANCELED)
    with dots_call("cancel the payout link"):
        dots_link = client().cancel_payout_link(payout_link_id=link.dots_id)
    link = _store_link_state(link.pk, dots_link, actor)
    audit.record(actor=actor, action="payout_link.cancelled", target=link, after={"status": link.status}, reason=reason)
    return link


def payout_link_redeliver(*, payout_link_id: int, actor: User) -> PayoutLink:
    require_perm(actor, CHANGE_LINK, "redeliver payout links")
    link = PayoutLink.objects.get(pk=payout_link_id)
    if not link.dots_id:
        raise PayeeNotInDots(f"{link} is not in Dots ({link.get_status_display()}).", code="not-in-dots")
    with dots_call("redeliver the payout link"):
        answer = client().redeliver_payout_link(payout_link_id=link.dots_id)
    data = answer.get("payout_link")
    if isinstance(data, dict) and data:
        link = _store_link_state(link.pk, DotsPayoutLink.from_dict(data), actor)
    audit.record(
        actor=actor,
        action="payout_link.redelivered",
        target=link,
        after={"redelivered": bool(answer.get("redelivered"))},
    )
    return link
