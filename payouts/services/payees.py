"""Payees: Dots users we pay. Create (or link the user Dots already has), refresh, update, verify."""

from __future__ import annotations

import time
from datetime import date

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from core import audit
from core.countries import country_name
from core.dots_gateway import client, dots_call
from core.errors import DotsOutcomeUnknownError, DotsRejected, DotsUnavailable
from core.permissions import require_perm
from dots.addresses import US_STATES
from dots.types import User as DotsUser
from payouts import csv_import
from payouts.errors import InvalidPayee, PayeeCreateFailed, PayeeInUse, PayeeNotInDots
from payouts.models import Payee, PayoutBatchItem

CREATE_ATTEMPTS = 4  # per row, for 5xx / unreachable answers
RETRY_BASE_SECONDS = 0.2

VIEW_PAYEE = "payouts.view_payee"
ADD_PAYEE = "payouts.add_payee"
CHANGE_PAYEE = "payouts.change_payee"
DELETE_PAYEE = "payouts.delete_payee"


def payee_fields_from_dots(user: DotsUser) -> dict:
    # Dots answers the method's id and platform, never a whole account number.
    method = user.default_payout_method or ""
    return {
        "dots_status": user.status or "",
        "compliance": user.compliance or {},
        "wallet_cents": user.wallet.amount if user.wallet is not None else None,
        "default_payout_method": method[:100],
    }


def create_or_link_user(
    *, first_name: str, last_name: str, email: str, phone_e164: str, metadata=None, already_tried: bool = False
) -> tuple[str, DotsUser | str]:
    """Create the Dots user, or find the one with this phone. Safe to repeat: never two users.

    Answers (outcome, the Dots user or error text) with outcome "created", "linked" or "failed".
    `already_tried` says an earlier attempt may have reached Dots (a dropped answer or a
    worker that died): a duplicate-phone answer then means our own earlier create.
    """
    country_code, national = csv_import.dots_phone(phone_e164)
    last_error = ""
    # The import runs this in worker threads that must not touch the database: no health writes.
    for attempt in range(CREATE_ATTEMPTS):
        try:
            with dots_call("create the payee", record_health=False):
                user = client().create_user(
                    first_name=first_name,
                    last_name=last_name,
                    email=email,
                    country_code=country_code,
                    phone_number=national,
                    metadata=metadata,
                )
            return "created", user
        except DotsRejected as exc:
            body = getattr(exc.dots_error, "body", None) or {}
            if exc.dots_error_code == "user-already-exists" and body.get("user_id"):
                try:
                    with dots_call("read the existing Dots user", record_health=False):
                        user = client().retrieve_user(user_id=body["user_id"])
                except (DotsUnavailable, DotsOutcomeUnknownError) as read_exc:
                    last_error = str(read_exc)
                    time.sleep(RETRY_BASE_SECONDS * 2**attempt)
                    continue
                return ("created" if already_tried else "linked"), user
            return "failed", str(exc)
        except DotsOutcomeUnknownError as exc:
            # The user may exist now; asking again is safe: a duplicate phone is answered with its id.
            already_tried = True
            last_error = str(exc)
        except DotsUnavailable as exc:
            last_error = str(exc)
        time.sleep(RETRY_BASE_SECONDS * 2**attempt)
    return "failed", last_error


