"""Approvers: the Dots dashboard users who approve payables, and the local users they act for.

`approvers_sync` brings them in from Dots (on a schedule, and from the approver list);
`approver_link` ties one to a local user by hand. A user acts as one approver at most.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from core import audit
from core.dots_gateway import client, dots_call
from core.permissions import require_perm
from payables.errors import ApproverLinkRefused
from payables.models import Approver

User = get_user_model()


@dataclass
class SyncResult:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    linked: list[str] = field(default_factory=list)
    unlinked_emails: list[str] = field(default_factory=list)  # no (or no single free) local user with that email
    gone_from_dots: list[str] = field(default_factory=list)  # kept here: old policy versions name them
    unchanged: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated or self.linked)

    def summary(self) -> str:
        parts = [
            f"{len(self.created)} new",
            f"{len(self.updated)} updated",
            f"{len(self.linked)} linked by email",
            f"{self.unchanged} unchanged",
        ]
        text = "Approvers synced from Dots: " + ", ".join(parts) + "."
        if self.unlinked_emails:
            text += " No single unlinked local user has the email of: " + ", ".join(self.unlinked_emails) + "."
        if self.gone_from_dots:
            text += " No longer in Dots (kept here): " + ", ".join(self.gone_from_dots) + "."
        return text


def _free_user_with_email(email: str):
    if not email:
        return None
    candidates = list(User.objects.filter(email__iexact=email.strip(), dots_approver__isnull=True)[:2])
    taken = User.objects.filter(email__iexact=email.strip(), dots_approver__isnull=False).exists()
    # Two local users with one email, or one already linked elsewhere: a person must decide.
    if len(candidates) != 1 or taken:
        return None
    return candidates[0]


def approvers_sync(*, actor: User) -> SyncResult:
    """Upsert the Dots dashboard users and link each unlinked one to the local user with its email.

    The scheduled sync runs it as the system user (core.permissions lets that one through).
    """
    require_perm(actor, "payables.change_approver", "sync approvers from Dots")
    with dots_call("list the approvers"):
        remote = [a for a in client().list_approvers() if a.id is not None]
    result = SyncResult()
    now = timezone.now()
    with transaction.atomic():
        # of=("self",): PostgreSQL cannot lock the nullable side of the join to the user.
        rows = Approver.objects.select_for_update(of=("self",)).select_related("user")
        existing = {a.dots_user_id: a for a in rows}
        for item in remote:
            values = {
                "email": item.email or "",
                "first_name": item.first_name or "",
                "last_name": item.last_name or "",
                "dots_role": item.role or "",
            }
            approver = existing.get(item.id)
            if approver is None:
                approver = Approver.objects.create(dots_user_id=item.id, synced_at=now, **values)
                result.created.append(str(approver))
            else:
                changed = {k: v for k, v in values.items() if getattr(approver, k) != v}
                for key, value in changed.items():
                    setattr(approver, key, value)
                approver.synced_at = now
                approver.save(update_fields=[*changed, "synced_at"])
                if changed:
                    result.updated.append(f"{approver}: {', '.join(sorted(changed))}")
                else:
                    result.unchanged += 1
            if approver.user_id is None:
                user = _free_user_with_email(approver.email)
                if user is not None:
                    approver.user = user
                    approver.save(update_fields=["user"])
                    result.linked.append(f"{approver} → {user.get_username()}")
                elif approver.email:
                    result.unlinked_emails.append(f"{approver} <{approver.email}>")
        remote_ids = {item.id for item in remote}
        result.gone_from_dots = [str(a) for dots_id, a in sorted(existing.items()) if dots_id not in remote_ids]
        if result.changed:
            audit.record(
                actor=actor,
                action="approver.synced",
                object_type="payables.approver",
                object_repr="approvers",
                changes={"created": result.created, "updated": result.updated, "linked": result.linked},
            )
    return result


def approver_link(*, actor: User, approver_id: int, user_id: int | None) -> Approver:
    """Link the approver to a local user (None: unlink). A user acts as one approver at most."""
    require_perm(actor, "payables.change_approver", "link approvers to users")
    with transaction.atomic():
        approver = Approver.objects.select_for_update(of=("self",)).select_related("user").get(pk=approver_id)
        if approver.user_id == user_id:
            return approver
        user = None
        if user_id is not None:
            user = User.objects.get(pk=user_id)
            other = Approver.objects.filter(user=user).exclude(pk=approver.pk).first()
            if other is not None:
                raise ApproverLinkRefused(
                    f"{user.get_username()} is already linked to {other}: unlink them there first."
                )
        before = approver.user.get_username() if approver.user_id else None
        approver.user = user
        approver.save(update_fields=["user"])
        audit.record(
            actor=actor,
            action="approver.linked",
            target=approver,
            before={"user": before},
            after={"user": user.get_username() if user else None},
        )
    return approver
