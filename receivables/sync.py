"""The money-in steps of the sync with Dots (declared in receivables/seam.py).

Each re-reads the records Dots may still move on its own and adopts what moved (audited as the
system user, source "sync"): open checkout sessions (and their intents), intents still waiting or
whose payment may still fail, payments on their way.
"""

import datetime as dt

from django.contrib.auth.models import User
from django.db.models import Q
from django.utils import timezone

from core.models import AuditEvent
from core.sync_report import SyncReport
from core.sync_runner import Followed, follow
from receivables.models import CheckoutSession, Payment, PaymentIntent
from receivables.services import intents, payments, sessions

SYNC = AuditEvent.Source.SYNC
SUCCEEDED_FOLLOWED_DAYS = 14


def checkout_sessions_step(*, actor: User, full: bool = False) -> SyncReport:
    open_sessions = CheckoutSession.objects.filter(status=CheckoutSession.Status.OPEN, dots_id__isnull=False)
    return follow(
        Followed(
            name="checkout sessions",
            label="Checkout session",
            rows=open_sessions,
            refresh=lambda pk: sessions.checkout_session_refresh(checkout_session_id=pk, actor=actor, source=SYNC),
        )
    )


def payment_intents_step(*, actor: User, full: bool = False) -> SyncReport:
    # A succeeded intent can still fail while its payment settles: followed for SUCCEEDED_FOLLOWED_DAYS.
    since = timezone.now() - dt.timedelta(days=SUCCEEDED_FOLLOWED_DAYS)
    following = PaymentIntent.objects.filter(dots_id__isnull=False).filter(
        Q(status__in=PaymentIntent.OPEN) & ~Q(status=PaymentIntent.Status.SUCCEEDED)
        | Q(status=PaymentIntent.Status.SUCCEEDED, updated_at__gte=since)
    )
    return follow(
        Followed(
            name="payment intents",
            label="Payment intent",
            rows=following,
            refresh=lambda pk: intents.payment_intent_refresh(payment_intent_id=pk, actor=actor, source=SYNC),
        )
    )


def payments_step(*, actor: User, full: bool = False) -> SyncReport:
    moving = Payment.objects.filter(status__in=Payment.OPEN, dots_transfer_id__isnull=False)
    return follow(
        Followed(
            name="payments in",
            label="Payment",
            rows=moving,
            refresh=lambda pk: payments.payment_refresh(payment_id=pk, actor=actor, source=SYNC),
        )
    )
