"""Transfers (money moving between wallets) and the transactions that record each movement."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from dots._http import clean, query, seg
from dots.resources._base import ResourceBase
from dots.types import DotsObject, Page, Transfer

_TRANSFERS = "/v2/transfers"
_TRANSACTIONS = "/v2/transactions"


class TransfersMixin(ResourceBase):
    def list_transfers(
        self,
        *,
        limit: int | None = 100,
        starting_after: str | None = None,
        ending_before: str | None = None,
        user_id: str | None = None,
        type: str | None = None,
        status: str | None = None,
        start_date: str | None = None,
        end_date: str | None = None,
        reverse_order: bool | None = None,
    ) -> Page[Transfer]:
        params = query(
            limit=limit,
            starting_after=starting_after,
            ending_before=ending_before,
            user_id=user_id,
            type=type,
            status=status,
            start_date=start_date,
            end_date=end_date,
            reverse_order=reverse_order,
        )
        return self._page(_TRANSFERS, Transfer.from_dict, params)

    def iter_transfers(
        self,
        *,
        user_id: str | None = None,
        type: str | None = None,
        status: str | None = None,
        start_date: str | None = None,
        end_date: str | None = None,
    ) -> Iterator[Transfer]:
        params = query(user_id=user_id, type=type, status=status, start_date=start_date, end_date=end_date)
        return self._iterate(_TRANSFERS, Transfer.from_dict, params)

    def create_transfer(
        self,
        *,
        amount: int,
        user_id: str,
        idempotency_key: str,
        tax_exempt: bool | None = None,
        metadata: dict[str, Any] | str | None = None,
    ) -> Transfer:
        """Move ``amount`` cents (positive: to the user; negative: back to the app wallet).

        ``idempotency_key`` is required: store it before calling, and resend the same
        key with the same body if the outcome is unknown.
        """
        body = clean(
            amount=amount, user_id=user_id, idempotency_key=idempotency_key, tax_exempt=tax_exempt, metadata=metadata
        )
        return Transfer.from_dict(self._call("POST", _TRANSFERS, body=body, idempotency_key=idempotency_key))

    def retrieve_transfer(self, *, transfer_id: str) -> Transfer:
        return Transfer.from_dict(self._call("GET", f"{_TRANSFERS}/{seg(transfer_id)}"))

    # --- transactions: one per money movement, integer ids ---------------------------------------

    def list_transactions(
        self,
        *,
        limit: int | None = 100,
        starting_after: int | str | None = None,
        ending_before: int | str | None = None,
        include_transfer: bool | None = None,
    ) -> Page[DotsObject]:
        params = query(
            limit=limit, starting_after=starting_after, ending_before=ending_before, include_transfer=include_transfer
        )
        return self._page(_TRANSACTIONS, DotsObject, params)

    def iter_transactions(self, *, include_transfer: bool | None = None) -> Iterator[DotsObject]:
        return self._iterate(_TRANSACTIONS, DotsObject, query(include_transfer=include_transfer))

    def retrieve_transaction(self, *, transaction_id: int | str) -> DotsObject:
        return DotsObject(self._call("GET", f"{_TRANSACTIONS}/{seg(transaction_id)}"))
