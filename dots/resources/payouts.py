"""Payouts: payout links, payout requests, direct payouts, send-payout and payout batches.

Every call here that moves money takes a required ``idempotency_key`` (NOTES.md
decision 4); only those are retried after an ambiguous failure.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from dots._http import clean, query, seg
from dots.resources._base import ResourceBase
from dots.types import DotsObject, Page, PayoutLink, PayoutRequest, Transfer

_LINKS = "/v2/payout-links"
_REQUESTS = "/v2/payout-requests"
_BATCHES = "/v2/payout-batches"


class PayoutsMixin(ResourceBase):
    # --- payout links -------------------------------------------------------------------------

    def list_payout_links(
        self, *, limit: int | None = 100, starting_after: str | None = None, ending_before: str | None = None
    ) -> Page[PayoutLink]:
        return self._page(
            _LINKS, PayoutLink.from_dict, query(limit=limit, starting_after=starting_after, ending_before=ending_before)
        )

    def iter_payout_links(self) -> Iterator[PayoutLink]:
        return self._iterate(_LINKS, PayoutLink.from_dict, {})

    def create_payout_link(
        self,
        *,
        amount: int,
        idempotency_key: str,
        user_id: str | None = None,
        payee: dict[str, Any] | None = None,
        delivery: dict[str, Any] | None = None,
        force_collect_compliance_information: bool | None = None,
        tax_exempt: bool | None = None,
        metadata: dict[str, Any] | str | None = None,
        memo: str | None = None,
        description: str | None = None,
        payout_fee_party: str | None = None,
        additional_steps: list[str] | None = None,
        accounting_data: dict[str, Any] | None = None,
        funding_source: str | None = None,
        hide_go_to_dashboard_on_complete: bool | None = None,
    ) -> PayoutLink:
        """Create a payout link; Dots answers 201, or 202 when it waits for funds (``funds_pending``)."""
        body = clean(
            amount=amount,
            idempotency_key=idempotency_key,
            user_id=user_id,
            payee=payee,
            delivery=delivery,
            force_collect_compliance_information=force_collect_compliance_information,
            tax_exempt=tax_exempt,
            metadata=metadata,
            memo=memo,
            description=description,
            payout_fee_party=payout_fee_party,
            additional_steps=additional_steps,
            accounting_data=accounting_data,
            funding_source=funding_source,
            hide_go_to_dashboard_on_complete=hide_go_to_dashboard_on_complete,
        )
        return PayoutLink.from_dict(self._call("POST", _LINKS, body=body, idempotency_key=idempotency_key))

    def retrieve_payout_link(self, *, payout_link_id: str) -> PayoutLink:
        return PayoutLink.from_dict(self._call("GET", f"{_LINKS}/{seg(payout_link_id)}"))

    def cancel_payout_link(self, *, payout_link_id: str) -> PayoutLink:
        """``DELETE /v2/payout-links/{id}``: cancels an unclaimed link and answers the link."""
        return PayoutLink.from_dict(self._call("DELETE", f"{_LINKS}/{seg(payout_link_id)}"))

    def redeliver_payout_link(self, *, payout_link_id: str) -> DotsObject:
        """Send the link to the payee again; answers ``{"payout_link": {...}, "redelivered": bool}``."""
        return DotsObject(self._call("POST", f"{_LINKS}/{seg(payout_link_id)}/redeliver"))

    # --- payout requests (approved or rejected in Dots' dashboard, not through the API) ------

    def create_payout_request(
        self,
        *,
        amount: int,
        user_id: str | None = None,
        payee: dict[str, Any] | None = None,
        metadata: dict[str, Any] | str | None = None,
        memo: str | None = None,
    ) -> PayoutRequest:
        # No idempotency key in the spec: a lost answer raises DotsOutcomeUnknown; list to reconcile.
        body = clean(amount=amount, user_id=user_id, payee=payee, metadata=metadata, memo=memo)
        return PayoutRequest.from_dict(self._call("POST", _REQUESTS, body=body))

    def list_payout_requests(
        self, *, limit: int | None = 100, starting_after: str | None = None, ending_before: str | None = None
    ) -> Page[PayoutRequest]:
        return self._page(
            _REQUESTS,
            PayoutRequest.from_dict,
            query(limit=limit, starting_after=starting_after, ending_before=ending_before),
        )

    def iter_payout_requests(self) -> Iterator[PayoutRequest]:
        return self._iterate(_REQUESTS, PayoutRequest.from_dict, {})

    def retrieve_payout_request(self, *, payout_request_id: str) -> PayoutRequest:
        return PayoutRequest.from_dict(self._call("GET", f"{_REQUESTS}/{seg(payout_request_id)}"))

    # --- direct payouts -----------------------------------------------------------------------

    def create_payout(
        self,
        *,
        user_id: str,
        amount: int,
        platform: str,
        idempotency_key: str,
        account_id: str | None = None,
        fund: bool | None = None,
        tax_exempt: bool | None = None,
        metadata: dict[str, Any] | str | None = None,
        payout_fee_party: str | None = None,
    ) -> Transfer:
        body = clean(
            user_id=user_id,
            amount=amount,
            platform=platform,
            idempotency_key=idempotency_key,
            account_id=account_id,
            fund=fund,
            tax_exempt=tax_exempt,
            metadata=metadata,
            payout_fee_party=payout_fee_party,
        )
        return Transfer.from_dict(self._call("POST", "/v2/payouts", body=body, idempotency_key=idempotency_key))

    def send_payout(
        self,
        *,
        amount: int,
        idempotency_key: str,
        user_id: str | None = None,
        payee: dict[str, Any] | None = None,
        delivery: dict[str, Any] | None = None,
        force_collect_compliance_information: bool | None = None,
        additional_steps: list[str] | None = None,
        tax_exempt: bool | None = None,
        metadata: dict[str, Any] | str | None = None,
        memo: str | None = None,
        payout_fee_party: str | None = None,
        accounting_data: dict[str, Any] | None = None,
    ) -> PayoutLink:
        """Pay a user directly if they can be paid, else send them a payout link (answers the link)."""
        body = clean(
            amount=amount,
            idempotency_key=idempotency_key,
            user_id=user_id,
            payee=payee,
            delivery=delivery,
            force_collect_compliance_information=force_collect_compliance_information,
            additional_steps=additional_steps,
            tax_exempt=tax_exempt,
            metadata=metadata,
            memo=memo,
            payout_fee_party=payout_fee_party,
            accounting_data=accounting_data,
        )
        data = self._call("POST", "/v2/payouts/send-payout", body=body, idempotency_key=idempotency_key)
        return PayoutLink.from_dict(data)

    # --- payout batches -----------------------------------------------------------------------

    def create_payout_batch(
        self,
        *,
        items: list[dict[str, Any]],
        idempotency_key: str,
        metadata: dict[str, Any] | str | None = None,
    ) -> DotsObject:
        """Each item is a payout request body and needs its own ``idempotency_key`` and ``fund``."""
        body = clean(items=items, idempotency_key=idempotency_key, metadata=metadata)
        return DotsObject(self._call("POST", _BATCHES, body=body, idempotency_key=idempotency_key))

    def list_payout_batches(
        self, *, limit: int | None = 100, starting_after: str | None = None, ending_before: str | None = None
    ) -> Page[DotsObject]:
        return self._page(
            _BATCHES, DotsObject, query(limit=limit, starting_after=starting_after, ending_before=ending_before)
        )

    def iter_payout_batches(self) -> Iterator[DotsObject]:
        return self._iterate(_BATCHES, DotsObject, {})

    def retrieve_payout_batch(self, *, payout_batch_id: str) -> DotsObject:
        return DotsObject(self._call("GET", f"{_BATCHES}/{seg(payout_batch_id)}"))

    def retrieve_payout_batch_results(self, *, payout_batch_id: str, include_request: bool | None = None) -> DotsObject:
        params = query(include_request=include_request)
        return DotsObject(self._call("GET", f"{_BATCHES}/{seg(payout_batch_id)}/results", params=params or None))
