"""Send once with a stored idempotency key, and follow: the one helper for keyed money moves.

Dots answers a repeated idempotency key with the first answer, so a record that stores its
key and its exact body *before* the first call can be sent again after a lost answer, a
refusal to connect or a killed worker, and Dots still makes one transfer. This module holds
that logic once, for every record that moves money that way (transfers to payees, app
wallet deposits and withdrawals, payouts from a payee's wallet):

- `send`: resend the stored body with the stored key (never a new body), queue it during
  an outage when the caller says so, and keep Dots' answer, refusal or silence on the record;
- `failed` / `adopt`: the two ways a record's status changes after a call, each audited;
- `refresh`: follow a record Dots has to its end; one that never got an answer (or whose
  sender died: `stale`) is sent again with its key, which finds what the first call made;
- `KEY_LIFETIME`: Dots keeps a key 24 hours, so nothing is resent 23 hours after the first
  send (a person looks instead: a resend then could make a second transfer).

A record using it has: `Status` with TO_SEND, UNKNOWN, REFUSED and FAILED, a `TRANSITIONS`
table, `status`, `request_body`, `sent_at`, `decided_at`, `created_at`, the id of what Dots made
(`dots_transfer_id`, or the field `dots_id_field` names), `failure_reason`, `last_dots_error`,
`last_dots_attempt_at` (and `timeline` if it keeps one). `refresh` and `record_check` read a
transfer back (transfers and payouts); a payout batch follows its own way (payouts.services.payout_batches).
Creates Dots takes *no* key for go through core/send_once.py instead.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from django.conf import settings
from django.contrib.auth.models import User
from django.db import models, transaction
from django.utils import timezone

from core import action_queue, audit
from core.dots_gateway import client, dots_call
from core.errors import (
    DomainError,
    DotsCallError,
    DotsOutcomeUnknownError,
    DotsRejected,
    DotsUnavailable,
    InvalidTransition,
)
from core.findings import Finding, RecordCheck, Settling, status_and_amount_findings
from core.models import AuditEvent
from core.transitions import DOTS

KEY_LIFETIME = dt.timedelta(hours=23)  # Dots keeps an idempotency key 24 hours
KEY_TOO_OLD = (
    "First sent over 23 hours ago and Dots never answered: it may have forgotten the key, "
    "so it is not sent again. Look for it among Dots' transfers before asking again."
)

M = TypeVar("M", bound=models.Model)


class DotsAnswer(Protocol):
    """What a keyed create answers: a Dots transfer (dots.types.Transfer), or any object with these."""

    @property
    def id(self) -> str | None: ...

    @property
    def status(self) -> str | None: ...

    @property
    def raw(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class KeyedSend(Generic[M]):
    """The keyed-send rules for one model. `prefix` names its audit actions: "<prefix>.sent" etc."""

    model: type[M]
    prefix: str
    # Whether the record keeps a status history (`timeline`: [{"status", "seen_at"}]).
    timeline: bool = False
    # The field that keeps the id of what Dots made (a transfer's; a payout batch's).
    dots_id_field: str = "dots_transfer_id"

    # --- reading ---------------------------------------------------------------------------------------

    @property
    def S(self) -> Any:
        return self.model.Status  # type: ignore[attr-defined]

    @property
    def transitions(self) -> Any:
        return self.model.TRANSITIONS  # type: ignore[attr-defined]

    def key_too_old(self, record: M) -> bool:
        rec: Any = record
        return rec.sent_at is not None and timezone.now() - rec.sent_at > KEY_LIFETIME

    def stale(self, record: M) -> bool:
        """Approved but not sent for a while: Dots was unreachable, or the request died before the call."""
        rec: Any = record
        started = rec.sent_at or rec.decided_at or rec.created_at
        return bool(timezone.now() - started > dt.timedelta(seconds=settings.PAY_REQUEST_STALE_SECONDS))

    # --- sending -----------------------------------------------------------------------------------------

    def send(
        self,
        record: M,
        *,
        actor: User,
        call: Callable[[dict[str, Any]], DotsAnswer],
        doing: str,
        queue_kind: str | None = None,
        refusal: Callable[[M], str] | None = None,
    ) -> M:
        """Send the stored body (`call(request_body)`) with the stored key. Repeating it never makes a second.

        - Only a record to send or unanswered is sent; one whose key is over 23 hours old is not
          (the record says why).
        - `refusal(record)`: a reason, checked before the first send only, not to send at all
          (the record becomes refused with it).
        - `queue_kind`: during an outage the send is queued (ActionQueued), and a call Dots did not
          answer queues a retry (stopping 23 hours after the first send).
        Dots' refusal or silence is kept on the record and raised.
        """
        S = self.S
        rec: Any = record
        if rec.status not in (S.TO_SEND, S.UNKNOWN):
            return record
        if self.key_too_old(record):
            # Dots may have forgotten the key: a resend could make a second transfer. A person looks.
            self.model._default_manager.filter(pk=rec.pk).update(last_dots_error=KEY_TOO_OLD)
            return record
        if refusal is not None and getattr(rec, self.dots_id_field) is None and rec.sent_at is None:
            why = refusal(record)
            if why:
                self.failed(record, S.REFUSED, why, actor)
                return record
        if queue_kind:
            action_queue.queue_if_unreachable(kind=queue_kind, target=record, actor=actor)
        self.model._default_manager.filter(pk=rec.pk, sent_at__isnull=True).update(sent_at=timezone.now())
        try:
            with dots_call(doing):
                created = call(rec.request_body)
        except DotsOutcomeUnknownError as exc:
            self.failed(record, S.UNKNOWN, str(exc), actor, action=f"{self.prefix}.outcome_unknown")
            if queue_kind:
                self._queue_retry(record, kind=queue_kind, actor=actor, error=str(exc))
            raise
        except DotsUnavailable as exc:
            self.failed(record, rec.status, str(exc), actor)
            if queue_kind:
                self._queue_retry(record, kind=queue_kind, actor=actor, error=str(exc))
            raise
        except DotsRejected as exc:
            self.failed(record, S.REFUSED, str(exc), actor, action=f"{self.prefix}.refused")
            raise
        return self.adopt(rec.pk, created, actor, action=f"{self.prefix}.sent", source="admin")

    def _queue_retry(self, record: M, *, kind: str, actor: User, error: str) -> None:
        # Dots keeps a key 24 hours from its first use: retries stop 23 hours after the first send.
        rec: Any = record
        action_queue.queue_retry(
            kind=kind, target=record, actor=actor, error=error, first_attempt_at=rec.sent_at or timezone.now()
        )

    # --- status changes ----------------------------------------------------------------------------------

    def failed(self, record: M, status: str, message: str, actor: User, action: str | None = None) -> None:
        """A call without a Dots object: keep the error, and move to `status` when our table allows it."""
        manager = self.model._default_manager
        rec: Any = record
        with transaction.atomic():
            before = rec.status
            may_move_from = [src for src, targets in self.transitions.ours.items() if status in targets]
            unsent = {f"{self.dots_id_field}__isnull": True}
            if not manager.filter(pk=rec.pk, status__in=[status, *may_move_from], **unsent).update(
                status=status, last_dots_error=message[:2000], last_dots_attempt_at=timezone.now()
            ):
                return
            rec.refresh_from_db()
            if self.timeline and status != before:
                rec.timeline = [*rec.timeline, {"status": status, "seen_at": timezone.now().isoformat()}]
                rec.save(update_fields=["timeline", "updated_at"])
            if action or status != before:
                audit.record(
                    actor=actor,
                    action=action or f"{self.prefix}.refused",
                    target=rec,
                    before={"status": before},
                    after={"status": status},
                    reason=message[:500],
                )

    def adopt(self, record_id: int, dots: DotsAnswer, actor: User, *, action: str, source: str) -> M:
        """Take Dots' status (and reason); a move Dots should not make is kept out and noted."""
        S = self.S
        now = timezone.now()
        with transaction.atomic():
            rec: Any = self.model._default_manager.select_for_update().get(pk=record_id)
            before = rec.status
            status = dots.status or rec.status
            if status != before and status in S.values and before in S.values:
                try:
                    self.transitions.ensure(rec, status, by=DOTS)
                except InvalidTransition as exc:
                    rec.last_dots_error = f"Not taken from Dots: {exc}"[:2000]
                    rec.last_dots_attempt_at = now
                    rec.save(update_fields=["last_dots_error", "last_dots_attempt_at", "updated_at"])
                    return rec  # type: ignore[no-any-return]
            dots_id = dots.id or getattr(rec, self.dots_id_field)
            setattr(rec, self.dots_id_field, dots_id)
            rec.status = status
            if status == getattr(S, "FAILED", None):
                reason = dots.raw.get("failure_reason") or dots.raw.get("failure_message") or ""
                rec.failure_reason = str(reason)[:500]
            rec.last_dots_error = ""
            rec.last_dots_attempt_at = now
            if self.timeline and status != before:
                rec.timeline = [*rec.timeline, {"status": status, "seen_at": now.isoformat()}]
            rec.save()
            if status != before or action == f"{self.prefix}.sent":
                audit.record(
                    actor=actor,
                    action=action,
                    target=rec,
                    source=source,
                    before={"status": before},
                    after={"status": status, self.dots_id_field: dots_id},
                    reason=rec.failure_reason if status == getattr(S, "FAILED", None) else "",
                )
        return rec  # type: ignore[no-any-return]

    # --- following ---------------------------------------------------------------------------------------

    def refresh(self, record_id: int, *, actor: User, source: str, resend: Callable[[M], M], doing: str) -> M:
        """Follow one record: read its transfer from Dots; one whose answer was lost (or whose sender
        died) is sent again by `resend` with its own key, which finds what the first call made."""
        S = self.S
        rec: Any = self.model._default_manager.get(pk=record_id)
        if not getattr(rec, self.dots_id_field):
            if rec.status == S.UNKNOWN or (rec.status == S.TO_SEND and self.stale(rec)):
                return resend(rec)
            return rec  # type: ignore[no-any-return]
        if rec.status not in self.transitions.followed():
            return rec  # type: ignore[no-any-return]
        with dots_call(doing):
            dots_transfer = client().retrieve_transfer(transfer_id=rec.dots_transfer_id)
        return self.adopt(rec.pk, dots_transfer, actor, action=f"{self.prefix}.status_changed", source=source)

    # --- reconciliation ----------------------------------------------------------------------------------

    def record_check(
        self, *, record_type: str, label: str, noun: str, doing: str, refresh: Callable[[int, User, str], M]
    ) -> RecordCheck:
        """The reconciliation check of this model: status and amount against Dots' transfer, Dots'
        state adopted on request, and records in doubt settled by `refresh` (resent with their key).

        `noun` names one record in the report ("Transfer to a payee"); `doing` reads after "to":
        "read the transfer to the payee"; `refresh(record_id, actor, source)` follows one record.
        """

        def find() -> Iterator[Finding]:
            rows = self.model._default_manager.filter(dots_transfer_id__isnull=False).order_by("pk")
            for rec in rows.iterator(chunk_size=500):
                record: Any = rec
                with dots_call(doing):
                    remote = client().retrieve_transfer(transfer_id=record.dots_transfer_id)
                yield from status_and_amount_findings(
                    record_type=record_type,
                    label=str(record),
                    local_id=record.pk,
                    dots_id=record.dots_transfer_id,
                    local_status=record.status,
                    local_amount=record.amount_cents,
                    dots_obj=remote,
                )

        def adopt(*, discrepancy: Any, actor: User) -> str:
            manager = self.model._default_manager
            rec: Any = manager.get(pk=discrepancy.local_id)
            with dots_call(doing):
                remote = client().retrieve_transfer(transfer_id=rec.dots_transfer_id)
            with transaction.atomic():
                rec = manager.select_for_update().get(pk=rec.pk)
                before = {"status": rec.status, "amount_cents": rec.amount_cents}
                if remote.status is None:
                    raise DomainError(f"{rec}: Dots answered no status; nothing to adopt.")
                rec.status = remote.status
                if remote.amount is not None:
                    rec.amount_cents = remote.amount
                if remote.status == self.S.FAILED:
                    reason = remote.raw.get("failure_reason") or remote.raw.get("failure_message") or ""
                    rec.failure_reason = str(reason)[:500]
                if self.timeline:
                    rec.timeline = [*rec.timeline, {"status": remote.status, "seen_at": timezone.now().isoformat()}]
                rec.save()
                audit.record(
                    actor=actor,
                    action=f"{self.prefix}.status_changed",
                    target=rec,
                    source=AuditEvent.Source.RECONCILE,
                    before=before,
                    after={"status": rec.status, "amount_cents": rec.amount_cents},
                    reason="Dots' state adopted",
                )
            return f"{rec}: now {rec.get_status_display().lower()}, as in Dots"

        def resolve_in_doubt(*, actor: User) -> Settling:
            settling = Settling()
            doubtful = self.model._default_manager.filter(
                dots_transfer_id__isnull=True, status__in=[self.S.UNKNOWN, self.S.TO_SEND]
            )
            for pk, before in doubtful.order_by("pk").values_list("pk", "status"):
                try:
                    after: Any = refresh(pk, actor, AuditEvent.Source.RECONCILE)
                except DotsCallError as exc:
                    settling.still_in_doubt.append(f"{noun} #{pk}: {exc}")
                    continue
                if after.dots_transfer_id:
                    settling.settled.append(f"{after}: {before} -> {after.status} (found in Dots by its key)")
            return settling

        return RecordCheck(
            label=label,
            model=self.model._meta.label_lower,
            find=find,
            adopt=adopt,
            resolve_in_doubt=resolve_in_doubt,
        )
