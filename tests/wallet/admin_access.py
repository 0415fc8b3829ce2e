"""Role matrix for the wallet app's admin pages (merged by tests/core/test_roles.py)."""

from core import roles

VIEW = {"changelist", "change", "history"}

EXPECTED = {
    "wallet.app": {roles.ADMINISTRATOR: VIEW | {"add"}, roles.PAYER: VIEW, roles.MANAGER: VIEW},
    "wallet.achaccount": {roles.ADMINISTRATOR: VIEW, roles.PAYER: VIEW, roles.MANAGER: VIEW},
    "wallet.wallettransfer": {roles.ADMINISTRATOR: VIEW, roles.PAYER: VIEW, roles.MANAGER: VIEW},
}


def _app():
    from dots.emulator.resources.apps import DEFAULT_APP_ID
    from wallet.models import App

    # The emulator's default app (its id is fixed across resets), so its pages read real metrics.
    return App.objects.get_or_create(dots_app_id=DEFAULT_APP_ID, defaults={"name": "Ledgerline", "status": "approved"})[
        0
    ]


def _account():
    from tests.support import make_user
    from wallet.models import AchAccount

    return AchAccount.objects.create(
        app=_app(),
        holder_name="Ledgerline Inc",
        routing_number="021000021",
        account_last4="2333",
        account_type="checking",
        created_by=make_user("ach-adder"),
    )


def _transfer():
    from tests.support import make_user
    from wallet.models import AchAccount, WalletTransfer

    account = AchAccount.objects.filter(app=_app()).first() or _account()
    return WalletTransfer.objects.create(
        app=account.app,
        ach_account=account,
        kind="deposit",
        amount_cents=2_500_000,
        status="awaiting_approval",
        needs_second_approval=True,
        requested_by=make_user("wallet-asker"),
    )


INSTANCE_FACTORIES = {
    "wallet.app": _app,
    "wallet.achaccount": _account,
    "wallet.wallettransfer": _transfer,
}
