"""django-q2 entry points: take ids, call one service, safe to run twice."""

from core.audit import system_user
from payouts import services, transfers


def payee_import_run(import_id: int) -> None:
    services.payee_import_process(import_id=import_id, actor=system_user())


def payout_link_push(payout_link_id: int) -> None:
    services.payout_link_push(payout_link_id=payout_link_id, actor=system_user())


def payout_request_push(payout_request_id: int) -> None:
    services.payout_request_push(payout_request_id=payout_request_id, actor=system_user())


def payout_run_send(run_id: int) -> None:
    services.payout_run_send(run_id=run_id, actor=system_user())


def sync_payouts() -> None:
    """Scheduled: payout requests, payout links and transfers kept in step with Dots."""
    actor = system_user()
    services.payout_requests_sync(actor=actor)
    services.payout_links_sync(actor=actor)
    transfers.transfers_sync(actor=actor)


def ensure_schedules() -> None:
    """Create the periodic sync (call from set-up, e.g. load_demo_data); safe to call again."""
    import datetime as dt

    from django.utils import timezone
    from django_q.models import Schedule

    Schedule.objects.update_or_create(
        name="Sync payout requests, payout links and transfers from Dots",
        defaults={"func": "payouts.tasks.sync_payouts", "schedule_type": Schedule.MINUTES, "minutes": 5,
                  "repeats": -1, "next_run": timezone.now() + dt.timedelta(seconds=30)},
    )


def webhook_delivery_process(delivery_id: int) -> None:
    from payouts import webhooks

    webhooks.webhook_delivery_process(delivery_id=delivery_id, actor=system_user())
