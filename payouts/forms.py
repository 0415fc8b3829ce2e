"""Forms of the payouts admin pages (payouts.admin): upload a payee file, add a payee, a payout link,
a payout request, edit a payee's metadata, verify a payee with the code Dots sent."""

import json
import re
from decimal import Decimal

from django import forms

from core.countries import country_choices, country_name
from core.money import MoneyFormField
from core.two_factor import step_up_field
from dots.addresses import US_STATES
from payouts import csv_import
from payouts.models import Payee, PayoutLink


class UploadForm(forms.Form):
    file = forms.FileField(
        help_text=f"CSV, at most {csv_import.MAX_FILE_BYTES // 1048576} MB. Columns: "
        "first_name, last_name, email, phone; optional country_code, amount, memo, "
        "external_id."
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        # DATA_UPLOAD_MAX_MEMORY_SIZE does not limit files: check before reading a byte.
        if upload.size > csv_import.MAX_FILE_BYTES:
            raise forms.ValidationError(
                f"The file is {upload.size / 1048576:.1f} MB; the limit is {csv_import.MAX_FILE_BYTES // 1048576} MB."
            )
        return upload


class PayeeForm(forms.Form):
    first_name = forms.CharField(max_length=100)
    last_name = forms.CharField(max_length=100)
    email = forms.EmailField()
    phone = forms.CharField(max_length=30)
    country = forms.CharField(max_length=3, initial="US", help_text="Country of the phone number (US, GB, 44...)")


def payees_by_name():
    """Payees in the order a person looks for them: by name as shown (first, then last name)."""
    return Payee.objects.order_by("first_name", "last_name", "id")


class PayoutLinkForm(forms.Form):
    payee = forms.ModelChoiceField(
        queryset=payees_by_name(), required=False, help_text="Leave empty for a link anyone can claim"
    )
    amount = MoneyFormField(min_cents=1)
    delivery_method = forms.ChoiceField(
        label="Delivery",
        choices=sorted(PayoutLink.Delivery.choices, key=lambda choice: choice[1]),
        initial=PayoutLink.Delivery.LINK,
    )
    memo = forms.CharField(max_length=500, required=False)
    tax_exempt = forms.BooleanField(required=False)


class PayoutRequestForm(forms.Form):
    payee = forms.ModelChoiceField(queryset=payees_by_name(), required=False)
    phone = forms.CharField(max_length=30, required=False, help_text="For someone who is not a payee yet")
    country = forms.CharField(max_length=3, initial="US", required=False)
    amount = MoneyFormField(min_cents=1)
    memo = forms.CharField(max_length=500, required=False)

    def clean(self):
        data = super().clean()
        if not data.get("payee") and not data.get("phone"):
            raise forms.ValidationError("Choose a payee or enter a phone number.")
        return data


class LabelsField(forms.CharField):
    """Dots metadata as a person types it: one "name: value" per line (a JSON object is accepted too)."""

    widget = forms.Textarea(attrs={"rows": 4, "cols": 40})

    def prepare_value(self, value):
        if isinstance(value, dict):
            return "\n".join(f"{key}: {item}" for key, item in sorted(value.items()))
        return value

    def to_python(self, value):
        text = (super().to_python(value) or "").strip()
        if text.startswith("{"):
            try:
                parsed = json.loads(text)
            except ValueError:
                raise forms.ValidationError(
                    "This looks like JSON but could not be read; use one name: value per line."
                ) from None
            if not isinstance(parsed, dict):
                raise forms.ValidationError("Use one name: value per line.")
            return {str(key): str(item) for key, item in parsed.items()}
        labels = {}
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            name, colon, item = line.partition(":")
            if not colon or not name.strip():
                raise forms.ValidationError(f"Line {number} ({line.strip()!r}) is not name: value.")
            labels[name.strip()] = item.strip()
        return labels


class PayeeEditForm(forms.Form):
    external_id = forms.CharField(max_length=100, required=False, label="Your reference")
    metadata = LabelsField(
        required=False,
        label="Labels",
        help_text="Kept with the payee in Dots: one per line, as name: value (for example team: north).",
    )


class VerifyForm(forms.Form):
    token = forms.CharField(max_length=10, label="Code the payee received")


class PayeeDeleteForm(forms.Form):
    reason = forms.CharField(
        max_length=500, label="Why delete this payee", help_text="Kept in the audit trail with your name."
    )


class PayeeTransferForm(forms.Form):
    payee = forms.ModelChoiceField(queryset=payees_by_name().filter(dots_user_id__isnull=False))
    amount = MoneyFormField(min_cents=1)
    reason = forms.CharField(max_length=500, help_text="Why the money moves: kept with the transfer and in the audit")


class ChoosePayeeForm(forms.Form):
    payee = forms.ModelChoiceField(
        queryset=payees_by_name().filter(dots_user_id__isnull=False), help_text="Only payees Dots knows are listed."
    )


class PayeePayoutForm(forms.Form):
    """A payout from the payee's wallet: which of the methods Dots lists for them, how much, why."""

    payout_method = forms.ChoiceField(label="Pay to", widget=forms.RadioSelect)
    amount = MoneyFormField(min_cents=1, help_text="In dollars, for example 120.00. It must be in the payee's wallet.")
    reason = forms.CharField(
        max_length=500, help_text="Why the money is paid out: kept with the payout and in the audit"
    )

    def __init__(self, *args, payee: Payee, options: list[dict], **kwargs):
        super().__init__(*args, **kwargs)
        self.payee = payee
        self.options = {option["id"]: option for option in options}
        self.fields["payout_method"].choices = [
            (option["id"], option["words"] + (" (their default)" if option["default"] else "")) for option in options
        ]
        default = next((option["id"] for option in options if option["default"]), None)
        if default:
            self.fields["payout_method"].initial = default
        # The payee goes back with the form (the page is built for that payee).
        self.fields["payee"] = forms.IntegerField(widget=forms.HiddenInput, initial=payee.pk)

    def chosen_method(self) -> dict:
        return self.options[self.cleaned_data["payout_method"]]


class PayoutBatchForm(forms.Form):
    """Several payees, each with an amount, and one reason: a payout batch (more rows: the payee list's action)."""

    ROWS = 10

    reason = forms.CharField(max_length=500, help_text="Why they are paid: kept with the batch and in the audit")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        payees = payees_by_name().filter(dots_user_id__isnull=False)
        for n in range(1, self.ROWS + 1):
            self.fields[f"payee_{n}"] = forms.ModelChoiceField(queryset=payees, required=False, label=f"Payee {n}")
            self.fields[f"amount_{n}"] = MoneyFormField(min_cents=1, required=False, label=f"Amount {n}")

    def rows(self):
        """The form's rows as (payee field, amount field) pairs, for the template."""
        return [(self[f"payee_{n}"], self[f"amount_{n}"]) for n in range(1, self.ROWS + 1)]

    def clean(self):
        data = super().clean()
        chosen = []
        for n in range(1, self.ROWS + 1):
            payee, amount = data.get(f"payee_{n}"), data.get(f"amount_{n}")
            if payee is None and amount is None:
                continue
            if payee is None:
                self.add_error(f"payee_{n}", f"Row {n}: choose the payee for this amount.")
            elif amount is None:
                self.add_error(f"amount_{n}", f"Row {n}: give the amount for {payee}.")
            else:
                chosen.append((payee.pk, amount))
        if not chosen and not self.errors:
            raise forms.ValidationError("Choose at least one payee and an amount.")
        data["chosen"] = chosen
        return data


class OneAmountBatchForm(forms.Form):
    """The payee list's action: the same amount to every payee chosen there."""

    amount = MoneyFormField(min_cents=1, label="Amount for each payee")
    reason = forms.CharField(max_length=500, help_text="Why they are paid: kept with the batch and in the audit")


class DecisionForm(forms.Form):
    note = forms.CharField(max_length=500, required=False, label="Note (a reason is required to reject)")


class ApproveAndSendForm(DecisionForm):
    """Approving sends money: a fresh authenticator code, as for paying (core.two_factor)."""

    otp_token = step_up_field()


class NeverShownInput(forms.TextInput):
    """Visible while typed, never sent back to the browser: after an error the field is empty."""

    def format_value(self, value):
        return None


class PayeeW9Form(forms.Form):
    """A W-9 for a payee in the United States. The TIN goes to Dots once and is never kept here."""

    entity_type = forms.ChoiceField(
        label="Files as", choices=[("individual", "An individual"), ("business", "A business")]
    )
    business_name = forms.CharField(max_length=200, required=False, help_text="Required for a business.")
    date_of_birth = forms.DateField(help_text="As YYYY-MM-DD.")
    tin = forms.CharField(
        label="Taxpayer id (SSN or EIN)",
        max_length=11,
        widget=NeverShownInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
        help_text="9 digits: an SSN for an individual, an EIN for a business. Sent to Dots once, never kept here.",
    )
    line_1 = forms.CharField(label="Address", max_length=200)
    line_2 = forms.CharField(label="Address line 2", max_length=200, required=False)
    city = forms.CharField(max_length=100)
    state = forms.ChoiceField(choices=[(s, s) for s in US_STATES])
    postcode = forms.CharField(label="ZIP code", max_length=10)
    NEVER_SHOWN = ("tin",)
    RETYPE_NOTE = "For your security, type it again."

    def fields_to_retype(self) -> list[str]:
        if not self.is_bound:
            return []
        return [n for n in self.NEVER_SHOWN if self.data.get(self.add_prefix(n))]

    def clean_tin(self) -> str:
        tin = "".join(ch for ch in self.cleaned_data["tin"] if ch not in "- ")
        if not (len(tin) == 9 and tin.isdigit()):
            raise forms.ValidationError("The taxpayer id must be 9 digits.")
        return tin

    def clean(self):
        data = super().clean()
        if data.get("entity_type") == "business" and not (data.get("business_name") or "").strip():
            self.add_error("business_name", "A business files under its legal business name.")
        return data


US_ZIP = re.compile(r"^[0-9]{5}(-[0-9]{4})?$")
COUNTRY_CODE = re.compile(r"^[A-Z]{2}$")


class PayeeAddressForm(forms.Form):
    """The payee's postal address, as Dots' add-user-address takes it (every field but lines 2 and 3 required).

    In the United States the state is one of the codes Dots accepts (a select); elsewhere Dots
    still requires a state: the province, county or region, typed.
    """

    line_1 = forms.CharField(label="Address", max_length=200)
    line_2 = forms.CharField(label="Address line 2", max_length=200, required=False)
    line_3 = forms.CharField(label="Address line 3", max_length=200, required=False)
    city = forms.CharField(max_length=100)
    country = forms.ChoiceField(choices=country_choices(), initial="US")
    state = forms.ChoiceField(
        label="State (United States)",
        choices=[("", "—"), *[(s, s) for s in US_STATES]],
        required=False,
        help_text="For an address in the United States.",
    )
    region = forms.CharField(
        label="State, province or region (elsewhere)",
        max_length=100,
        required=False,
        help_text="For an address outside the United States: Dots requires one.",
    )
    postcode = forms.CharField(label="ZIP or postcode", max_length=20)

    @classmethod
    def initial_from(cls, payee) -> dict:
        if not payee.address_line_1:
            return {}
        us = payee.address_country == "US"
        return {
            "line_1": payee.address_line_1,
            "line_2": payee.address_line_2,
            "line_3": payee.address_line_3,
            "city": payee.address_city,
            "country": payee.address_country,
            "state": payee.address_state if us else "",
            "region": "" if us else payee.address_state,
            "postcode": payee.address_postcode,
        }

    def clean(self):
        data = super().clean()
        country = data.get("country")
        if country == "US":
            if not data.get("state"):
                self.add_error("state", "Choose the state: Dots requires it for an address in the United States.")
            postcode = (data.get("postcode") or "").strip()
            if postcode and not US_ZIP.fullmatch(postcode):
                self.add_error("postcode", "A ZIP code has 5 digits (or 5, a dash and 4).")
        elif country and not (data.get("region") or "").strip():
            self.add_error(
                "region", f"Type the state, province or region: Dots requires one (address in {country_name(country)})."
            )
        return data

    def dots_address(self) -> dict:
        """The body of add-user-address: line_1, city, state, postcode, country; lines 2 and 3 when given."""
        data = self.cleaned_data
        address = {
            "line_1": data["line_1"].strip(),
            "line_2": data["line_2"].strip(),
            "line_3": data["line_3"].strip(),
            "city": data["city"].strip(),
            "state": data["state"] if data["country"] == "US" else data["region"].strip(),
            "postcode": data["postcode"].strip(),
            "country": data["country"],
        }
        return {key: value for key, value in address.items() if value}


# Countries whose citizens Dots (and the IRS form) does not ask for a foreign tax id (spec: w8ben if/then).
NO_FOREIGN_TAX_ID = ("AU", "BM", "VG", "KY", "JP")
TREATY_INCOME_TYPES = [
    ("", "—"),
    ("interest1", "Interest paid by US obligors"),
    ("dividend6", "Dividends paid by US corporations"),
    ("dividend7", "Dividends qualifying for the direct dividend rate"),
    ("pension15", "Pensions and annuities"),
    ("socialSecurity", "Social Security"),
    ("equipment10", "Industrial equipment royalties"),
    ("knowhow10", "Know-how and other industrial royalties"),
    ("patent10", "Patent royalties"),
    ("film11", "Film and TV royalties"),
    ("copyright12", "Copyright royalties"),
]
TREATY_FIELDS = (
    "tax_treaty_country",
    "tax_treaty_citation",
    "tax_treaty_rate",
    "tax_treaty_income_type",
    "tax_treaty_explanation",
)


class PayeeW8benForm(forms.Form):
    """A W-8BEN for a payee outside the United States. The foreign tax id goes to Dots once, never kept here."""

    name = forms.CharField(label="Full name", max_length=200, help_text="The beneficial owner, as on the form.")
    citizenship_country = forms.ChoiceField(
        label="Country of citizenship", choices=country_choices(exclude=("US",), blank="—")
    )
    date_of_birth = forms.DateField(help_text="As YYYY-MM-DD.")
    foreign_tax_id = forms.CharField(
        label="Foreign tax id",
        max_length=40,
        required=False,
        widget=NeverShownInput(attrs={"autocomplete": "off"}),
        help_text="The tax number of the country of residence (required unless the citizenship is Australia, "
        "Bermuda, the British Virgin Islands, the Cayman Islands or Japan). Sent to Dots once, never kept here.",
    )
    tax_treaty_country = forms.ChoiceField(
        label="Treaty country",
        choices=country_choices(exclude=("US",), blank="— no treaty claimed"),
        required=False,
        help_text="Only to claim a lower withholding rate under a tax treaty.",
    )
    tax_treaty_citation = forms.CharField(
        label="Treaty article and paragraph", max_length=200, required=False, help_text="For example: Article 12(1)."
    )
    tax_treaty_rate = forms.DecimalField(
        label="Treaty withholding rate (%)",
        required=False,
        min_value=Decimal("0"),
        max_value=Decimal("30"),
        decimal_places=2,
        help_text="As a percentage: 15 for 15 %. Without a treaty the rate is 30 %.",
    )
    tax_treaty_income_type = forms.ChoiceField(label="Kind of income", choices=TREATY_INCOME_TYPES, required=False)
    tax_treaty_explanation = forms.CharField(
        label="Treaty explanation",
        max_length=1000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="Optional: why the treaty applies.",
    )
    line_1 = forms.CharField(label="Address of residence", max_length=200)
    line_2 = forms.CharField(label="Address line 2", max_length=200, required=False)
    city = forms.CharField(max_length=100)
    state = forms.CharField(label="State, province or region", max_length=100, required=False)
    postcode = forms.CharField(label="Postcode", max_length=20)
    country = forms.ChoiceField(label="Country of residence", choices=country_choices(exclude=("US",), blank="—"))
    consent = forms.BooleanField(
        label="The payee signed this form",
        help_text="The beneficial owner certifies the form and consents to its disclosure to the IRS.",
        error_messages={"required": "Tick this once the payee has signed: Dots takes a W-8BEN only signed."},
    )
    signer_name = forms.CharField(label="Signed by (name)", max_length=200)
    signer_email = forms.EmailField(label="Signer's email")
    NEVER_SHOWN = ("foreign_tax_id",)
    RETYPE_NOTE = "For your security, type it again."

    def fields_to_retype(self) -> list[str]:
        if not self.is_bound:
            return []
        return [n for n in self.NEVER_SHOWN if self.data.get(self.add_prefix(n))]

    def clean_foreign_tax_id(self) -> str:
        return "".join(self.cleaned_data["foreign_tax_id"].split())

    def clean(self):
        data = super().clean()
        citizenship = data.get("citizenship_country")
        if citizenship and citizenship not in NO_FOREIGN_TAX_ID and not data.get("foreign_tax_id"):
            self.add_error(
                "foreign_tax_id", f"Dots requires the foreign tax id of a citizen of {country_name(citizenship)}."
            )
        given = [name for name in TREATY_FIELDS if data.get(name) not in (None, "")]
        if given:
            words = {
                "tax_treaty_country": "the treaty country",
                "tax_treaty_citation": "the article and paragraph",
                "tax_treaty_rate": "the rate",
                "tax_treaty_income_type": "the kind of income",
            }
            for name, what in words.items():
                if name not in given and name not in self.errors:
                    self.add_error(name, f"A treaty claim needs {what}.")
        return data

    def dots_w8ben(self) -> dict:
        """The `w8ben` object of submit-compliance; the rate as Dots takes it (15 % -> 0.15)."""
        data = self.cleaned_data
        address = {
            "line_1": data["line_1"].strip(),
            "line_2": data["line_2"].strip(),
            "city": data["city"].strip(),
            "state": data["state"].strip(),
            "postcode": data["postcode"].strip(),
            "country": data["country"],
        }
        w8ben = {
            "name": data["name"].strip(),
            "citizenship_country": data["citizenship_country"],
            "date_of_birth": data["date_of_birth"].isoformat(),
            "address": {key: value for key, value in address.items() if value},
            "signature": {"consent": True, "name": data["signer_name"].strip(), "email": data["signer_email"]},
        }
        if data["foreign_tax_id"]:
            w8ben["foreign_tax_id"] = data["foreign_tax_id"]
        if data.get("tax_treaty_country"):
            w8ben["tax_treaty_country"] = data["tax_treaty_country"]
            w8ben["tax_treaty_citation"] = data["tax_treaty_citation"].strip()
            w8ben["tax_treaty_rate"] = float(data["tax_treaty_rate"] / 100)
            w8ben["tax_treaty_income_type"] = data["tax_treaty_income_type"]
            if data["tax_treaty_explanation"].strip():
                w8ben["tax_treaty_explanation"] = data["tax_treaty_explanation"].strip()
        return w8ben


class PayoutMethodForm(forms.Form):
    """A payout method for a payee: a bank account (ACH), PayPal, Venmo or Cash App. One per kind in Dots."""

    platform = forms.ChoiceField(
        label="Kind",
        choices=[("ach", "Bank account (ACH)"), ("paypal", "PayPal"), ("venmo", "Venmo"), ("cash_app", "Cash App")],
    )
    routing_number = forms.CharField(max_length=9, required=False, help_text="Bank account: 9 digits.")
    account_number = forms.CharField(
        max_length=17,
        required=False,
        widget=NeverShownInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
        help_text="Bank account: 4 to 17 digits. Sent to Dots once; never kept or shown here in full.",
    )
    account_type = forms.ChoiceField(choices=[("checking", "Checking"), ("savings", "Savings")], required=False)
    email = forms.EmailField(required=False, help_text="PayPal: the account's email.")
    phone_number = forms.CharField(max_length=20, required=False, help_text="PayPal or Venmo: the phone number.")
    handle = forms.CharField(max_length=60, required=False, help_text="Venmo: the handle.")
    cash_tag = forms.CharField(max_length=60, required=False, help_text="Cash App: the $cashtag.")
    is_default = forms.BooleanField(required=False, label="Make it the default")
    NEVER_SHOWN = ("account_number",)
    RETYPE_NOTE = "For your security, type it again."

    def fields_to_retype(self) -> list[str]:
        if not self.is_bound:
            return []
        return [n for n in self.NEVER_SHOWN if self.data.get(self.add_prefix(n))]

    def clean(self):
        data = super().clean()
        platform = data.get("platform")
        if platform == "ach":
            if not (data.get("routing_number") or "").isdigit() or len(data.get("routing_number") or "") != 9:
                self.add_error("routing_number", "The routing number must be 9 digits.")
            account = data.get("account_number") or ""
            if not (account.isdigit() and 4 <= len(account) <= 17):
                self.add_error("account_number", "The account number must be 4 to 17 digits.")
        elif platform == "paypal" and not (data.get("email") or data.get("phone_number")):
            self.add_error("email", "PayPal needs an email or a phone number.")
        elif platform == "venmo" and not (data.get("handle") or data.get("phone_number")):
            self.add_error("handle", "Venmo needs a handle or a phone number.")
        elif platform == "cash_app" and not data.get("cash_tag"):
            self.add_error("cash_tag", "Cash App needs a $cashtag.")
        return data

    def dots_fields(self) -> dict:
        data, platform = self.cleaned_data, self.cleaned_data["platform"]
        wanted = {
            "ach": ("routing_number", "account_number", "account_type"),
            "paypal": ("email", "phone_number"),
            "venmo": ("phone_number", "handle"),
            "cash_app": ("cash_tag",),
        }[platform]
        fields = {name: data[name] for name in wanted if data.get(name)}
        return {"platform": platform, **fields, **({"is_default": True} if data.get("is_default") else {})}
