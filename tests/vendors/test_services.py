"""Vendor and bank-account services over real HTTP against the Dots emulator."""

import io
import threading

import pytest
from django.core.management import call_command
from django.db import connection

from core import roles
from core.errors import DomainError, DotsRejected, SegregationOfDutiesViolation
from core.models import AuditEvent
from tests.support import make_user
from tests.vendors.helpers import (
    ACCOUNT_NUMBER,
    BAD_CHECKSUM_ROUTING,
    create_bank_account,
    create_vendor,
)
from vendors import bank_accounts, services
from vendors.errors import (
    AlreadyInDots,
    AlreadyVerified,
    InvalidBankDetails,
    VendorNotEditable,
    VerificationNoteRequired,
    VerifyNotAllowed,
)
from vendors.models import Vendor, VendorBankAccount

pytestmark = pytest.mark.django_db

VENDORS_PATH = "/v2/accounts-payable/vendors"
METHODS_PATH = "/v2/accounts-payable/vendors/*/payment-methods"


@pytest.fixture
def clerk(db):
    return make_user("clerk", role=roles.AP_CLERK)


@pytest.fixture
def clerk2(db):
    return make_user("clerk2", role=roles.AP_CLERK)


@pytest.fixture
def approver(db):
    return make_user("approver", role=roles.APPROVER)


def events(action):
    return list(AuditEvent.objects.filter(action=action).order_by("id"))


# --- vendors ---------------------------------------------------------------------------------


def test_vendor_create_creates_it_in_dots_and_stores_dots_id(dots, clerk):
    vendor = create_vendor(clerk)

    assert vendor.dots_status == Vendor.DotsStatus.CREATED
    in_dots = services.client().retrieve_vendor(vendor_id=vendor.dots_id)
    assert (in_dots.name, in_dots.external_id, in_dots.address["state"]) == ("Acme Paper Supply", "V-1001", "IL")
    created, sent = events("vendor.created"), events("vendor.sent_to_dots")
    assert created[0].actor == clerk and created[0].changes["name"]["after"] == "Acme Paper Supply"
    assert sent[0].changes["dots_id"] == {"before": None, "after": vendor.dots_id}


def test_vendor_create_while_dots_is_down_keeps_the_vendor_with_the_error(dots, clerk):
    dots.add_fault(method="POST", path=VENDORS_PATH, kind="status", status=503, count=1)

    vendor = create_vendor(clerk)

    assert vendor.pk and vendor.dots_id is None
    assert vendor.dots_status == Vendor.DotsStatus.FAILED
    assert "could not be reached" in vendor.last_dots_error
    assert vendor.last_dots_attempt_at is not None
    assert events("vendor.dots_failed")[0].reason == vendor.last_dots_error


def test_vendor_send_to_dots_after_an_outage_creates_exactly_one_vendor_in_dots(dots, clerk):
    dots.add_fault(method="POST", path=VENDORS_PATH, kind="status", status=503, count=1)
    vendor = create_vendor(clerk)

    vendor = services.vendor_send_to_dots(actor=clerk, vendor_id=vendor.pk)

    assert vendor.dots_status == Vendor.DotsStatus.CREATED and vendor.last_dots_error == ""
    assert [v.id for v in services.client().iter_vendors()] == [vendor.dots_id]


def test_vendor_send_to_dots_after_a_lost_answer_adopts_the_vendor_dots_made(dots, clerk):
    dots.add_fault(method="POST", path=VENDORS_PATH, kind="drop", count=1)
    vendor = create_vendor(clerk)
    assert vendor.dots_status == Vendor.DotsStatus.UNKNOWN

    vendor = services.vendor_send_to_dots(actor=clerk, vendor_id=vendor.pk)

    assert vendor.dots_status == Vendor.DotsStatus.CREATED
    assert [v.id for v in services.client().iter_vendors()] == [vendor.dots_id]
    assert len(dots.received("POST", VENDORS_PATH)) == 1