def payee_create(
    *,
    first_name: str,
    last_name: str,
    email: str,
    phone: str,
    country: str = "US",
    external_id: str = "",
    actor: User,
) -> Payee:
    """Create one payee in Dots (or link the Dots user that has this phone), then locally."""
    require_perm(actor, ADD_PAYEE, "add payees")
    layout = csv_import.CsvLayout(
        encoding="",
        delimiter=",",
        header=[],
        columns={"first_name": 0, "last_name": 1, "email": 2, "phone": 3, "country_code": 4},
    )
    parsed = csv_import.validate_row(0, [first_name, last_name, email, phone, country], layout, 5)
    if parsed.errors:
        raise InvalidPayee(csv_import.describe_errors(parsed.errors))
    values = parsed.values
    existing = Payee.objects.filter(phone_e164=values["phone_e164"]).first()
    if existing is not None:
        raise InvalidPayee(f"{existing} is already a payee.", code="payee-exists")
    outcome, result = create_or_link_user(
        first_name=values["first_name"],
        last_name=values["last_name"],
        email=values["email"],
        phone_e164=values["phone_e164"],
    )
    if not isinstance(result, DotsUser):
        raise PayeeCreateFailed(result)
    with transaction.atomic():
        payee = Payee.objects.create(
            first_name=values["first_name"],
            last_name=values["last_name"],
            email=values["email"],
            phone_e164=values["phone_e164"],
            country=values["country"],
            external_id=external_id,
            dots_user_id=result.id,
            linked_existing=outcome == "linked",
            created_by=actor,
            last_dots_attempt_at=timezone.now(),
            **payee_fields_from_dots(result),
        )
        audit.record(
            actor=actor,
            action=f"payee.{outcome}",
            target=payee,
            after={"dots_user_id": payee.dots_user_id, "phone": payee.phone_e164},
        )
    return payee


def payee_refresh(*, payee_id: int, actor: User, source: str = "admin") -> Payee:
    require_perm(actor, CHANGE_PAYEE, "refresh payees from Dots")
    payee = Payee.objects.get(pk=payee_id)
    if not payee.dots_user_id:
        raise PayeeNotInDots(f"{payee} has no Dots user yet.")
    try:
        with dots_call("read the payee"):
            user = client().retrieve_user(user_id=payee.dots_user_id)
    except (DotsUnavailable, DotsRejected, DotsOutcomeUnknownError) as exc:
        Payee.objects.filter(pk=payee.pk).update(last_dots_error=str(exc), last_dots_attempt_at=timezone.now())
        raise
    fields = payee_fields_from_dots(user)
    with transaction.atomic():
        payee = Payee.objects.select_for_update().get(pk=payee_id)
        before = {name: getattr(payee, name) for name in ("dots_status", "wallet_cents", "default_payout_method")}
        for name, value in fields.items():
            setattr(payee, name, value)
        payee.last_dots_error = ""
        payee.last_dots_attempt_at = timezone.now()
        payee.save()
        after = {name: getattr(payee, name) for name in before}
        if before != after:
            audit.record(actor=actor, action="payee.refreshed", target=payee, before=before, after=after, source=source)
    return payee


def payee_update(*, payee_id: int, metadata: dict, external_id: str, actor: User) -> Payee:
    """Update what Dots lets us change on a user (metadata); names and phone are fixed in Dots."""
    require_perm(actor, CHANGE_PAYEE, "change payees")
    payee = Payee.objects.get(pk=payee_id)
    if not payee.dots_user_id:
        raise PayeeNotInDots(f"{payee} has no Dots user yet.")
    try:
        with dots_call("update the payee"):
            user = client().update_user(user_id=payee.dots_user_id, metadata=metadata)
    except (DotsUnavailable, DotsRejected, DotsOutcomeUnknownError) as exc:
        Payee.objects.filter(pk=payee.pk).update(last_dots_error=str(exc), last_dots_attempt_at=timezone.now())
        raise
    with transaction.atomic():
        payee = Payee.objects.select_for_update().get(pk=payee_id)
        before = {"metadata": payee.metadata, "external_id": payee.external_id}
        payee.metadata = user.metadata if isinstance(user.metadata, dict) else metadata
        payee.external_id = external_id
        for name, value in payee_fields_from_dots(user).items():
            setattr(payee, name, value)
        payee.last_dots_error = ""
        payee.last_dots_attempt_at = timezone.now()
        payee.save()
        audit.record(
            actor=actor,
            action="payee.updated",
            target=payee,
            before=before,
            after={"metadata": payee.metadata, "external_id": payee.external_id},
        )
    return payee


