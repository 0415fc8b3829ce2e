"""The KYB form: every field of Dots' compliance schema, the company on one form, each director on a row.

The EIN and SSNs are never sent back to the browser (NeverShownInput): the page says the last
four Dots holds, and an empty field keeps that one (wallet.kyb reads it from Dots when sending).
"""

from __future__ import annotations

from django import forms
from django.forms import formset_factory

from dots.addresses import US_STATES
from wallet.forms import NeverShownInput, RetypeMixin
from wallet.kyb import INCORPORATION_TYPES

STATES = [("", "—"), *[(code, code) for code in US_STATES]]
COMPANY = ("name", "dba", "website", "ein", "incorporation_type", "incorporation_state", "incorporation_date")
CONTACT = ("email", "phone_number", "line1", "line2", "city", "zip", "state", "country")
FLOW = ("reasons", "usage")
DIRECTOR = ("first_name", "last_name", "title", "phone", "email", "dob", "ownership_percentage", "ssn")
ADDRESS = ("line1", "line2", "city", "zip", "state", "country")


def _secret(label: str, help_text: str) -> forms.CharField:
    return forms.CharField(
        label=label,
        required=False,
        max_length=11,
        widget=NeverShownInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
        help_text=help_text,
    )


class CompanyForm(RetypeMixin, forms.Form):
    name = forms.CharField(label="Legal name", min_length=3, max_length=100)
    dba = forms.CharField(label="Doing business as", required=False, max_length=60)
    website = forms.CharField(min_length=3, max_length=100)
    ein = _secret("EIN", "9 digits. Sent to Dots only; only its last four are kept here.")
    incorporation_type = forms.ChoiceField(label="Kind of company", choices=[("", "—"), *INCORPORATION_TYPES])
    incorporation_state = forms.ChoiceField(label="State of incorporation", choices=STATES)
    incorporation_date = forms.DateField(label="Date of incorporation", help_text="YYYY-MM-DD")
    email = forms.EmailField(label="Contact email", max_length=100, help_text="Dots sends service emails here.")
    phone_number = forms.CharField(label="Contact phone", min_length=3, max_length=30)
    line1 = forms.CharField(label="Address", max_length=100)
    line2 = forms.CharField(label="Address (line 2)", required=False, max_length=100)
    city = forms.CharField(max_length=100)
    zip = forms.CharField(label="ZIP", min_length=3, max_length=20)
    state = forms.ChoiceField(choices=STATES)
    country = forms.CharField(initial="US", min_length=2, max_length=60)
    reasons = forms.CharField(
        label="Flow of funds",
        min_length=3,
        max_length=400,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Where the money comes from and goes, e.g. “Funds are loaded from our bank account and paid "
        "out via Dots.”",
    )
    usage = forms.CharField(
        label="What Dots is used for", min_length=3, max_length=400, widget=forms.Textarea(attrs={"rows": 2})
    )
    NEVER_SHOWN = ("ein",)


class DirectorForm(RetypeMixin, forms.Form):
    first_name = forms.CharField(max_length=60)
    last_name = forms.CharField(max_length=60)
    title = forms.CharField(min_length=3, max_length=60, help_text="For example “Chief executive” or “Owner”.")
    phone = forms.CharField(min_length=3, max_length=30)
    email = forms.EmailField(max_length=100)
    dob = forms.DateField(label="Date of birth", help_text="YYYY-MM-DD")
    ownership_percentage = forms.DecimalField(label="Ownership (%)", min_value=0, max_value=100, decimal_places=2)
    ssn = _secret("SSN", "9 digits; required for a US address. Sent to Dots only.")
    line1 = forms.CharField(label="Address", max_length=100)
    line2 = forms.CharField(label="Address (line 2)", required=False, max_length=100)
    city = forms.CharField(max_length=100)
    zip = forms.CharField(label="ZIP", min_length=3, max_length=20)
    state = forms.ChoiceField(choices=STATES, required=False)
    country = forms.CharField(initial="US", min_length=2, max_length=60)
    NEVER_SHOWN = ("ssn",)


