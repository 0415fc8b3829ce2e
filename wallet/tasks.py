"""django-q2 entry points: take ids, call one service, safe to run twice."""

from django.contrib.auth import get_user_model

from core.audit import system_user
from core.errors import ActionQueued, DotsCallError
from wallet import transfers


def _actor(actor_id: int | None):
    return system_user() if actor_id is None else get_user_model().objects.get(pk=actor_id)


def wallet_transfer_send(transfer_id: int, actor_id: int | None = None) -> None:
    """Send a deposit or withdrawal, as the Payer who asked (or approved) it.

    A failure is already recorded on the transfer (and a retry queued when Dots did not
    answer): nothing for the worker to retry.
    """
    try:
        transfers.transfer_send(transfer_id=transfer_id, actor=_actor(actor_id))
    except (ActionQueued, DotsCallError):
        pass
