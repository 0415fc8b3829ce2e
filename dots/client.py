"""``DotsClient``: the Django-free client for the Dots payments API v2.

One method per Dots operation, keyword-only arguments, parsed objects back
(``dots.types``), typed errors (``dots.errors``). The methods live in
``dots/resources/<resource>.py``; this class only wires them to one HTTP
transport. There is no module-level configuration: build a client with the
settings you need and keep it (it reuses one ``requests.Session``).

    client = DotsClient(settings.DOTS_API_URL, settings.DOTS_CLIENT_ID, settings.DOTS_API_KEY)
    payable = client.retrieve_payable(payable_id=pid)
    for vendor in client.iter_vendors():
        ...
"""

from __future__ import annotations

import requests

from dots._http import CallObserver, CallRecord, Transport
from dots.resources.accounts_payable import AccountsPayableMixin
from dots.resources.apps import AppsMixin
from dots.resources.payments import PaymentsMixin
from dots.resources.payouts import PayoutsMixin
from dots.resources.transfers import TransfersMixin
from dots.resources.users import UsersMixin
from dots.retry import RetryPolicy

__all__ = ["CallObserver", "CallRecord", "DotsClient"]


class DotsClient(
    AccountsPayableMixin,
    AppsMixin,
    PaymentsMixin,
    PayoutsMixin,
    TransfersMixin,
    UsersMixin,
):
    """A Dots v2 API client.

    ``base_url`` includes the ``/api`` prefix (``https://api.dots.dev/api`` or the
    emulator's ``http://127.0.0.1:8100/api``). ``app_id`` sends ``Api-App-Id`` for
    organisation keys. ``timeout`` is seconds (or a ``(connect, read)`` pair) per
    attempt. ``session`` lets tests pass a validating session; the client never
    changes its settings. ``observer`` is called with a ``CallRecord`` after every attempt (the
    app counts calls and their latency with it); an observer that raises is logged and ignored.
    requests does not promise a Session is thread-safe: give
    each thread (or worker process) its own client.
    """

    def __init__(
        self,
        base_url: str,
        client_id: str,
        api_key: str,
        *,
        app_id: str | None = None,
        timeout: float | tuple[float, float] = 10.0,
        retry: RetryPolicy | None = None,
        session: requests.Session | None = None,
        observer: CallObserver | None = None,
    ) -> None:
        self._transport = Transport(
            base_url,
            client_id,
            api_key,
            app_id=app_id,
            timeout=timeout,
            retry=retry if retry is not None else RetryPolicy(),
            session=session,
            observer=observer,
        )

    @property
    def base_url(self) -> str:
        return self._transport.base_url

    def __repr__(self) -> str:
        # Never the credentials.
        return f"DotsClient({self._transport.base_url!r})"

    def close(self) -> None:
        self._transport.session.close()

    def __enter__(self) -> DotsClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