DirectorFormSet = formset_factory(DirectorForm, extra=2, max_num=10, validate_max=True)


def initial_from(held: dict | None) -> tuple[dict, list[dict], dict]:
    """Form initial values from what Dots holds (masked): the company's and each director's."""
    if not held:
        return {"country": "US"}, [], {}
    company = held.get("company_info") or {}
    contact = held.get("contact_info") or {}
    flow = held.get("flow_of_funds") or {}
    initial = {
        **{f: company.get(f) for f in COMPANY if f != "ein"},
        **{f: contact.get(f) for f in CONTACT},
        **{f: flow.get(f) for f in FLOW},
    }
    directors, last4 = [], {"ein": company.get("ein_last4") or ""}
    for i, director in enumerate(held.get("directors") or []):
        address = director.get("address") or {}
        directors.append(
            {**{f: director.get(f) for f in DIRECTOR if f != "ssn"}, **{f: address.get(f) for f in ADDRESS}}
        )
        last4[f"ssn-{i}"] = director.get("ssn_last4") or ""
    return initial, directors, last4


def body_from(company: forms.Form, formset) -> tuple[dict, list[forms.Form]]:
    """The body Dots takes, and the director forms in the order of its `directors`."""
    c = company.cleaned_data
    rows = [f for f in formset.forms if f.has_changed() and f.cleaned_data and not f.cleaned_data.get("DELETE")]
    directors = []
    for form in rows:
        d = form.cleaned_data
        ssn = (d.get("ssn") or "").replace("-", "").replace(" ", "")
        director = {
            **{f: d[f] for f in ("first_name", "last_name", "title", "phone", "email")},
            "dob": d["dob"].isoformat(),
            "ownership_percentage": float(d["ownership_percentage"]),
            "address": {f: d[f] for f in ADDRESS if d.get(f)},
        }
        if ssn:
            director["ssn"] = ssn
        directors.append(director)
    ein = (c.get("ein") or "").replace("-", "").replace(" ", "")
    company_info = {f: c[f] for f in COMPANY if f not in ("ein", "incorporation_date") and c.get(f)}
    company_info["incorporation_date"] = c["incorporation_date"].isoformat()
    if ein:
        company_info["ein"] = ein
    body = {
        "company_info": company_info,
        "contact_info": {f: c[f] for f in CONTACT if c.get(f)},
        "directors": directors,
        "flow_of_funds": {f: c[f] for f in FLOW},
    }
    return body, rows


def put_errors(errors: dict[str, list[str]], company: forms.Form, formset, rows: list[forms.Form]) -> None:
    """The service's errors ("directors.0.ssn") on the fields they name."""
    for key, messages in errors.items():
        parts = key.split(".")
        for message in messages:
            if parts[0] == "directors" and len(parts) >= 3 and parts[1].isdigit() and int(parts[1]) < len(rows):
                form, field = rows[int(parts[1])], parts[-1]
                form.add_error(field if field in form.fields else None, message)
            elif len(parts) == 2 and parts[1] in company.fields:
                company.add_error(parts[1], message)
            else:
                company.add_error(None, f"{key.replace('_', ' ')}: {message}")


class SettingsForm(forms.Form):
    auto_refill_active = forms.BooleanField(label="Auto-refill", required=False)
    refill_amount = forms.IntegerField(required=False, widget=forms.HiddenInput)  # replaced below
    payout_options_excluded = forms.MultipleChoiceField(
        label="Payout methods excluded", required=False, widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args, **kwargs):
        from core.money import MoneyFormField
        from wallet.app_settings import PAYOUT_METHODS

        super().__init__(*args, **kwargs)
        self.fields["refill_amount"] = MoneyFormField(
            label="Refill amount", required=False, help_text="$10.00 to $10,000.00: what each refill adds."
        )
        self.fields["refill_threshold"] = MoneyFormField(
            label="Refill when the balance falls below", required=False, help_text="$10.00 to $10,000.00."
        )
        self.fields["payout_options_excluded"].choices = PAYOUT_METHODS
        self.order_fields(["auto_refill_active", "refill_amount", "refill_threshold", "payout_options_excluded"])