def test_vendor_send_to_dots_when_already_there_is_refused_and_sends_nothing(dots, clerk):
    vendor = create_vendor(clerk)

    with pytest.raises(AlreadyInDots) as exc:
        services.vendor_send_to_dots(actor=clerk, vendor_id=vendor.pk)

    assert exc.value.code == "already-in-dots"
    assert len(dots.received("POST", VENDORS_PATH)) == 1


def test_vendor_update_of_its_name_once_in_dots_is_refused(dots, clerk):
    vendor = create_vendor(clerk)

    with pytest.raises(VendorNotEditable) as exc:
        services.vendor_update(actor=clerk, vendor_id=vendor.pk, data={"name": "Acme Paper Co"})

    assert exc.value.code == "vendor-not-editable" and "no vendor update" in exc.value.message
    vendor.refresh_from_db()
    assert vendor.name == "Acme Paper Supply"


def test_vendor_update_of_a_local_field_is_saved_and_audited(dots, clerk):
    vendor = create_vendor(clerk)

    services.vendor_update(
        actor=clerk, vendor_id=vendor.pk, data={"description": "Paper and toner"}, reason="new contract"
    )

    event = events("vendor.updated")[0]
    assert event.changes == {"description": {"before": "Office paper", "after": "Paper and toner"}}
    assert event.reason == "new contract"


def test_vendor_update_of_any_field_before_it_reached_dots_is_allowed(dots, clerk):
    dots.add_fault(method="POST", path=VENDORS_PATH, kind="status", status=503, count=1)
    vendor = create_vendor(clerk)

    services.vendor_update(actor=clerk, vendor_id=vendor.pk, data={"name": "Acme Paper Co"})
    vendor = services.vendor_send_to_dots(actor=clerk, vendor_id=vendor.pk)

    assert services.client().retrieve_vendor(vendor_id=vendor.dots_id).name == "Acme Paper Co"


def test_vendor_delete_deletes_it_and_its_bank_accounts_in_dots_and_here(dots, clerk):
    vendor = create_vendor(clerk)
    account = create_bank_account(clerk, vendor)

    assert services.vendor_delete(actor=clerk, vendor_id=vendor.pk, reason="duplicate") == "deleted"

    assert not Vendor.objects.filter(pk=vendor.pk).exists()
    assert not VendorBankAccount.objects.filter(pk=account.pk).exists()
    assert list(services.client().iter_vendors()) == []
    event = events("vendor.deleted")[0]
    assert (event.actor, event.reason, event.object_id) == (clerk, "duplicate", str(vendor.pk))
    assert events("vendor_bank_account.deleted")[0].object_id == str(account.pk)


def test_vendor_delete_when_dots_is_down_keeps_everything(dots, clerk):
    vendor = create_vendor(clerk)
    dots.add_fault(method="DELETE", path=f"{VENDORS_PATH}/*", kind="status", status=503, count=5)

    with pytest.raises(DomainError) as exc:
        services.vendor_delete(actor=clerk, vendor_id=vendor.pk)

    assert exc.value.code == "dots-unavailable"
    assert Vendor.objects.filter(pk=vendor.pk).exists()
    assert events("vendor.deleted") == []


# --- bank accounts ----------------------------------------------------------------------------


def test_bank_account_create_with_a_bad_routing_checksum_names_the_field_and_sends_nothing(dots, clerk):
    vendor = create_vendor(clerk)

    with pytest.raises(InvalidBankDetails) as exc:
        create_bank_account(clerk, vendor, routing_number=BAD_CHECKSUM_ROUTING)

    assert exc.value.code == "invalid-bank-details"
    assert list(exc.value.errors) == ["routing_number"]
    assert "check digit" in exc.value.errors["routing_number"][0]
    assert dots.received("POST", METHODS_PATH) == []
    assert not VendorBankAccount.objects.exists()


@pytest.mark.parametrize("number", ["123", "12345678901234567890", "1234-5678", "12 345678"])
def test_bank_account_create_with_a_malformed_account_number_names_the_field(dots, clerk, number):
    vendor = create_vendor(clerk)

    with pytest.raises(InvalidBankDetails) as exc:
        create_bank_account(clerk, vendor, account_number=number)

    assert list(exc.value.errors) == ["account_number"]


