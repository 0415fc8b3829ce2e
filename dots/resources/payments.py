"""Collecting money: payments, payment customers, and the older spec's payment intents,
payment methods and checkout sessions (removed from Dots' docs in March 2026, still served).

None of these creates takes an idempotency key, so none is retried once sent.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from dots._http import clean, query, seg
from dots.resources._base import ResourceBase
from dots.types import DotsObject, Page, Transfer

_INTENTS = "/v2/payment-intents"
_CUSTOMERS = "/v2/payment-customers"
_METHODS = "/v2/payment-methods"
_SESSIONS = "/v2/checkout-sessions"


class PaymentsMixin(ResourceBase):
    # --- payments -----------------------------------------------------------------------------

    def create_payment(
        self,
        *,
        amount: int,
        platform: str,
        user_id: str | None = None,
        customer_id: str | None = None,
        ach_info: dict[str, Any] | None = None,
        account_id: str | None = None,
        metadata: dict[str, Any] | str | None = None,
    ) -> Transfer:
        body = clean(
            amount=amount,
            platform=platform,
            user_id=user_id,
            customer_id=customer_id,
            ach_info=ach_info,
            account_id=account_id,
            metadata=metadata,
        )
        return Transfer.from_dict(self._call("POST", "/v2/payments", body=body))

    # --- payment intents (older spec) ---------------------------------------------------------

    def list_payment_intents(self) -> list[DotsObject]:
        return self._list(_INTENTS, DotsObject)

    def create_payment_intent(
        self,
        *,
        amount: int,
        currency: str,
        confirm: bool | None = None,
        user_id: str | None = None,
        customer_id: str | None = None,
        description: str | None = None,
        payment_method_id: str | None = None,
        payment_method_types: list[str] | None = None,
        setup_future_usage: str | None = None,
        metadata: Any = None,
        transfer_data: dict[str, Any] | None = None,
        application_fee_amount: int | None = None,
    ) -> DotsObject:
        body = clean(
            amount=amount,
            currency=currency,
            confirm=confirm,
            user_id=user_id,
            customer_id=customer_id,
            description=description,
            payment_method_id=payment_method_id,
            payment_method_types=payment_method_types,
            setup_future_usage=setup_future_usage,
            metadata=metadata,
            transfer_data=transfer_data,
            application_fee_amount=application_fee_amount,
        )
        return DotsObject(self._call("POST", _INTENTS, body=body))

    def retrieve_payment_intent(self, *, payment_intent_id: str) -> DotsObject:
        return DotsObject(self._call("GET", f"{_INTENTS}/{seg(payment_intent_id)}"))

    def confirm_payment_intent(self, *, payment_intent_id: str, payment_method_id: str) -> DotsObject:
        body = {"payment_method_id": payment_method_id}
        return DotsObject(self._call("POST", f"{_INTENTS}/{seg(payment_intent_id)}/confirm", body=body))

    # --- payment customers --------------------------------------------------------------------

    def list_payment_customers(
        self, *, limit: int | None = 100, starting_after: str | None = None, ending_before: str | None = None
    ) -> Page[DotsObject]:
        return self._page(
            _CUSTOMERS, DotsObject, query(limit=limit, starting_after=starting_after, ending_before=ending_before)
        )

    def iter_payment_customers(self) -> Iterator[DotsObject]:
        return self._iterate(_CUSTOMERS, DotsObject, {})

    def create_payment_customer(
        self,
        *,
        user_id: str | None = None,
        email: str | None = None,
        country_code: str | None = None,
        phone_number: str | None = None,
        first_name: str | None = None,
        middle_name: str | None = None,
        last_name: str | None = None,
        business_name: str | None = None,
        address: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> DotsObject:
        body = clean(
            user_id=user_id,
            email=email,
            country_code=country_code,
            phone_number=phone_number,
            first_name=first_name,
            middle_name=middle_name,
            last_name=last_name,
            business_name=business_name,
            address=address,
            metadata=metadata,
        )
        return DotsObject(self._call("POST", _CUSTOMERS, body=body))

    def retrieve_payment_customer(self, *, payment_customer_id: str) -> DotsObject:
        return DotsObject(self._call("GET", f"{_CUSTOMERS}/{seg(payment_customer_id)}"))

    # --- payment methods (older spec; its list takes no cursor, so there is no iter_) ----------

    def list_payment_methods(self, *, customer_id: str | None = None, limit: int | None = 100) -> Page[DotsObject]:
        return self._page(_METHODS, DotsObject, query(customer_id=customer_id, limit=limit))

    def retrieve_payment_method(self, *, payment_method_id: str) -> DotsObject:
        return DotsObject(self._call("GET", f"{_METHODS}/{seg(payment_method_id)}"))

    def attach_payment_method(self, *, payment_method_id: str, customer_id: str) -> DotsObject:
        body = {"customer_id": customer_id}
        return DotsObject(self._call("POST", f"{_METHODS}/{seg(payment_method_id)}/attach", body=body))

    def detach_payment_method(self, *, payment_method_id: str, customer_id: str | None = None) -> DotsObject:
        body = clean(customer_id=customer_id)
        return DotsObject(self._call("POST", f"{_METHODS}/{seg(payment_method_id)}/detach", body=body))

    # --- checkout sessions (older spec) -------------------------------------------------------

    def list_checkout_sessions(
        self, *, limit: int | None = 100, starting_after: str | None = None, ending_before: str | None = None
    ) -> Page[DotsObject]:
        return self._page(
            _SESSIONS, DotsObject, query(limit=limit, starting_after=starting_after, ending_before=ending_before)
        )

    def iter_checkout_sessions(self) -> Iterator[DotsObject]:
        return self._iterate(_SESSIONS, DotsObject, {})

    def create_checkout_session(
        self,
        *,
        line_items: list[dict[str, Any]],
        success_url: str,
        mode: str,
        cancel_url: str | None = None,
        customer_email: str | None = None,
        client_reference_id: str | None = None,
        user_id: str | None = None,
        customer_id: str | None = None,
        expires_in: int | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> DotsObject:
        body = clean(
            line_items=line_items,
            success_url=success_url,
            mode=mode,
            cancel_url=cancel_url,
            customer_email=customer_email,
            client_reference_id=client_reference_id,
            user_id=user_id,
            customer_id=customer_id,
            expires_in=expires_in,
            metadata=metadata,
        )
        return DotsObject(self._call("POST", _SESSIONS, body=body))

    def retrieve_checkout_session(self, *, checkout_session_id: str) -> DotsObject:
        return DotsObject(self._call("GET", f"{_SESSIONS}/{seg(checkout_session_id)}"))
