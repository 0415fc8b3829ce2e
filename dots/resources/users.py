"""Users: the people Ledgerline pays, their compliance data, verification and payout methods."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from dots._http import clean, query, seg
from dots.resources._base import ResourceBase
from dots.types import DotsObject, Page, User

_USERS = "/v2/users"


def _object_or_none(data: Any) -> DotsObject | None:
    """Some user endpoints document no response body at all; keep whatever comes back."""
    return DotsObject(data) if isinstance(data, dict) else None


class UsersMixin(ResourceBase):
    def list_users(
        self,
        *,
        status: str | None = None,
        limit: int | None = 100,
        starting_after: str | None = None,
        ending_before: str | None = None,
    ) -> Page[User]:
        params = query(status=status, limit=limit, starting_after=starting_after, ending_before=ending_before)
        return self._page(_USERS, User.from_dict, params)

    def iter_users(self, *, status: str | None = None) -> Iterator[User]:
        return self._iterate(_USERS, User.from_dict, query(status=status))

    def create_user(
        self,
        *,
        first_name: str,
        last_name: str,
        email: str,
        country_code: str,
        phone_number: str,
        username: str | None = None,
        date_of_birth: str | None = None,
        adjustment_1099: dict[str, Any] | None = None,
        metadata: dict[str, Any] | str | None = None,
        payout_options_exclude_list: list[str] | None = None,
    ) -> User:
        """Create a user. ``adjustment_1099`` is sent as Dots' ``1099_adjustment`` field."""
        body = clean(
            first_name=first_name,
            last_name=last_name,
            email=email,
            country_code=country_code,
            phone_number=phone_number,
            username=username,
            date_of_birth=date_of_birth,
            metadata=metadata,
            payout_options_exclude_list=payout_options_exclude_list,
        )
        if adjustment_1099 is not None:
            body["1099_adjustment"] = adjustment_1099
        return User.from_dict(self._call("POST", _USERS, body=body))

    def retrieve_user(self, *, user_id: str) -> User:
        return User.from_dict(self._call("GET", f"{_USERS}/{seg(user_id)}"))

    def update_user(
        self,
        *,
        user_id: str,
        default_payout_method: str | None = None,
        auto_payout_enabled: bool | None = None,
        date_of_birth: str | None = None,
        adjustment_1099: dict[str, Any] | None = None,
        metadata: dict[str, Any] | str | None = None,
        payout_options_exclude_list: list[str] | None = None,
    ) -> User:
        body = clean(
            default_payout_method=default_payout_method,
            auto_payout_enabled=auto_payout_enabled,
            date_of_birth=date_of_birth,
            metadata=metadata,
            payout_options_exclude_list=payout_options_exclude_list,
        )
        if adjustment_1099 is not None:
            body["1099_adjustment"] = adjustment_1099
        return User.from_dict(self._call("PATCH", f"{_USERS}/{seg(user_id)}", body=body))

    def delete_user(self, *, user_id: str) -> User:
        return User.from_dict(self._call("DELETE", f"{_USERS}/{seg(user_id)}"))

    def update_user_compliance(
        self, *, user_id: str, w9: dict[str, Any] | None = None, w8ben: dict[str, Any] | None = None
    ) -> DotsObject | None:
        body = clean(w9=w9, w8ben=w8ben)
        return _object_or_none(self._call("PUT", f"{_USERS}/{seg(user_id)}/compliance", body=body))

    def send_user_verification_token(self, *, user_id: str, use_voice: bool | None = None) -> None:
        """Ask Dots to text (or call, with ``use_voice``) the user a token; answered 202."""
        self._call("POST", f"{_USERS}/{seg(user_id)}/send-verification-token", body=clean(use_voice=use_voice))

    def verify_user(self, *, user_id: str, token: str) -> DotsObject | None:
        """Check the token the user received; a wrong one raises DotsInvalidRequest (400)."""
        return _object_or_none(self._call("POST", f"{_USERS}/{seg(user_id)}/verify", body={"token": token}))

    def list_user_payout_methods(self, *, user_id: str) -> list[DotsObject]:
        return self._list(f"{_USERS}/{seg(user_id)}/payout-methods", DotsObject)

    def put_user_payout_method(
        self,
        *,
        user_id: str,
        platform: str,
        routing_number: str | None = None,
        account_number: str | None = None,
        account_type: str | None = None,
        email: str | None = None,
        phone_number: str | None = None,
        handle: str | None = None,
        cash_tag: str | None = None,
        is_default: bool | None = None,
        auto_payout_enabled: bool | None = None,
        metadata: dict[str, Any] | str | None = None,
    ) -> DotsObject:
        body = clean(
            platform=platform,
            routing_number=routing_number,
            account_number=account_number,
            account_type=account_type,
            email=email,
            phone_number=phone_number,
            handle=handle,
            cash_tag=cash_tag,
            is_default=is_default,
            auto_payout_enabled=auto_payout_enabled,
            metadata=metadata,
        )
        return DotsObject(self._call("PUT", f"{_USERS}/{seg(user_id)}/payout-methods", body=body))

    def put_user_address(
        self,
        *,
        user_id: str,
        line_1: str,
        city: str,
        state: str,
        postcode: str,
        country: str,
        line_2: str | None = None,
        line_3: str | None = None,
    ) -> DotsObject | None:
        body = clean(
            line_1=line_1, line_2=line_2, line_3=line_3, city=city, state=state, postcode=postcode, country=country
        )
        return _object_or_none(self._call("PUT", f"{_USERS}/{seg(user_id)}/addresses", body=body))
