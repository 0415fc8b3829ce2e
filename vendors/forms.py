"""Forms of the vendors admin pages that call services outside the admin's transaction."""

from django import forms

from vendors import selectors
from vendors.models import VendorBankAccount
from vendors.validators import validate_account_number, validate_routing_number


class BankAccountAddForm(forms.Form):
    vendor = forms.ModelChoiceField(
        queryset=selectors.vendors_for_new_bank_account(),
        help_text="Active vendors that are in Dots.",
    )
    name = forms.CharField(max_length=200, help_text="For example “Operating account at First Bank”.")
    routing_number = forms.CharField(
        max_length=9,
        validators=[validate_routing_number],
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
        help_text="9 digits.",
    )
    account_number = forms.CharField(
        max_length=17,
        validators=[validate_account_number],
        # Never pre-filled from the database (it is not there); shown back only to the
        # person who typed it, when the page comes back with an error.
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
        help_text="4 to 17 digits. Sent to Dots once; only its last four digits are kept here.",
    )
    account_type = forms.ChoiceField(choices=VendorBankAccount.AccountType.choices)


class VerifyForm(forms.Form):
    how_confirmed = forms.CharField(
        label="How was it confirmed?",
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="For example “called the vendor on the number we already had”. Recorded in the audit history.",
    )


class ReasonForm(forms.Form):
    reason = forms.CharField(
        required=False, max_length=500, label="Reason (optional)", widget=forms.TextInput(attrs={"size": 60})
    )
