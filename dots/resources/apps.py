"""Apps: the organisation's apps, their compliance (KYB), bank account and wallet funding."""

from __future__ import annotations

from typing import Any

from dots._http import clean, query, seg
from dots.resources._base import ResourceBase
from dots.types import App, DotsObject, Transfer

_APPS = "/v2/apps"


class AppsMixin(ResourceBase):
    def list_apps(
        self, *, limit: int | None = 100, starting_after: str | None = None, ending_before: str | None = None
    ) -> list[App]:
        """Apps come back as a bare array (no ``has_more``), though the cursor parameters exist."""
        params = query(limit=limit, starting_after=starting_after, ending_before=ending_before)
        return self._list(_APPS, App.from_dict, params)

    def create_app(self, *, name: str, metadata: dict[str, Any] | str | None = None) -> App:
        return App.from_dict(self._call("POST", _APPS, body=clean(name=name, metadata=metadata)))

    def retrieve_app(self, *, app_id: str) -> App:
        return App.from_dict(self._call("GET", f"{_APPS}/{seg(app_id)}"))

    def retrieve_app_compliance(self, *, app_id: str) -> DotsObject:
        return DotsObject(self._call("GET", f"{_APPS}/{seg(app_id)}/compliance"))

    def update_app_compliance(
        self,
        *,
        app_id: str,
        company_info: dict[str, Any],
        contact_info: dict[str, Any],
        directors: list[dict[str, Any]],
        flow_of_funds: dict[str, Any],
    ) -> DotsObject:
        body = {
            "company_info": company_info,
            "contact_info": contact_info,
            "directors": directors,
            "flow_of_funds": flow_of_funds,
        }
        return DotsObject(self._call("PUT", f"{_APPS}/{seg(app_id)}/compliance", body=body))

    def retrieve_app_ach_account(self, *, app_id: str) -> DotsObject:
        """The app's linked bank account, masked: ``{"mask", "name"}``."""
        return DotsObject(self._call("GET", f"{_APPS}/{seg(app_id)}/ach-account"))

    def put_app_ach_account(
        self, *, app_id: str, account_number: str, routing_number: str, account_type: str
    ) -> DotsObject:
        body = {"account_number": account_number, "routing_number": routing_number, "account_type": account_type}
        return DotsObject(self._call("PUT", f"{_APPS}/{seg(app_id)}/ach-account", body=body))

    def deposit_to_app(self, *, app_id: str, amount: int, idempotency_key: str) -> Transfer:
        """Pull ``amount`` cents from the app's bank account into its Dots wallet."""
        body = {"amount": amount, "idempotency_key": idempotency_key}
        data = self._call("POST", f"{_APPS}/{seg(app_id)}/deposit", body=body, idempotency_key=idempotency_key)
        return Transfer.from_dict(data)

    def withdraw_from_app(self, *, app_id: str, amount: int, idempotency_key: str) -> Transfer:
        """Send ``amount`` cents from the app's Dots wallet to its bank account."""
        body = {"amount": amount, "idempotency_key": idempotency_key}
        data = self._call("POST", f"{_APPS}/{seg(app_id)}/withdraw", body=body, idempotency_key=idempotency_key)
        return Transfer.from_dict(data)

    def create_app_kyb_flow(self, *, app_id: str) -> DotsObject:
        """Current spec (201): ``{"url", "expires_at", "status"}`` of a KYB onboarding flow."""
        return DotsObject(self._call("POST", f"{_APPS}/{seg(app_id)}/kyb-flow"))

    def create_app_compliance_flow(self, *, app_id: str) -> str | None:
        """Older spec's name for the KYB flow (200); answers the flow's URL as a JSON string."""
        data = self._call("POST", f"{_APPS}/{seg(app_id)}/compliance-flow")
        if isinstance(data, dict):  # tolerate the newer object shape
            data = data.get("url")
        return data if isinstance(data, str) else None

    def change_app_settings(
        self,
        *,
        app_id: str,
        payout_options_exclude_list: list[str] | None = None,
        auto_refill_active: bool | None = None,
        refill_amount: int | None = None,
        refill_threshold: int | None = None,
    ) -> DotsObject:
        body = clean(
            payout_options_exclude_list=payout_options_exclude_list,
            auto_refill_active=auto_refill_active,
            refill_amount=refill_amount,
            refill_threshold=refill_threshold,
        )
        return DotsObject(self._call("POST", f"{_APPS}/{seg(app_id)}/change_settings", body=body))
