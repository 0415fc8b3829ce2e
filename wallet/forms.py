"""Forms of the wallet pages (each page calls a service; none saves a model by itself)."""

from django import forms
from django.conf import settings

from core.money import MoneyFormField, format_cents
from core.two_factor import step_up_field
from wallet.models import AchAccount

RETYPE_NOTE = "For your security, type it again."


class NeverShownInput(forms.TextInput):
    """Visible while typed, never sent back to the browser: after an error the field is empty."""

    def format_value(self, value):
        return None


class RetypeMixin:
    NEVER_SHOWN: tuple[str, ...] = ()
    RETYPE_NOTE = RETYPE_NOTE

    def fields_to_retype(self) -> list[str]:
        if not self.is_bound:  # type: ignore[attr-defined]
            return []
        return [n for n in self.NEVER_SHOWN if self.data.get(self.add_prefix(n))]  # type: ignore[attr-defined]


class AppCreateForm(forms.Form):
    name = forms.CharField(min_length=3, max_length=60, help_text="3 to 60 characters, as Dots shows it.")


class AchAccountForm(RetypeMixin, forms.Form):
    holder_name = forms.CharField(
        label="Account holder",
        max_length=100,
        help_text="The business named in the KYB information (its legal name or DBA): Dots accepts no other.",
    )
    routing_number = forms.CharField(
        max_length=9,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
        help_text="9 digits.",
    )
    account_number = forms.CharField(
        max_length=20,
        widget=NeverShownInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
        help_text="7 to 20 digits. Sent to Dots once; only its last four digits are kept here.",
    )
    account_type = forms.ChoiceField(choices=AchAccount.AccountType.choices)
    NEVER_SHOWN = ("account_number",)


class VerifyForm(forms.Form):
    how_confirmed = forms.CharField(
        label="How was it confirmed?",
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="For example “checked the bank's letter on file”. Recorded in the audit history.",
    )


class MoveMoneyForm(forms.Form):
    amount = MoneyFormField(
        min_cents=1,
        help_text="In dollars, for example 25,000.00. Above "
        f"{format_cents(settings.WALLET_SECOND_APPROVAL_CENTS)} a second Payer approves it before it is sent.",
    )
    otp_token = step_up_field()


class DecideForm(forms.Form):
    decision = forms.ChoiceField(
        choices=[("approve", "Approve: send it to Dots"), ("reject", "Reject")], widget=forms.RadioSelect
    )
    note = forms.CharField(
        label="Note (a reason is required to reject)", required=False, max_length=500, widget=forms.TextInput
    )
    otp_token = step_up_field()

    def clean(self):
        data = super().clean()
        if data.get("decision") == "reject" and not (data.get("note") or "").strip():
            self.add_error("note", "Say why it is rejected.")
        return data
