"""The read-only mirror of Dots transfers: list sync and single-transfer refresh."""

from __future__ import annotations

from django.apps import apps as django_apps

from core.dots_gateway import client, dots_call
from payouts.models import Payee, PayoutLink, Transfer


def transfers_sync(*, actor, max_pages: int | None = None) -> int:
    """Upsert Dots transfers (newest first) into the read-only mirror. Answers how many were seen."""
    Payable = _payable_model()
    seen = 0
    batch: list[dict] = []
    with dots_call("list the transfers"):
        for transfer in client().iter_transfers():
            batch.append(transfer.raw)
            seen += 1
            if len(batch) >= 100:
                _upsert_transfers(batch, Payable)
                batch = []
                if max_pages is not None and seen >= max_pages * 100:
                    break
    if batch:
        _upsert_transfers(batch, Payable)
    return seen


def transfer_refresh(*, dots_transfer_id: str, actor) -> Transfer:
    """Read one transfer from Dots into the mirror (as transfers_sync does for every page)."""
    with dots_call("read the transfer"):
        data = client().retrieve_transfer(transfer_id=dots_transfer_id).raw
    _upsert_transfers([data], _payable_model())
    return Transfer.objects.get(dots_id=data["id"])


def _payable_model():
    try:
        return django_apps.get_model("payables", "Payable")
    except LookupError:
        return None


def _payable_ids_by_transfer(Payable, transfer_ids: list[str]) -> dict[str, int]:
    if Payable is None:
        return {}
    field_names = {f.name for f in Payable._meta.get_fields()}
    for name in ("dots_transfer_id", "transfer_id", "payment_transfer_id"):
        if name in field_names:
            return {str(k): v for k, v in Payable.objects.filter(**{f"{name}__in": transfer_ids})
                    .values_list(name, "pk")}
    return {}


def _upsert_transfers(batch: list[dict], Payable) -> None:
    from dots.types import parse_datetime

    ids = [t.get("id") for t in batch if t.get("id")]
    links = dict(PayoutLink.objects.filter(dots_id__in=[t.get("payout_link_id") for t in batch if
                                                        t.get("payout_link_id")]).values_list("dots_id", "pk"))
    payees = dict(Payee.objects.filter(dots_user_id__in=[t.get("user_id") for t in batch if t.get("user_id")])
                  .values_list("dots_user_id", "pk"))
    payables = _payable_ids_by_transfer(Payable, ids)
    rows = [
        Transfer(dots_id=t["id"], type=str(t.get("type") or "")[:30], status=str(t.get("status") or "")[:30],
                 amount_cents=t.get("amount") if isinstance(t.get("amount"), int) else None,
                 dots_user_id=str(t.get("user_id") or "")[:64], payee_id=payees.get(t.get("user_id")),
                 payout_link_id=links.get(t.get("payout_link_id")), payable_id=payables.get(t["id"]),
                 dots_created_at=parse_datetime(t.get("created")))
        for t in batch if t.get("id")
    ]
    Transfer.objects.bulk_create(
        rows, update_conflicts=True, unique_fields=["dots_id"],
        update_fields=["type", "status", "amount_cents", "dots_user_id", "payee", "payout_link", "payable_id",
                       "dots_created_at", "synced_at"])