def test_bank_account_create_sends_the_full_number_to_dots_once_and_keeps_only_the_last_four(dots, clerk):
    vendor = create_vendor(clerk)

    account = create_bank_account(clerk, vendor)

    assert account.account_last4 == ACCOUNT_NUMBER[-4:] and account.dots_id
    assert not account.is_verified
    sent = dots.received("POST", METHODS_PATH)
    assert len(sent) == 1
    # The emulator's request log masks numbers itself; Dots kept the same last four.
    assert sent[0]["body"]["ach_account_number"].endswith(ACCOUNT_NUMBER[-4:])
    in_dots = services.client().retrieve_vendor_payment_method(
        vendor_id=vendor.dots_id, payment_method_id=account.dots_id
    )
    assert in_dots.ach_account_number.endswith(ACCOUNT_NUMBER[-4:])
    event = events("vendor_bank_account.created")[0]
    assert event.changes["account_number"]["after"] == "••••" + ACCOUNT_NUMBER[-4:]


def test_bank_account_full_number_is_in_no_row_of_any_table(dots, clerk):
    vendor = create_vendor(clerk)
    create_bank_account(clerk, vendor)

    dump = io.StringIO()
    call_command("dumpdata", stdout=dump)
    assert ACCOUNT_NUMBER not in dump.getvalue()
    # And the raw rows, columns dumpdata would not show included.
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f'SELECT * FROM "{table}"')
            for row in cursor.fetchall():
                assert ACCOUNT_NUMBER not in " ".join(str(v) for v in row), table


def test_bank_account_create_refused_by_dots_saves_nothing_and_says_why(dots, clerk):
    vendor = create_vendor(clerk)
    services.client().delete_vendor(vendor_id=vendor.dots_id)  # gone in Dots behind our back

    with pytest.raises(DotsRejected) as exc:
        create_bank_account(clerk, vendor)

    assert "Dots refused to add the bank account" in exc.value.message
    assert "vendor not found" in exc.value.message
    assert not VendorBankAccount.objects.exists()
    assert events("vendor_bank_account.created") == []


def test_bank_account_create_after_a_lost_answer_adopts_the_account_without_resending(dots, clerk):
    vendor = create_vendor(clerk)
    dots.add_fault(method="POST", path=METHODS_PATH, kind="drop", count=1)

    account = create_bank_account(clerk, vendor)

    assert account.dots_id and account.account_last4 == ACCOUNT_NUMBER[-4:]
    assert len(dots.received("POST", METHODS_PATH)) == 1


def test_bank_account_create_for_a_vendor_not_in_dots_is_refused(dots, clerk):
    dots.add_fault(method="POST", path=VENDORS_PATH, kind="status", status=503, count=1)
    vendor = create_vendor(clerk)

    with pytest.raises(DomainError) as exc:
        create_bank_account(clerk, vendor)

    assert exc.value.code == "vendor-not-in-dots"
    assert dots.received("POST", METHODS_PATH) == []


# --- verification ----------------------------------------------------------------------------


def test_bank_account_verify_by_its_creator_is_refused(dots, clerk):
    account = create_bank_account(clerk, create_vendor(clerk))

    with pytest.raises(SegregationOfDutiesViolation) as exc:
        bank_accounts.bank_account_verify(actor=clerk, bank_account_id=account.pk, how_confirmed="I know them")

    assert exc.value.code == "segregation-of-duties"
    assert "second person" in exc.value.message
    account.refresh_from_db()
    assert not account.is_verified and events("vendor_bank_account.verified") == []


def test_bank_account_verify_by_its_creator_is_refused_for_a_superuser_too(dots):
    boss = make_user("boss", is_superuser=True)
    account = create_bank_account(boss, create_vendor(boss))

    with pytest.raises(SegregationOfDutiesViolation):
        bank_accounts.bank_account_verify(actor=boss, bank_account_id=account.pk, how_confirmed="I know them")

    account.refresh_from_db()
    assert not account.is_verified