def payee_send_verification(*, payee_id: int, actor: User) -> Payee:
    require_perm(actor, CHANGE_PAYEE, "verify payees")
    payee = Payee.objects.get(pk=payee_id)
    if not payee.dots_user_id:
        raise PayeeNotInDots(f"{payee} has no Dots user yet.")
    with dots_call("send the verification token"):
        client().send_user_verification_token(user_id=payee.dots_user_id)
    audit.record(actor=actor, action="payee.verification_sent", target=payee)
    return payee


def payee_verify(*, payee_id: int, token: str, actor: User) -> Payee:
    require_perm(actor, CHANGE_PAYEE, "verify payees")
    payee = Payee.objects.get(pk=payee_id)
    if not payee.dots_user_id:
        raise PayeeNotInDots(f"{payee} has no Dots user yet.")
    with dots_call("verify the payee"):
        client().verify_user(user_id=payee.dots_user_id, token=token.strip())
    payee = payee_refresh(payee_id=payee_id, actor=actor)
    audit.record(actor=actor, action="payee.verified", target=payee, after={"dots_status": payee.dots_status})
    return payee


def payee_delete(*, payee_id: int, reason: str, actor: User) -> None:
    """Delete the payee's user in Dots, then here. Refused (and said so) when Dots refuses.

    A payee whose payout links, payout requests, transfers, payouts or batch payouts are kept here
    is not deleted: their history must still name who was paid.
    """
    require_perm(actor, DELETE_PAYEE, "delete payees")
    if not (reason or "").strip():
        raise InvalidPayee("Say why the payee is deleted.", code="reason-required")
    payee = Payee.objects.get(pk=payee_id)
    if (
        payee.payout_links.exists()
        or payee.payout_requests.exists()
        or payee.wallet_transfers.exists()
        or payee.payouts.exists()
        or PayoutBatchItem.objects.filter(payee=payee).exists()
    ):
        raise PayeeInUse(
            f"{payee} has payout links, payout requests, transfers or payouts kept here for the record, "
            "so the payee is not deleted."
        )
    if payee.dots_user_id:
        try:
            with dots_call("delete the payee"):
                client().delete_user(user_id=payee.dots_user_id)
        except DotsRejected as exc:
            Payee.objects.filter(pk=payee.pk).update(last_dots_error=str(exc), last_dots_attempt_at=timezone.now())
            audit.record(actor=actor, action="payee.delete_refused", target=payee, reason=str(exc)[:500])
            raise DotsRejected(
                f"Dots refused to delete {payee}, so it is kept here: {exc}", dots_error=exc.dots_error
            ) from exc
        except (DotsUnavailable, DotsOutcomeUnknownError) as exc:
            Payee.objects.filter(pk=payee.pk).update(last_dots_error=str(exc), last_dots_attempt_at=timezone.now())
            raise
    with transaction.atomic():
        payee = Payee.objects.select_for_update().get(pk=payee_id)
        audit.record(
            actor=actor,
            action="payee.deleted",
            target=payee,
            before={"dots_user_id": payee.dots_user_id, "phone": payee.phone_e164},
            reason=reason.strip()[:500],
        )
        payee.delete()


