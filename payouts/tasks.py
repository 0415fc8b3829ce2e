"""django-q2 entry points: take ids, call one service, safe to run twice.

A push a person started runs as that person (`actor_id`), so its queued retry is theirs
and is refused once their role no longer allows it; without an id (a task queued before
tasks carried one) it runs as the system user.
"""

from django.contrib.auth import get_user_model

from core.audit import system_user
from core.errors import ActionQueued
from payouts.services import payee_imports, payout_links, payout_requests, payout_runs
from payouts.services.payee_import_check import payee_import_check as check_file


def _actor(actor_id: int | None):
    return system_user() if actor_id is None else get_user_model().objects.get(pk=actor_id)


def payee_import_check(import_id: int, actor_id: int | None = None) -> None:
    """A large upload, checked as the person who uploaded it."""
    check_file(import_id=import_id, actor=_actor(actor_id))


def payee_import_run(import_id: int) -> None:
    payee_imports.payee_import_process(import_id=import_id, actor=system_user())


def payout_link_push(payout_link_id: int, actor_id: int | None = None) -> None:
    try:
        payout_links.payout_link_push(payout_link_id=payout_link_id, actor=_actor(actor_id))
    except ActionQueued:
        pass  # Dots is unreachable: core.tasks.run_queued_dots_actions sends it when Dots answers


def payout_request_push(payout_request_id: int, actor_id: int | None = None) -> None:
    try:
        payout_requests.payout_request_push(payout_request_id=payout_request_id, actor=_actor(actor_id))
    except ActionQueued:
        pass  # as above


def payout_run_send(run_id: int) -> None:
    payout_runs.payout_run_send(run_id=run_id, actor=system_user())


def webhook_delivery_process(delivery_id: int) -> None:
    from payouts import webhooks

    webhooks.webhook_delivery_process(delivery_id=delivery_id, actor=system_user())
