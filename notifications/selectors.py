"""Reads: who is away and who covers for them, what a person wants emailed, what waits for them."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import User
from django.core.cache import cache
from django.db.models import Q
from django.utils import timezone
from django.utils.module_loading import import_string

from core import registry
from core.people import full_name
from core.registry import InboxItem, InboxSource
from notifications.models import Absence, Notification, NotificationPreference, short_date

logger = logging.getLogger(__name__)

# The header's count is recomputed at most this often per person (and at once when they are notified).
WAITING_COUNT_CACHE_SECONDS = 60


def users_with_perm(perm: str) -> list[User]:
    """Active people who hold `perm` through their roles or their own permissions (superusers only so)."""
    people = ModelBackend().with_perm(perm, include_superusers=False)
    return list(people.filter(is_active=True).order_by("pk"))


def absences_on(user_ids: Iterable[int], day: dt.date | None = None) -> dict[int, Absence]:
    """{user id: their absence covering `day` (today)} for those of `user_ids` who are away then."""
    day = day or timezone.localdate()
    found: dict[int, Absence] = {}
    rows = (
        Absence.objects.filter(user_id__in=list(user_ids), starts_on__lte=day, ends_on__gte=day, canceled_at=None)
        .select_related("user", "backup")
        .order_by("starts_on", "id")
    )
    for absence in rows:
        found[absence.user_id] = absence  # the latest recorded wins where two overlap
    return found


def covered_by(user: User, day: dt.date | None = None) -> list[Absence]:
    """The absences of colleagues `user` covers for on `day` (today)."""
    day = day or timezone.localdate()
    return list(
        Absence.objects.filter(backup=user, starts_on__lte=day, ends_on__gte=day, canceled_at=None)
        .select_related("user")
        .order_by("user__last_name", "user__username")
    )


def away_text(absence: Absence) -> str:
    """ "for Avery Approver (out until 12 Dec)" """
    return f"for {full_name(absence.user)} (out until {short_date(absence.ends_on)})"


@dataclass(frozen=True)
class Delivery:
    recipient: User
    on_behalf_of: User | None
    until: dt.date | None


def route(recipients: Iterable[User], day: dt.date | None = None) -> list[Delivery]:
    """Who is actually told: each active recipient, or their backup while they are away (following a
    backup who is away too, never in a circle). Each person once: duplicates are dropped."""
    people = {}
    for user in recipients:
        if user is not None and user.is_active and user.pk not in people:
            people[user.pk] = user
    deliveries: dict[tuple[int, int | None], Delivery] = {}
    away = absences_on(people, day)
    for user in people.values():
        target, seen, absence = user, {user.pk}, away.get(user.pk)
        first = absence
        while absence is not None and absence.backup.is_active and absence.backup_id not in seen:
            target = absence.backup
            seen.add(target.pk)
            absence = absences_on([target.pk], day).get(target.pk)
        if target.pk == user.pk or first is None:
            delivery = Delivery(user, None, None)
        else:
            delivery = Delivery(target, user, first.ends_on)
        key = (delivery.recipient.pk, delivery.on_behalf_of.pk if delivery.on_behalf_of else None)
        deliveries.setdefault(key, delivery)
    # One notice per person: a backup who is a recipient in their own right as well (both listed in
    # one approval step, say) is told once, the notice saying whom they cover.
    covering = {recipient for recipient, on_behalf_of in deliveries if on_behalf_of is not None}
    return [
        delivery
        for (recipient, on_behalf_of), delivery in deliveries.items()
        if on_behalf_of is not None or recipient not in covering
    ]


def emails_wanted(user_ids: Iterable[int], event: str) -> set[int]:
    """Those of `user_ids` whom `event` emails (their preference; default yes)."""
    ids = set(user_ids)
    off = set(
        NotificationPreference.objects.filter(user_id__in=ids, event=event, email=False).values_list(
            "user_id", flat=True
        )
    )
    return ids - off


def preferences_of(user: User) -> list[tuple[registry.NotificationEvent, bool]]:
    """Every declared event with whether it emails `user`."""
    off = set(NotificationPreference.objects.filter(user=user, email=False).values_list("event", flat=True))
    return [(event, event.key not in off) for event in registry.notification_events()]


def notifications_of(user: User, *, oldest_first: bool = False, unread_only: bool = False) -> list[Notification]:
    rows = Notification.objects.filter(recipient=user).select_related("on_behalf_of")
    if unread_only:
        rows = rows.filter(read_at=None)
    order = ["created_at", "id"] if oldest_first else ["-created_at", "-id"]
    return list(rows.order_by(*order)[:200])


def absences_visible_to(user: User) -> list[Absence]:
    """Their own absences and those they cover; every current or future one for whoever records them for others."""
    rows = Absence.objects.select_related("user", "backup", "created_by")
    today = timezone.localdate()
    if user.has_perm("notifications.record_absence_for_others"):
        return list(rows.filter(ends_on__gte=today - dt.timedelta(days=30)).order_by("starts_on", "id")[:200])
    return list(rows.filter(Q(user=user) | Q(backup=user)).order_by("-starts_on", "-id")[:50])


# --- what waits for a person ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Section:
    source: InboxSource
    items: list[InboxItem]


def what_waits(user: User, *, oldest_first: bool = False) -> list[Section]:
    """Each declared inbox source's items for `user`, newest first (or oldest first)."""
    sections = []
    for source in registry.inbox_sources():
        build = import_string(source.build)
        items = list(build(user))
        items.sort(key=lambda item: item.since or timezone.now(), reverse=not oldest_first)
        sections.append(Section(source, items))
    _store_count(user, sum(len(section.items) for section in sections))
    return sections


def _count_key(user_id: int) -> str:
    return f"notifications:waiting:{user_id}"


def _store_count(user: User, count: int) -> None:
    cache.set(_count_key(user.pk), count, WAITING_COUNT_CACHE_SECONDS)


def forget_waiting_count(user_ids: Iterable[int]) -> None:
    cache.delete_many([_count_key(pk) for pk in user_ids])


def waiting_count(user: User) -> int | None:
    """How many things wait for `user` (the admin header's count): what the "My tasks" page lists,
    remembered for a minute per person so most pages pay one cache read, not the sources' queries.

    None when counting failed: the header then shows no number (never a reassuring 0) and the page
    under it still opens; the failure is logged with its traceback.
    """
    count = cache.get(_count_key(user.pk))
    if count is None:
        try:
            count = sum(len(section.items) for section in what_waits(user))
        except Exception:  # the header must never break a page
            logger.exception("counting what waits for %s", user.pk)
            return None
    return int(count)


# The header says "100+ new" past this: its count never reads more of a person's unread rows than that.
UNREAD_SHOWN_UP_TO = 100


def unread_count(user: User) -> str:
    """ "3", or "100+" for a person who has let notifications pile up (a bounded count, every page)."""
    count = Notification.objects.filter(recipient=user, read_at=None)[: UNREAD_SHOWN_UP_TO + 1].count()
    return f"{UNREAD_SHOWN_UP_TO}+" if count > UNREAD_SHOWN_UP_TO else str(count) if count else ""