def payee_set_w9(*, payee_id: int, w9: dict, actor: User) -> Payee:
    """Send a W-9 to Dots for the payee. The TIN goes to Dots only: neither stored here nor audited in full."""
    require_perm(actor, CHANGE_PAYEE, "set payees' tax information")
    payee = Payee.objects.get(pk=payee_id)
    if not payee.dots_user_id:
        raise PayeeNotInDots(f"{payee} has no Dots user yet.")
    tin = str(w9.get("tin") or "")
    if not (len(tin) == 9 and tin.isdigit()):
        raise InvalidPayee("The taxpayer id must be 9 digits.", code="invalid-tin")
    try:
        with dots_call("send the payee's W-9"):
            client().update_user_compliance(user_id=payee.dots_user_id, w9=w9)
    except (DotsUnavailable, DotsRejected, DotsOutcomeUnknownError) as exc:
        Payee.objects.filter(pk=payee.pk).update(last_dots_error=str(exc), last_dots_attempt_at=timezone.now())
        raise
    audit.record(
        actor=actor,
        action="payee.compliance_set",
        target=payee,
        after={
            "form": "W-9",
            "entity_type": w9.get("entity_type"),
            "business_name": w9.get("business_name") or "",
            "taxpayer_id_last4": tin[-4:],
        },
    )
    return payee_refresh(payee_id=payee.pk, actor=actor)


def _note_dots_error(payee: Payee, exc: Exception) -> None:
    Payee.objects.filter(pk=payee.pk).update(last_dots_error=str(exc), last_dots_attempt_at=timezone.now())


ADDRESS_KEYS = ("line_1", "line_2", "line_3", "city", "state", "postcode", "country")
ADDRESS_REQUIRED = {"line_1": "the address", "city": "the city", "state": "the state", "postcode": "the postcode",
                    "country": "the country"}  # fmt: skip
ADDRESS_WORDS = {"line_2": "address line 2", "line_3": "address line 3"}


def _address_fields(payee: Payee) -> dict:
    return {f"address_{key}": getattr(payee, f"address_{key}") for key in ADDRESS_KEYS}


def payee_set_address(*, payee_id: int, address: dict, actor: User) -> Payee:
    """Send the payee's postal address to Dots (add-user-address), then keep it here to show.

    Checked as Dots checks it (line 1, city, state, postcode and a two-letter country; in the
    United States a state code Dots accepts) before anything is sent. An address is not secret:
    the audit row keeps it before and after.
    """
    require_perm(actor, CHANGE_PAYEE, "set payees' addresses")
    payee = Payee.objects.get(pk=payee_id)
    if not payee.dots_user_id:
        raise PayeeNotInDots(f"{payee} has no Dots user yet.")
    unknown = set(address) - set(ADDRESS_KEYS)
    if unknown:
        raise InvalidPayee(f"An address has no field {', '.join(sorted(unknown))}.", code="invalid-address")
    body = {key: str(address.get(key) or "").strip() for key in ADDRESS_KEYS}
    missing = [words for key, words in ADDRESS_REQUIRED.items() if not body[key]]
    if missing:
        raise InvalidPayee(f"The address needs {', '.join(missing)}.", code="invalid-address")
    if not (len(body["country"]) == 2 and body["country"].isalpha() and body["country"].isupper()):
        raise InvalidPayee("The country must be a two-letter code such as US or GB.", code="invalid-address")
    if body["country"] == "US" and body["state"] not in US_STATES:
        raise InvalidPayee(
            f"{body['state']!r} is not a US state code Dots accepts (for example NJ).", code="invalid-address"
        )
    for key in ADDRESS_KEYS:
        limit = Payee._meta.get_field(f"address_{key}").max_length
        if len(body[key]) > limit:
            raise InvalidPayee(
                f"The {ADDRESS_WORDS.get(key, key.replace('_', ' '))} is longer than {limit} characters.",
                code="invalid-address",
            )
    try:
        with dots_call("add the payee's address"):
            client().put_user_address(user_id=payee.dots_user_id, **{k: v for k, v in body.items() if v})
    except (DotsUnavailable, DotsRejected, DotsOutcomeUnknownError) as exc:
        _note_dots_error(payee, exc)
        raise
    with transaction.atomic():
        payee = Payee.objects.select_for_update().get(pk=payee_id)
        before = _address_fields(payee)
        for key in ADDRESS_KEYS:
            setattr(payee, f"address_{key}", body[key])
        payee.address_sent_at = timezone.now()
        payee.last_dots_error = ""
        payee.last_dots_attempt_at = payee.address_sent_at
        payee.save()
        audit.record(actor=actor, action="payee.address_set", target=payee, before=before, after=_address_fields(payee))
    return payee