def test_bank_account_verify_by_a_second_person_records_how_and_audits_it(dots, clerk, approver):
    account = create_bank_account(clerk, create_vendor(clerk))

    bank_accounts.bank_account_verify(
        actor=approver, bank_account_id=account.pk, how_confirmed="called the vendor on the number we already had"
    )

    account.refresh_from_db()
    assert account.is_verified and account.verified_by == approver
    assert account.verification_note == "called the vendor on the number we already had"
    event = events("vendor_bank_account.verified")[0]
    assert event.actor == approver and event.reason == account.verification_note
    assert event.changes["verified_by"] == {"before": None, "after": "approver"}


def test_bank_account_verify_without_saying_how_is_refused(dots, clerk, approver):
    account = create_bank_account(clerk, create_vendor(clerk))

    with pytest.raises(VerificationNoteRequired):
        bank_accounts.bank_account_verify(actor=approver, bank_account_id=account.pk, how_confirmed="   ")

    account.refresh_from_db()
    assert not account.is_verified


def test_bank_account_verify_by_a_payer_is_refused(dots, clerk):
    payer = make_user("payer", role=roles.PAYER)
    account = create_bank_account(clerk, create_vendor(clerk))

    with pytest.raises(VerifyNotAllowed):
        bank_accounts.bank_account_verify(actor=payer, bank_account_id=account.pk, how_confirmed="looked fine")


def test_bank_account_verify_a_second_time_is_refused_naming_who_verified(dots, clerk, clerk2, approver):
    account = create_bank_account(clerk, create_vendor(clerk))
    bank_accounts.bank_account_verify(actor=approver, bank_account_id=account.pk, how_confirmed="called them")

    with pytest.raises(AlreadyVerified) as exc:
        bank_accounts.bank_account_verify(actor=clerk2, bank_account_id=account.pk, how_confirmed="emailed them")

    assert "already verified by approver" in exc.value.message
    account.refresh_from_db()
    assert account.verified_by == approver and len(events("vendor_bank_account.verified")) == 1


