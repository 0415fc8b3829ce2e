"""Forms of the money-in admin pages: a customer, a payment intent, a checkout session, a payment,
attaching a payment method, confirming an intent."""

import uuid

from django import forms

from core.money import MoneyFormField
from dots.addresses import US_STATES
from payouts.forms import LabelsField
from payouts.models import Payee
from receivables import selectors
from vendors.forms import RETYPE_NOTE, NeverShownInput
from vendors.validators import validate_account_number, validate_routing_number

LINES = 3  # line items on the checkout session form


class CustomerForm(forms.Form):
    first_name = forms.CharField(max_length=100, required=False)
    last_name = forms.CharField(max_length=100, required=False)
    business_name = forms.CharField(max_length=200, required=False)
    email = forms.EmailField(required=False)
    phone = forms.CharField(max_length=30, required=False, help_text="Any format; kept as +1 201 555 0123 would be.")
    phone_country = forms.CharField(
        max_length=2, initial="US", required=False, label="Country of the phone", help_text="US, GB, CA…"
    )
    address_line_1 = forms.CharField(max_length=200, required=False, label="Address")
    address_line_2 = forms.CharField(max_length=200, required=False, label="Address (line 2)")
    city = forms.CharField(max_length=100, required=False)
    state = forms.ChoiceField(required=False, choices=[("", "—"), *sorted((c, c) for c in US_STATES)])
    postcode = forms.CharField(max_length=10, required=False, label="ZIP code")
    payee = forms.ModelChoiceField(
        queryset=Payee.objects.filter(dots_user_id__isnull=False).order_by("first_name", "last_name", "id"),
        required=False,
        help_text="When this customer is also one of our payees (the same person in Dots).",
    )

    def clean(self):
        data = super().clean()
        if not (data.get("first_name") or data.get("last_name") or data.get("business_name")):
            raise forms.ValidationError("Give the customer's name or business name.")
        address = [data.get(f) for f in ("address_line_1", "city", "state", "postcode")]
        if any(address) and not all(address):
            raise forms.ValidationError("An address needs its street, city, state and ZIP code.")
        return data


class PaymentIntentForm(forms.Form):
    customer = forms.ModelChoiceField(queryset=selectors.customers_in_dots())
    amount = MoneyFormField(min_cents=1)
    description = forms.CharField(max_length=500, required=False)
    labels = LabelsField(
        required=False, help_text="Kept with the intent in Dots: one per line, as name: value (order: 1042)."
    )


class CheckoutSessionForm(forms.Form):
    customer = forms.ModelChoiceField(
        queryset=selectors.customers_in_dots(), required=False, help_text="Optional: who is asked to pay."
    )
    success_url = forms.URLField(
        label="Page after paying", max_length=500, assume_scheme="https", widget=forms.URLInput(attrs={"size": 60})
    )
    cancel_url = forms.URLField(
        label="Page after canceling",
        max_length=500,
        required=False,
        assume_scheme="https",
        widget=forms.URLInput(attrs={"size": 60}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for n in range(1, LINES + 1):
            required = n == 1
            self.fields[f"line_{n}_name"] = forms.CharField(max_length=200, required=required, label=f"Item {n}")
            self.fields[f"line_{n}_amount"] = MoneyFormField(min_cents=1, required=required, label=f"Item {n} price")
            self.fields[f"line_{n}_quantity"] = forms.IntegerField(
                min_value=1, max_value=10_000, required=required, initial=1, label=f"Item {n} quantity"
            )

    def clean(self):
        data = super().clean()
        items = []
        for n in range(1, LINES + 1):
            name, amount, quantity = (data.get(f"line_{n}_{part}") for part in ("name", "amount", "quantity"))
            if not (name or amount):
                continue
            if not (name and amount and quantity):
                raise forms.ValidationError(f"Item {n} needs a name, a price and a quantity.")
            items.append({"name": name, "unit_amount_cents": amount, "quantity": quantity})
        data["line_items"] = items
        return data


class AttachMethodForm(forms.Form):
    dots_payment_method_id = forms.CharField(
        max_length=64,
        label="Dots payment method id",
        help_text="Dots collects bank details on its own pages; paste the id of the method the customer added.",
    )


class ConfirmIntentForm(forms.Form):
    payment_method = forms.ModelChoiceField(queryset=selectors.methods_none())

    def __init__(self, *args, intent, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["payment_method"].queryset = selectors.attached_methods(intent.customer_id)
        self.fields["payment_method"].help_text = f"Payment methods attached to {intent.customer}."


class PaymentForm(forms.Form):
    customer = forms.ModelChoiceField(queryset=selectors.customers_in_dots())
    amount = MoneyFormField(min_cents=1)
    payment_method = forms.ModelChoiceField(
        queryset=selectors.attached_methods(None),
        required=False,
        label="Stored bank account",
        help_text="One attached to the customer; or type an account below.",
    )
    routing_number = forms.CharField(
        max_length=9,
        required=False,
        validators=[validate_routing_number],
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
        help_text="9 digits.",
    )
    account_number = forms.CharField(
        max_length=17,
        required=False,
        validators=[validate_account_number],
        # Sent to Dots once; never stored here and never sent back to the browser.
        widget=NeverShownInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
        help_text="Sent to Dots once; only its last four digits are kept here.",
    )
    account_type = forms.ChoiceField(choices=[("checking", "Checking"), ("savings", "Savings")], initial="checking")
    memo = forms.CharField(max_length=500, required=False)
    # One key per form shown: the payment's idempotency key, so sending the same form twice collects once.
    request_key = forms.UUIDField(widget=forms.HiddenInput, initial=uuid.uuid4, required=False)

    NEVER_SHOWN = ("account_number",)
    RETYPE_NOTE = RETYPE_NOTE

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["payment_method"].queryset = selectors.attached_methods(None)

    def fields_to_retype(self) -> list[str]:
        if not self.is_bound:
            return []
        return [name for name in self.NEVER_SHOWN if self.data.get(self.add_prefix(name))]

    def clean(self):
        data = super().clean()
        method, account, routing = data.get("payment_method"), data.get("account_number"), data.get("routing_number")
        if method and (account or routing):
            raise forms.ValidationError("Choose a stored bank account or type one, not both.")
        if not method and not (account and routing):
            if not self.errors:
                raise forms.ValidationError("Choose a stored bank account, or type its routing and account numbers.")
        if method and data.get("customer") and method.customer_id != data["customer"].pk:
            raise forms.ValidationError(f"{method} is not attached to {data['customer']}.")
        return data
