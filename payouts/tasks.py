"""django-q2 entry points: take ids, call one service, safe to run twice."""

from core.audit import system_user
from core.errors import ActionQueued
from payouts.services import payee_imports, payout_links, payout_requests, payout_runs


def payee_import_run(import_id: int) -> None:
    payee_imports.payee_import_process(import_id=import_id, actor=system_user())


def payout_link_push(payout_link_id: int) -> None:
    try:
        payout_links.payout_link_push(payout_link_id=payout_link_id, actor=system_user())
    except ActionQueued:
        pass  # Dots is unreachable: core.tasks.run_queued_dots_actions sends it when Dots answers


def payout_request_push(payout_request_id: int) -> None:
    try:
        payout_requests.payout_request_push(payout_request_id=payout_request_id, actor=system_user())
    except ActionQueued:
        pass  # as above


def payout_run_send(run_id: int) -> None:
    payout_runs.payout_run_send(run_id=run_id, actor=system_user())


def webhook_delivery_process(delivery_id: int) -> None:
    from payouts import webhooks

    webhooks.webhook_delivery_process(delivery_id=delivery_id, actor=system_user())