@pytest.mark.django_db(transaction=True)
def test_two_people_verifying_at_once_one_wins(dots, clerk, clerk2, approver):
    account = create_bank_account(clerk, create_vendor(clerk))
    barrier = threading.Barrier(2)
    outcomes = {}

    def verify(user):
        barrier.wait()
        try:
            bank_accounts.bank_account_verify(actor=user, bank_account_id=account.pk, how_confirmed=f"{user} called")
            outcomes[user.username] = "verified"
        except AlreadyVerified:
            outcomes[user.username] = "already"
        finally:
            connection.close()

    threads = [threading.Thread(target=verify, args=(u,)) for u in (clerk2, approver)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert sorted(outcomes.values()) == ["already", "verified"]
    account.refresh_from_db()
    winner = next(name for name, outcome in outcomes.items() if outcome == "verified")
    assert account.verified_by.username == winner
    assert AuditEvent.objects.filter(action="vendor_bank_account.verified").count() == 1


# --- deleting bank accounts ------------------------------------------------------------------


def test_bank_account_delete_deletes_it_in_dots_and_here_audited(dots, clerk):
    vendor = create_vendor(clerk)
    account = create_bank_account(clerk, vendor)

    assert bank_accounts.bank_account_delete(actor=clerk, bank_account_id=account.pk, reason="wrong bank") == "deleted"

    assert not VendorBankAccount.objects.filter(pk=account.pk).exists()
    assert services.client().list_vendor_payment_methods(vendor_id=vendor.dots_id) == []
    event = events("vendor_bank_account.deleted")[0]
    assert (event.actor, event.reason) == (clerk, "wrong bank")
    assert event.changes["account_number"]["before"] == "••••" + ACCOUNT_NUMBER[-4:]


def test_bank_account_delete_refused_by_dots_keeps_it_here(dots, clerk):
    vendor = create_vendor(clerk)
    account = create_bank_account(clerk, vendor)
    dots.add_fault(method="DELETE", path=f"{METHODS_PATH}/*", kind="status", status=400, count=1)

    with pytest.raises(DotsRejected):
        bank_accounts.bank_account_delete(actor=clerk, bank_account_id=account.pk)

    assert VendorBankAccount.objects.filter(pk=account.pk).exists()
    assert events("vendor_bank_account.deleted") == []


# --- payables refer to it ----------------------------------------------------------------------


def _payable_for(account, actor):
    # Through the app registry: only the foreign keys matter here, not the payables app's API.
    from django.apps import apps

    Payable = apps.get_model("payables", "Payable")
    return Payable.objects.create(
        bill_number="INV-1", vendor=account.vendor, bank_account=account, amount_cents=1000, created_by=actor
    )


def test_vendor_delete_when_payables_refer_to_it_deactivates_it_and_leaves_dots_alone(dots, clerk):
    vendor = create_vendor(clerk)
    _payable_for(create_bank_account(clerk, vendor), clerk)

    assert services.vendor_delete(actor=clerk, vendor_id=vendor.pk, reason="stopped using them") == "deactivated"

    vendor.refresh_from_db()
    assert vendor.active is False
    assert [v.id for v in services.client().iter_vendors()] == [vendor.dots_id]
    assert dots.received("DELETE") == []
    assert events("vendor.deactivated")[0].reason == "stopped using them"


def test_bank_account_delete_when_payables_use_it_retires_it_and_leaves_dots_alone(dots, clerk):
    vendor = create_vendor(clerk)
    account = create_bank_account(clerk, vendor)
    _payable_for(account, clerk)

    assert bank_accounts.bank_account_delete(actor=clerk, bank_account_id=account.pk) == "retired"

    account.refresh_from_db()
    assert account.is_retired and account.retired_by == clerk
    assert len(services.client().list_vendor_payment_methods(vendor_id=vendor.dots_id)) == 1
    assert events("vendor_bank_account.retired")[0].actor == clerk


def test_vendor_send_to_dots_after_a_send_cut_off_midway_adopts_the_vendor_instead_of_creating_another(dots, clerk):
    dots.add_fault(method="POST", path=VENDORS_PATH, kind="status", status=503, count=1)
    vendor = create_vendor(clerk)
    # A worker died after Dots created the vendor and before we recorded it.
    in_dots = services.client().create_vendor(
        name=vendor.name, address=services._dots_address(vendor), external_id=vendor.external_id
    )
    Vendor.objects.filter(pk=vendor.pk).update(
        dots_status=Vendor.DotsStatus.SENDING,
        last_dots_attempt_at=vendor.last_dots_attempt_at - services.STALE_SENDING * 2,
    )

    vendor = services.vendor_send_to_dots(actor=clerk, vendor_id=vendor.pk)

    assert vendor.dots_id == in_dots.id
    assert len(list(services.client().iter_vendors())) == 1


def test_vendor_send_to_dots_while_another_send_is_under_way_is_refused(dots, clerk):
    dots.add_fault(method="POST", path=VENDORS_PATH, kind="status", status=503, count=1)
    vendor = create_vendor(clerk)
    Vendor.objects.filter(pk=vendor.pk).update(dots_status=Vendor.DotsStatus.SENDING)

    with pytest.raises(DomainError) as exc:
        services.vendor_send_to_dots(actor=clerk, vendor_id=vendor.pk)

    assert exc.value.code == "vendor-being-sent"
    assert len(dots.received("POST", VENDORS_PATH)) == 1


def test_bank_account_name_with_a_nul_character_is_refused_naming_the_field(dots, clerk):
    vendor = create_vendor(clerk)

    with pytest.raises(InvalidBankDetails) as exc:
        create_bank_account(clerk, vendor, name="Operating\x00account")

    assert list(exc.value.errors) == ["name"]


def test_vendor_delete_after_a_lost_create_answer_finds_and_deletes_it_in_dots(dots, clerk):
    dots.add_fault(method="POST", path=VENDORS_PATH, kind="drop", count=1)
    vendor = create_vendor(clerk)
    assert vendor.dots_status == Vendor.DotsStatus.UNKNOWN and vendor.dots_id is None

    assert services.vendor_delete(actor=clerk, vendor_id=vendor.pk) == "deleted"

    assert list(services.client().iter_vendors()) == []
    assert not Vendor.objects.exists()