W8BEN_INCOME_TYPES = {
    "interest1": "Interest paid by US obligors",
    "dividend6": "Dividends paid by US corporations",
    "dividend7": "Dividends qualifying for the direct dividend rate",
    "pension15": "Pensions and annuities",
    "socialSecurity": "Social Security",
    "equipment10": "Industrial equipment royalties",
    "knowhow10": "Know-how and other industrial royalties",
    "patent10": "Patent royalties",
    "film11": "Film and TV royalties",
    "copyright12": "Copyright royalties",
}
# Citizenships for which Dots does not require a foreign tax id (the spec's w8ben if/then).
NO_FOREIGN_TAX_ID = ("AU", "BM", "VG", "KY", "JP")


def _w8ben_problems(w8ben: dict) -> list[str]:
    """What Dots would refuse in a w8ben object, in words naming the field (nothing sent when any)."""
    problems = []
    for key, words in (("name", "the full name"), ("citizenship_country", "the country of citizenship")):
        if not str(w8ben.get(key) or "").strip():
            problems.append(f"needs {words}")
    try:
        date.fromisoformat(str(w8ben.get("date_of_birth") or ""))
    except ValueError:
        problems.append("needs the date of birth (YYYY-MM-DD)")
    citizenship = str(w8ben.get("citizenship_country") or "")
    if citizenship and citizenship not in NO_FOREIGN_TAX_ID and not str(w8ben.get("foreign_tax_id") or "").strip():
        problems.append("needs the foreign tax id for this citizenship")
    address = w8ben.get("address") if isinstance(w8ben.get("address"), dict) else {}
    for key, words in (("line_1", "address"), ("city", "city"), ("postcode", "postcode"), ("country", "country")):
        if not str(address.get(key) or "").strip():
            problems.append(f"needs the {words} of residence")
    signature = w8ben.get("signature") if isinstance(w8ben.get("signature"), dict) else {}
    if signature.get("consent") is not True:
        problems.append("needs the payee's signature (consent)")
    for key, words in (("name", "signer's name"), ("email", "signer's email")):
        if not str(signature.get(key) or "").strip():
            problems.append(f"needs the {words}")
    if w8ben.get("tax_treaty_country"):
        rate = w8ben.get("tax_treaty_rate")
        if not isinstance(rate, (int, float)) or isinstance(rate, bool) or not 0 <= rate <= 0.3:
            problems.append("needs a treaty rate from 0 to 30 %")
        if w8ben.get("tax_treaty_income_type") not in W8BEN_INCOME_TYPES:
            problems.append("needs the kind of income the treaty covers")
        if not str(w8ben.get("tax_treaty_citation") or "").strip():
            problems.append("needs the treaty's article and paragraph")
    return problems


