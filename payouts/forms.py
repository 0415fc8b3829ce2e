"""Forms of the payouts admin pages (payouts.admin): upload a payee file, add a payee, a payout link,
a payout request, edit a payee's metadata, verify a payee with the code Dots sent."""

from django import forms

from core.money import MoneyFormField
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


class PayeeEditForm(forms.Form):
    external_id = forms.CharField(max_length=100, required=False)
    metadata = forms.JSONField(required=False, help_text='A JSON object, for example {"team": "north"}')

    def clean_metadata(self):
        value = self.cleaned_data["metadata"] or {}
        if not isinstance(value, dict):
            raise forms.ValidationError("Enter a JSON object.")
        return value


class VerifyForm(forms.Form):
    token = forms.CharField(max_length=10, label="Code the payee received")
