"""Forms of the vendors admin pages that call services outside the admin's transaction."""

from django import forms
from django.contrib.admin.widgets import AutocompleteSelect

from vendors import selectors
from vendors.models import VendorBankAccount
from vendors.validators import validate_account_number, validate_routing_number

RETYPE_NOTE = "For your security, type the account number again."


class NeverShownInput(forms.TextInput):
    """A text input that never sends its value back to the browser.

    Like `PasswordInput(render_value=False)`, but the digits stay visible while they are typed:
    when the page comes back with an error on another field, the field is empty, so the full
    number never travels back to the browser (nor into its cache or history).
    """

    def format_value(self, value):
        return None


class BankAccountAddForm(forms.Form):
    vendor = forms.ModelChoiceField(
        queryset=selectors.vendors_for_new_bank_account(),
        help_text="Type the start of the vendor's name (active vendors that are in Dots).",
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
        # Never pre-filled from the database (it is not there), and never sent back to the
        # browser either: after an error the field is empty and the page asks for it again.
        widget=NeverShownInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
        help_text="4 to 17 digits. Sent to Dots once; only its last four digits are kept here.",
    )
    account_type = forms.ChoiceField(choices=sorted(VendorBankAccount.AccountType.choices, key=lambda c: c[1]))

    # Fields whose value is never shown back: the page asks for them again, with the note.
    def __init__(self, *args, admin_site, **kwargs):
        super().__init__(*args, **kwargs)
        # Found by typing (a company has thousands of vendors); the widget before the queryset, which
        # hands it its choices.
        field = self.fields["vendor"]
        field.widget = AutocompleteSelect(VendorBankAccount._meta.get_field("vendor"), admin_site)
        field.queryset = selectors.vendors_for_new_bank_account()

    NEVER_SHOWN = ("account_number",)
    RETYPE_NOTE = RETYPE_NOTE

    def fields_to_retype(self) -> list[str]:
        """Never-shown fields the person had filled in: the page came back, so they type them again."""
        if not self.is_bound:
            return []
        return [name for name in self.NEVER_SHOWN if self.data.get(self.add_prefix(name))]


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