def payee_set_w8ben(*, payee_id: int, w8ben: dict, actor: User) -> Payee:
    """Send a W-8BEN to Dots for a payee outside the United States.

    The foreign tax id goes to Dots only: neither stored here nor audited in full (its last four).
    """
    require_perm(actor, CHANGE_PAYEE, "set payees' tax information")
    payee = Payee.objects.get(pk=payee_id)
    if not payee.dots_user_id:
        raise PayeeNotInDots(f"{payee} has no Dots user yet.")
    problems = _w8ben_problems(w8ben)
    if problems:
        raise InvalidPayee(f"The W-8BEN {'; '.join(problems)}.", code="invalid-w8ben")
    try:
        with dots_call("send the payee's W-8BEN"):
            client().update_user_compliance(user_id=payee.dots_user_id, w8ben=w8ben)
    except (DotsUnavailable, DotsRejected, DotsOutcomeUnknownError) as exc:
        _note_dots_error(payee, exc)
        raise
    tax_id = str(w8ben.get("foreign_tax_id") or "")
    signature = w8ben["signature"]
    after = {
        "form": "W-8BEN",
        "name": w8ben["name"],
        "citizenship_country": country_name(w8ben["citizenship_country"]),
        "foreign_tax_id_last4": tax_id[-4:] if tax_id else "none given",
        "residence_country": country_name(w8ben["address"]["country"]),
        "signed_by": f"{signature['name']} <{signature['email']}>",
    }
    if w8ben.get("tax_treaty_country"):
        after.update(
            {
                "tax_treaty_country": country_name(w8ben["tax_treaty_country"]),
                "tax_treaty_citation": w8ben.get("tax_treaty_citation") or "",
                "tax_treaty_rate": f"{w8ben['tax_treaty_rate'] * 100:g} %",
                "tax_treaty_income": W8BEN_INCOME_TYPES[w8ben["tax_treaty_income_type"]],
            }
        )
    audit.record(actor=actor, action="payee.w8ben_sent", target=payee, after=after)
    return payee_refresh(payee_id=payee.pk, actor=actor)


PLATFORM_WORDS = {"ach": "Bank account", "paypal": "PayPal", "venmo": "Venmo", "cash_app": "Cash App"}


def payee_payout_methods(*, payee_id: int, actor: User) -> list[dict]:
    """The payee's payout methods as Dots lists them, in words (never a whole account number)."""
    require_perm(actor, VIEW_PAYEE, "see payees' payout methods")
    return read_payout_methods(Payee.objects.get(pk=payee_id))


def read_payout_methods(payee: Payee) -> list[dict]:
    """Dots' list of the payee's payout methods: id, platform, kind and detail in words, default.

    The caller checks the actor's permission (seeing methods, or choosing one to pay out to).
    """
    if not payee.dots_user_id:
        raise PayeeNotInDots(f"{payee} has no Dots user yet.")
    with dots_call("read the payee's payout methods"):
        methods = client().list_user_payout_methods(user_id=payee.dots_user_id)
    shown = []
    for method in methods:
        raw = method.raw
        platform = str(raw.get("platform") or "")
        detail = {
            "ach": f"account ending {raw.get('mask') or '????'}",
            "paypal": str(raw.get("email") or raw.get("phone_number") or ""),
            "venmo": str(raw.get("phone_number") or "handle on file"),
            "cash_app": str(raw.get("cash_tag") or ""),
        }.get(platform, "")
        is_default = platform and payee.default_payout_method in (platform, raw.get("id"))
        shown.append(
            {
                "id": str(raw.get("id") or ""),
                "platform": platform,
                "kind": PLATFORM_WORDS.get(platform, platform),
                "detail": detail,
                "default": bool(is_default),
            }
        )
    return shown


def payee_add_payout_method(*, payee_id: int, fields: dict, actor: User) -> Payee:
    """Add (or replace: one per kind in Dots) a payout method. The account number goes to Dots only."""
    require_perm(actor, CHANGE_PAYEE, "add payout methods")
    payee = Payee.objects.get(pk=payee_id)
    if not payee.dots_user_id:
        raise PayeeNotInDots(f"{payee} has no Dots user yet.")
    try:
        with dots_call("add the payout method"):
            client().put_user_payout_method(user_id=payee.dots_user_id, **fields)
    except (DotsUnavailable, DotsRejected, DotsOutcomeUnknownError) as exc:
        Payee.objects.filter(pk=payee.pk).update(last_dots_error=str(exc), last_dots_attempt_at=timezone.now())
        raise
    account = str(fields.get("account_number") or "")
    audit.record(
        actor=actor,
        action="payee.payout_method_added",
        target=payee,
        after={
            "kind": PLATFORM_WORDS.get(fields["platform"], fields["platform"]),
            "account_last4": account[-4:] if account else "",
            "default": bool(fields.get("is_default")),
        },
    )
    return payee_refresh(payee_id=payee.pk, actor=actor)
