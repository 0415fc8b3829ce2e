"""KYB: the app's compliance information (company, contact, directors, flow of funds) and its hosted flow.

Checked here as Dots checks it (the `business-compliance-info` schema: lengths, EIN and SSN
of 9 digits, dates, US states, `ubo_count` equal to the number of directors, ownership of
0 to 100 % each and 100 % at most in all) so a person sees every mistake at once. The full
EIN and SSNs go to Dots and nowhere else: the app keeps the EIN's last four, the audit
trail the last four of each. An EIN or SSN left empty keeps the one Dots already holds
(read from Dots at that moment, never shown).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from core import audit
from core.dots_gateway import client, dots_call, is_not_found
from core.errors import DotsRejected
from core.permissions import require_perm
from dots.addresses import US_STATES
from wallet.errors import InvalidCompliance
from wallet.models import App

INCORPORATION_TYPES = (
    ("c_corporation", "C corporation"),
    ("llc", "Limited liability company (LLC)"),
    ("non_profit", "Non-profit"),
    ("partnership", "Partnership"),
    ("s_corporation", "S corporation"),
    ("sole_proprietorship", "Sole proprietorship"),
)
NINE_DIGITS = re.compile(r"[0-9]{9}")
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
# (section, field) -> (min length, max length) from the schema; required unless listed in OPTIONAL.
LENGTHS = {
    ("company_info", "name"): (3, 100),
    ("company_info", "dba"): (1, 60),
    ("company_info", "website"): (3, 100),
    ("contact_info", "email"): (3, 100),
    ("contact_info", "phone_number"): (3, 30),
    ("contact_info", "line1"): (1, 100),
    ("contact_info", "line2"): (1, 100),
    ("contact_info", "city"): (1, 100),
    ("contact_info", "zip"): (3, 20),
    ("contact_info", "country"): (2, 60),
    ("flow_of_funds", "reasons"): (3, 400),
    ("flow_of_funds", "usage"): (3, 400),
}
DIRECTOR_LENGTHS = {
    "first_name": (1, 60),
    "last_name": (1, 60),
    "title": (3, 60),
    "phone": (3, 30),
    "email": (3, 100),
}
ADDRESS_LENGTHS = {"line1": (1, 100), "line2": (1, 100), "city": (1, 100), "zip": (3, 20), "country": (2, 60)}
OPTIONAL = {"dba", "line2"}


def _text(errors: dict, key: str, value: Any, low: int, high: int, *, optional: bool) -> None:
    value = value if isinstance(value, str) else ""
    if not value.strip():
        if not optional:
            errors.setdefault(key, []).append("Required.")
        return
    if not low <= len(value) <= high:
        errors.setdefault(key, []).append(f"{low} to {high} characters.")


def _date(errors: dict, key: str, value: Any, *, today: dt.date) -> None:
    try:
        day = dt.date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        day = None
    if day is None:
        errors.setdefault(key, []).append("A date (YYYY-MM-DD).")
    elif day > today:
        errors.setdefault(key, []).append("A date in the past.")


def validate(body: dict) -> dict[str, list[str]]:
    """Every mistake Dots would refuse, by field ("company_info.ein", "directors.1.ssn")."""
    errors: dict[str, list[str]] = {}
    today = timezone.localdate()
    for (section, field), (low, high) in LENGTHS.items():
        value = (body.get(section) or {}).get(field)
        _text(errors, f"{section}.{field}", value, low, high, optional=field in OPTIONAL)
    company = body.get("company_info") or {}
    if not NINE_DIGITS.fullmatch(str(company.get("ein") or "")):
        errors.setdefault("company_info.ein", []).append("9 digits, no dash.")
    if company.get("incorporation_type") not in dict(INCORPORATION_TYPES):
        errors.setdefault("company_info.incorporation_type", []).append("Choose the kind of company.")
    if company.get("incorporation_state") not in US_STATES:
        errors.setdefault("company_info.incorporation_state", []).append("Choose a US state.")
    _date(errors, "company_info.incorporation_date", company.get("incorporation_date"), today=today)
    contact = body.get("contact_info") or {}
    if contact.get("email") and not EMAIL.fullmatch(contact["email"]):
        errors.setdefault("contact_info.email", []).append("An email address.")
    if contact.get("country") in ("US", "USA") and contact.get("state") not in US_STATES:
        errors.setdefault("contact_info.state", []).append("Choose a US state.")
    directors = body.get("directors") or []
    if not directors:
        errors.setdefault("directors", []).append("Name at least one director or owner.")
    if company.get("ubo_count") != len(directors):
        errors.setdefault("company_info.ubo_count", []).append("Must equal the number of directors.")
    total = 0.0
    for i, director in enumerate(directors):
        key = f"directors.{i}"
        for field, (low, high) in DIRECTOR_LENGTHS.items():
            _text(errors, f"{key}.{field}", director.get(field), low, high, optional=False)
        if director.get("email") and not EMAIL.fullmatch(director["email"]):
            errors.setdefault(f"{key}.email", []).append("An email address.")
        _date(errors, f"{key}.dob", director.get("dob"), today=today)
        share = director.get("ownership_percentage")
        if not isinstance(share, (int, float)) or not 0 <= share <= 100:
            errors.setdefault(f"{key}.ownership_percentage", []).append("0 to 100.")
        else:
            total += share
        address = director.get("address") or {}
        for field, (low, high) in ADDRESS_LENGTHS.items():
            _text(errors, f"{key}.address.{field}", address.get(field), low, high, optional=field in OPTIONAL)
        us = address.get("country") in ("US", "USA")
        if us and address.get("state") not in US_STATES:
            errors.setdefault(f"{key}.address.state", []).append("Choose a US state.")
        ssn = director.get("ssn")
        if (ssn or us) and not NINE_DIGITS.fullmatch(str(ssn or "")):
            errors.setdefault(f"{key}.ssn", []).append("9 digits, no dashes (required for a US address).")
    if total > 100:
        errors.setdefault("directors", []).append(f"Ownership adds up to {total:g} %: at most 100 %.")
    return errors


def compliance_read(app: App) -> dict | None:
    """The KYB information Dots holds, EIN and SSNs reduced to their last four ("ein_last4", "ssn_last4")."""
    try:
        with dots_call("read the app's KYB information"):
            raw = dict(client().retrieve_app_compliance(app_id=app.dots_app_id).raw)
    except DotsRejected as exc:
        if is_not_found(exc):
            return None
        raise
    return masked(raw)


def masked(body: dict) -> dict:
    company = dict(body.get("company_info") or {})
    ein = str(company.pop("ein", "") or "")
    company["ein_last4"] = ein[-4:]
    directors = []
    for director in body.get("directors") or []:
        director = dict(director)
        ssn = str(director.pop("ssn", "") or "")
        director["ssn_last4"] = ssn[-4:]
        directors.append(director)
    return {**body, "company_info": company, "directors": directors}


def _keep_secrets_dots_holds(app: App, body: dict) -> None:
    """An EIN or SSN left empty: the one Dots holds (the same director: same names and date of birth)."""
    company = body["company_info"]
    directors = body["directors"]
    if company.get("ein") and all(d.get("ssn") for d in directors):
        return
    try:
        with dots_call("read the app's KYB information"):
            held = dict(client().retrieve_app_compliance(app_id=app.dots_app_id).raw)
    except DotsRejected as exc:
        if is_not_found(exc):
            return
        raise
    if not company.get("ein"):
        company["ein"] = (held.get("company_info") or {}).get("ein") or ""
    by_person = {
        (d.get("first_name"), d.get("last_name"), d.get("dob")): d.get("ssn") for d in held.get("directors") or []
    }
    for director in directors:
        if not director.get("ssn"):
            ssn = by_person.get((director.get("first_name"), director.get("last_name"), director.get("dob")))
            if ssn:
                director["ssn"] = ssn
            else:
                director.pop("ssn", None)


def _summary(body: dict) -> dict:
    company = body["company_info"]
    return {
        "company": company.get("name"),
        "ein": f"•••••{str(company.get('ein', ''))[-4:]}",
        "directors": "; ".join(
            f"{d.get('first_name')} {d.get('last_name')} ({d.get('ownership_percentage')} %, SSN "
            f"{'••••' + str(d['ssn'])[-4:] if d.get('ssn') else 'none'})"
            for d in body["directors"]
        ),
        "contact": (body.get("contact_info") or {}).get("email"),
    }


def compliance_send(*, actor: User, app_id: int, body: dict) -> App:
    """Send the KYB information to Dots (every field; Dots replaces what it held) and note what was sent."""
    require_perm(actor, "wallet.change_app", "send KYB information")
    app = App.objects.get(pk=app_id)
    body = {
        "company_info": dict(body["company_info"]),
        "contact_info": dict(body["contact_info"]),
        "directors": [dict(d) for d in body["directors"]],
        "flow_of_funds": dict(body["flow_of_funds"]),
    }
    body["company_info"]["ubo_count"] = len(body["directors"])
    _keep_secrets_dots_holds(app, body)
    errors = validate(body)
    if errors:
        raise InvalidCompliance(errors)
    with dots_call("send the KYB information"):
        client().update_app_compliance(app_id=app.dots_app_id, **body)
    with dots_call("read the app"):
        dots_app = client().retrieve_app(app_id=app.dots_app_id)
    summary = _summary(body)
    with transaction.atomic():
        app = App.objects.select_for_update().get(pk=app_id)
        before = {"status": app.status, "company": app.kyb_company_name, "ein": f"•••••{app.kyb_ein_last4}"}
        app.kyb_company_name = body["company_info"]["name"]
        app.kyb_ein_last4 = str(body["company_info"]["ein"])[-4:]
        app.kyb_submitted_at = timezone.now()
        app.status = dots_app.status or app.status
        app.save()
        audit.record(
            actor=actor,
            action="app.compliance_sent",
            target=app,
            before=before,
            after={**summary, "status": app.status},
        )
    del body  # the full EIN and SSNs go no further
    return app


def kyb_flow_create(*, actor: User, app_id: int) -> App:
    """A new hosted KYB flow link (72 hours); Dots stops the previous one at once."""
    require_perm(actor, "wallet.change_app", "create KYB flow links")
    app = App.objects.get(pk=app_id)
    with dots_call("create the KYB flow link"):
        flow = client().create_app_kyb_flow(app_id=app.dots_app_id)
    url = str(flow.get("url") or "")
    expires = parse_datetime(str(flow.get("expires_at") or ""))
    with transaction.atomic():
        app = App.objects.select_for_update().get(pk=app_id)
        before = {"kyb_flow_url": app.kyb_flow_url, "kyb_flow_expires_at": app.kyb_flow_expires_at}
        app.kyb_flow_url = url[:500]
        app.kyb_flow_expires_at = expires
        app.save(update_fields=["kyb_flow_url", "kyb_flow_expires_at"])
        audit.record(
            actor=actor,
            action="app.kyb_flow_created",
            target=app,
            before=before,
            after={"kyb_flow_url": app.kyb_flow_url, "kyb_flow_expires_at": expires},
        )
    return app
