"""Dots webhooks: record every delivery, accept only signed, fresh, first-time ones, then process them.

The receiver (`receive`, the view at /webhooks/dots/) verifies the Svix signature with
``settings.DOTS_WEBHOOK_SECRET`` (or, during a rotation, ``DOTS_WEBHOOK_SECRET_PREVIOUS``),
stores the delivery and answers at once; a task (`payouts.tasks.webhook_delivery_process`)
then reads the object from Dots by id and adopts its state through the same refresh services
the sync uses. The payload is never trusted for state: it only says which object to read.
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import RequestDataTooBig
from django.db import IntegrityError, transaction
from django.db.models import Case, Count, F, Sum, Value, When
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from django_q.tasks import async_task

from core import registry
from core.errors import DomainError
from core.models import AuditEvent
from dots.redact import redact
from dots.webhooks import WebhookVerificationError, verify
from payouts import transfers
from payouts.models import Payee, PayoutLink, PayoutRequest, WebhookDelivery
from payouts.services import payees, payout_links, payout_requests

logger = logging.getLogger(__name__)

# Refused bodies larger than this are not kept (they were never trusted anyway).
MAX_REFUSED_BODY_KEPT = 64 * 1024
# Anyone can post refused deliveries: past these bounds per hour they are answered but not stored.
# Settings DOTS_WEBHOOK_REFUSED_PER_HOUR and DOTS_WEBHOOK_REFUSED_BYTES_PER_HOUR override them.
REFUSED_PER_HOUR = 1000
REFUSED_BYTES_PER_HOUR = 8 * 1024 * 1024

# Event prefix -> (object type, payload key holding the Dots id).
OBJECT_KEYS = {
    "payout_request": ("payout_request", "payout_request_id"),
    "payout_link": ("payout_link", "id"),
    "transfer": ("transfer", "transfer_id"),
    "user": ("user", "user_id"),
}


def _clean(value):
    """PostgreSQL refuses NUL in text and jsonb: drop it everywhere before storing."""
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {_clean(str(k)): _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def _object_of(event_type: str, payload) -> tuple[str, str]:
    prefix = event_type.split(".", 1)[0]
    declared = registry.webhook_handler_for_event(event_type)  # events another app processes
    if (prefix not in OBJECT_KEYS and declared is None) or not isinstance(payload, dict):
        return "", ""
    object_type, key = OBJECT_KEYS[prefix] if declared is None else (declared.object_type, declared.payload_key)
    object_id = payload.get(key)
    return object_type, str(object_id)[:200] if object_id else ""


def _best_effort_payload(body: bytes):
    if len(body) > MAX_REFUSED_BODY_KEPT:
        return None
    try:
        return json.loads(body.decode("utf-8"))
    except ValueError:  # UnicodeDecodeError is a ValueError too
        return None


def _header(request: HttpRequest, name: str) -> str:
    return _clean(request.headers.get(name, ""))[:200]


def webhook_delivery_refuse(
    *, reason: str, msg_id: str = "", body: bytes = b"", body_bytes: int | None = None
) -> WebhookDelivery | None:
    """Keep a refused delivery (its id if it had one, never unique-checked) for the admin, within the hourly
    bounds; None (and a log line) past them. `body_bytes` is the size when the body itself was not read."""
    size = len(body) if body_bytes is None else body_bytes
    payload = _best_effort_payload(body)
    if not _refusals_within_bounds(kept_bytes=size if payload is not None else 0):
        logger.warning(
            "Dots webhook refused and not stored (over the hourly bound for refused deliveries): %s; %s bytes",
            _clean(reason)[:300],
            size,
        )
        return None
    event_type = payload.get("event") if isinstance(payload, dict) else ""
    return WebhookDelivery.objects.create(
        msg_id=_clean(msg_id)[:200] or None,
        event_type=_clean(str(event_type or ""))[:100],
        outcome=WebhookDelivery.Outcome.REFUSED,
        refusal_reason=_clean(reason)[:300],
        payload=_clean(redact(payload)) if payload is not None else None,
        body_bytes=size,
    )


def _refusals_within_bounds(*, kept_bytes: int) -> bool:
    """Refused deliveries stored in the last hour leave room for one more (a count, and the bytes of bodies
    kept). Concurrent refusals may each pass the check: the bound is exceeded by at most those in flight."""
    window = WebhookDelivery.objects.filter(
        outcome=WebhookDelivery.Outcome.REFUSED, received_at__gte=timezone.now() - timedelta(hours=1)
    ).aggregate(
        n=Count("id"),
        kept=Sum(Case(When(payload__isnull=False, then=F("body_bytes")), default=Value(0))),
    )
    per_hour = getattr(settings, "DOTS_WEBHOOK_REFUSED_PER_HOUR", REFUSED_PER_HOUR)
    bytes_per_hour = getattr(settings, "DOTS_WEBHOOK_REFUSED_BYTES_PER_HOUR", REFUSED_BYTES_PER_HOUR)
    return window["n"] < per_hour and (window["kept"] or 0) + kept_bytes <= bytes_per_hour


def webhook_delivery_accept(*, msg_id: str, signed_at, payload) -> WebhookDelivery | None:
    """Store a verified delivery and queue its processing; None when its id was already accepted."""
    event_type = str(payload.get("event") or "") if isinstance(payload, dict) else ""
    object_type, object_id = _object_of(event_type, payload)
    try:
        with transaction.atomic():
            delivery = WebhookDelivery.objects.create(
                msg_id=_clean(msg_id)[:200],
                event_type=_clean(event_type)[:100],
                signed_at=signed_at,
                outcome=WebhookDelivery.Outcome.ACCEPTED,
                processing=WebhookDelivery.Processing.QUEUED,
                object_type=object_type,
                object_id=_clean(object_id),
                payload=_clean(redact(payload)),
            )
    except IntegrityError:
        return None
    # robust: a processing failure must never turn the 200 already decided into a 500.
    transaction.on_commit(lambda: async_task("payouts.tasks.webhook_delivery_process", delivery.pk), robust=True)
    return delivery


# --- processing ----------------------------------------------------------------------------------


def _refresh_payout_request(dots_id: str, actor: User) -> str:
    request = PayoutRequest.objects.filter(dots_id=dots_id).first()
    if request is None:
        return "no local payout request has this Dots id"
    request = payout_requests.payout_request_refresh(
        payout_request_id=request.pk, actor=actor, source=AuditEvent.Source.WEBHOOK
    )
    return f"{request} is {request.status}"


def _refresh_payout_link(dots_id: str, actor: User) -> str:
    link = PayoutLink.objects.filter(dots_id=dots_id).first()
    if link is None:
        return "no local payout link has this Dots id"
    link = payout_links.payout_link_refresh(payout_link_id=link.pk, actor=actor, source=AuditEvent.Source.WEBHOOK)
    return f"{link} is {link.status}"


def _refresh_transfer(dots_id: str, actor: User) -> str:
    transfer = transfers.transfer_refresh(dots_transfer_id=dots_id, actor=actor, source=AuditEvent.Source.WEBHOOK)
    note = f"{transfer} is {transfer.status}"
    if transfer.failure_reason:
        note += f" ({transfer.failure_reason})"
    link = (
        PayoutLink.objects.filter(dots_id=transfer.payout_link_dots_id).first()
        if transfer.payout_link_dots_id
        else None
    )
    if link is not None:
        link = payout_links.payout_link_refresh(payout_link_id=link.pk, actor=actor, source=AuditEvent.Source.WEBHOOK)
        note += f"; {link} is {link.status}"
    return note


def _refresh_payee(dots_id: str, actor: User) -> str:
    payee = Payee.objects.filter(dots_user_id=dots_id).first()
    if payee is None:
        return "no local payee has this Dots user id"
    payee = payees.payee_refresh(payee_id=payee.pk, actor=actor, source=AuditEvent.Source.WEBHOOK)
    return f"{payee} refreshed ({payee.dots_status or 'no status'})"


HANDLERS = {
    "payout_request": _refresh_payout_request,
    "payout_link": _refresh_payout_link,
    "transfer": _refresh_transfer,
    "user": _refresh_payee,
}

DONE = (WebhookDelivery.Processing.PROCESSED, WebhookDelivery.Processing.IGNORED)


def webhook_delivery_process(*, delivery_id: int, actor: User) -> WebhookDelivery:
    """Read the delivery's object from Dots and adopt its state. Safe to run twice: a done
    delivery is left alone, and the refresh services change and audit only what moved."""
    delivery = WebhookDelivery.objects.get(pk=delivery_id)
    if delivery.outcome != WebhookDelivery.Outcome.ACCEPTED or delivery.processing in DONE:
        return delivery
    WebhookDelivery.objects.filter(pk=delivery.pk).update(attempts=delivery.attempts + 1)
    handler = HANDLERS.get(delivery.object_type) or registry.webhook_handle(delivery.object_type)
    error = ""
    if handler is None or not delivery.object_id:
        processing = WebhookDelivery.Processing.IGNORED
        note = f"event type {delivery.event_type or '(none)'} is not handled"
    else:
        try:
            note = handler(delivery.object_id, actor)
            processing = WebhookDelivery.Processing.PROCESSED
        except DomainError as exc:  # Dots errors included: the delivery says what failed; sync catches up.
            processing, note, error = WebhookDelivery.Processing.FAILED, "", f"{exc.code}: {exc}"
            logger.warning("webhook %s (%s) not processed: %s", delivery.msg_id, delivery.event_type, error)
        except Exception as exc:
            WebhookDelivery.objects.filter(pk=delivery.pk).update(
                processing=WebhookDelivery.Processing.FAILED,
                processed_at=timezone.now(),
                processing_error=_clean(f"{type(exc).__name__}: {exc}")[:2000],
            )
            raise
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        processing=processing,
        processed_at=timezone.now(),
        processing_error=_clean(error)[:2000],
        note=_clean(note)[:300],
    )
    delivery.refresh_from_db()
    return delivery


# --- the receiver ----------------------------------------------------------------------------------


def _refused(
    reason: str, *, msg_id: str = "", body: bytes = b"", body_bytes: int | None = None, status: int = 400
) -> HttpResponse:
    webhook_delivery_refuse(reason=reason, msg_id=msg_id, body=body, body_bytes=body_bytes)
    return JsonResponse({"error": reason}, status=status)


@csrf_exempt
@require_POST
def receive(request: HttpRequest) -> HttpResponse:
    msg_id = _header(request, "svix-id")
    try:
        body = request.body
    except RequestDataTooBig:  # Django's HTML 400 otherwise, and nothing recorded; the body is never read
        try:
            size = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            size = 0
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return _refused(
            f"body of {size:,} bytes is over the {limit:,}-byte limit", msg_id=msg_id, body_bytes=size, status=413
        )
    secret = settings.DOTS_WEBHOOK_SECRET
    if not secret:
        logger.error("Dots webhook refused: DOTS_WEBHOOK_SECRET is not set, so no delivery can be verified")
        return _refused("DOTS_WEBHOOK_SECRET is not configured", msg_id=msg_id, body=body, status=503)
    # While the secret is being replaced, deliveries signed with the one it replaces are accepted too.
    previous = getattr(settings, "DOTS_WEBHOOK_SECRET_PREVIOUS", "")
    try:
        webhook = verify(body, request.headers, secret=[secret, previous] if previous else secret)
    except WebhookVerificationError as exc:
        return _refused(str(exc), msg_id=msg_id, body=body)
    except (ValueError, UnicodeDecodeError) as exc:  # defensive: a malformed input verify did not foresee
        return _refused(f"malformed delivery: {exc}", msg_id=msg_id, body=body)
    delivery = webhook_delivery_accept(msg_id=webhook.msg_id, signed_at=webhook.timestamp, payload=webhook.payload)
    if delivery is None:
        return _refused(f"svix-id {msg_id} was already accepted (replay)", msg_id=msg_id, body=body)
    return JsonResponse({"accepted": delivery.msg_id})
