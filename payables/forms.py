"""Forms for payables: the draft form, the small forms of the action pages, policies and approvers."""

from django import forms
from django.conf import settings
from django.contrib.admin.widgets import AutocompleteSelect
from django.forms.models import BaseInlineFormSet
from django.urls import reverse

from payables import files, policies, selectors
from payables.models import ApprovalPolicy, Approver, Payable

MAX_PDF_BYTES = 10 * 1024 * 1024


def validate_pdf(upload) -> None:
    """A real PDF of at most 10 MB, checked by size and content, not by the file's name."""
    if upload.size > MAX_PDF_BYTES:
        raise forms.ValidationError(
            f"“{upload.name}” is {upload.size / 1024 / 1024:.1f} MB: a bill's PDF may be at most 10 MB.",
            code="too_large",
        )
    head = upload.read(1024)
    upload.seek(0)
    if b"%PDF-" not in head:
        raise forms.ValidationError(f"“{upload.name}” is not a PDF file.", code="not_pdf")


CHOOSE_VENDOR_FIRST = "Choose the vendor first: its own bank accounts are then offered here, and only they can be paid."
VENDOR_ACCOUNTS = "The vendor's bank accounts. An unverified one can be entered, not paid, until verified."
FIND_VENDOR = "Type the start of the vendor's name, or its exact external id."


def bank_account_label(account) -> str:
    """ "Acme operating ••••6789 (verified)": one vendor's accounts, each said verified or not."""
    state = "verified" if account.is_verified else "unverified: cannot be paid until a second person verifies it"
    return f"{account} ({state})"


def limit_bank_accounts(form: forms.BaseForm, vendor_id) -> None:
    """Offer only the chosen vendor's accounts, each said verified or not; before a vendor is chosen,
    none (a company has thousands: the menu would be unusable, and the page heavy), and the page's
    script offers the vendor's once one is chosen. The field still accepts any account a bill may
    name, so the form's clean() refuses another vendor's account by name ("… belongs to Acme, not to
    Globex") rather than with a bare "not one of the choices"."""
    field = form.fields.get("bank_account")
    if field is None:
        return
    try:
        vendor_id = int(vendor_id) if vendor_id not in (None, "") else None
    except (TypeError, ValueError):
        vendor_id = None
    # The select itself (inside the admin's related-widget wrapper, whose `attrs` a form's copy detaches).
    select = getattr(field.widget, "widget", field.widget)
    select.attrs["data-choices-url"] = reverse("admin:payables_payable_bank_accounts")
    if vendor_id is None:
        shown = []
        field.help_text = CHOOSE_VENDOR_FIRST
    else:
        accounts = field.queryset.select_related("vendor").filter(vendor_id=vendor_id).order_by("name", "id")
        shown = [(a.pk, bank_account_label(a)) for a in accounts]
        field.help_text = VENDOR_ACCOUNTS
    field.choices = [("", field.empty_label or "---------"), *shown]


class PayableForm(forms.ModelForm):
    class Media:
        js = ["payables/bank_account_choices.js"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        vendor = self.data.get("vendor") if self.is_bound else self.initial.get("vendor") or self.instance.vendor_id
        limit_bank_accounts(self, vendor)
        widget = self.fields["file"].widget if "file" in self.fields else None
        if isinstance(widget, files.PayableFileInput) and self.instance.pk:
            widget.download_url = files.file_url(self.instance)

    class Meta:
        model = Payable
        fields = [
            "vendor",
            "bank_account",
            "bill_number",
            "description",
            "external_id",
            "due_date",
            "funding_source",
            "amount_cents",
            "file",
        ]
        widgets = {"file": files.PayableFileInput}
        help_texts = {
            "vendor": FIND_VENDOR,
            "amount_cents": "Only when there are no line items; with items the total is their sum.",
        }

    def clean_file(self):
        upload = self.cleaned_data.get("file")
        if upload and hasattr(upload, "content_type") and upload is not getattr(self.instance, "file", None):
            validate_pdf(upload)
        return upload

    def clean(self):
        cleaned = super().clean()
        vendor, account = cleaned.get("vendor"), cleaned.get("bank_account")
        if vendor and account and account.vendor_id != vendor.pk:
            self.add_error("bank_account", f"“{account}” belongs to {account.vendor}, not to {vendor}.")
        return cleaned


class ReasonForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        label="Reason",
        error_messages={"required": "Give a reason: it goes into the audit trail."},
    )


class CommentForm(forms.Form):
    comment = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False, label="Comment (optional)")


class StepUpForm(forms.Form):
    otp_token = forms.CharField(
        label="Code from your authenticator app",
        max_length=8,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}),
        help_text=f"Paying asks for a fresh code when your last one is older than "
        f"{settings.PAY_STEP_UP_SECONDS // 60} minutes.",
    )


class ScheduleForm(forms.Form):
    """Schedule a payment: the date (one payable; the list's action uses each one's due date) and a fresh code."""

    pay_on = forms.DateField(
        label="Pay on",
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Paid that morning, as you, after every check a payment makes.",
        error_messages={"required": "Choose the date to pay on.", "invalid": "Enter the date to pay on."},
    )
    otp_token = StepUpForm.base_fields["otp_token"]

    def __init__(self, *args, with_date: bool = True, with_code: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        if not with_date:
            del self.fields["pay_on"]
        if not with_code:
            del self.fields["otp_token"]


class PdfUploadForm(forms.Form):
    file = forms.FileField(label="Bill (PDF)")

    def clean_file(self):
        upload = self.cleaned_data["file"]
        validate_pdf(upload)
        return upload


class PayableFromFileForm(PdfUploadForm):
    """A bill's PDF for Dots to read, and whom it is from (the vendor found by typing its name, as on
    the payable's own form)."""

    vendor = forms.ModelChoiceField(queryset=None, help_text=FIND_VENDOR)
    bank_account = forms.ModelChoiceField(queryset=None)

    def __init__(self, *args, admin_site, **kwargs):
        from vendors import selectors as vendor_selectors

        super().__init__(*args, **kwargs)
        # The widget before the queryset: setting the queryset hands the widget its choices.
        self.fields["vendor"].widget = AutocompleteSelect(Payable._meta.get_field("vendor"), admin_site)
        self.fields["vendor"].queryset = vendor_selectors.vendors_for_payables()  # as on the payable's form
        self.fields["bank_account"].queryset = vendor_selectors.bank_accounts_for_payables()
        limit_bank_accounts(self, self.data.get("vendor") if self.is_bound else self.initial.get("vendor"))

    class Media:
        js = ["payables/bank_account_choices.js"]


class PayableSelectionForm(forms.Form):
    """The payables a confirmation page of the list acts on: posted back as one hidden field each."""

    ids = forms.ModelMultipleChoiceField(queryset=Payable.objects.all(), widget=forms.MultipleHiddenInput)


# --- approval policies and approvers -------------------------------------------------------------------


class ApprovalPolicyForm(forms.ModelForm):
    class Meta:
        model = ApprovalPolicy
        fields = ["description", "priority", "amount_comparator", "amount_cents", "vendors", "escalation_contact"]
        labels = {"amount_comparator": "Amount is", "amount_cents": "Amount"}
        help_texts = {
            "vendors": "Type the start of a vendor's name to add it. "
            "The policy applies only to bills from one of these vendors (none: any vendor). "
            "Dots applies every condition of a policy together, so a policy naming several "
            "vendors is kept in Dots as one copy per vendor, tried one after the other."
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "amount_comparator" in self.fields:
            self.fields["amount_comparator"].choices = [("", "any amount"), *ApprovalPolicy.AmountComparator.choices]
        if "escalation_contact" in self.fields:
            from django.contrib.auth import get_user_model

            self.fields["escalation_contact"].queryset = get_user_model().objects.filter(is_active=True, is_staff=True)
            self.fields["escalation_contact"].empty_label = "the Managers"

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        problems = policies.policy_field_problems(
            description=data.get("description", ""),
            priority=data.get("priority"),
            amount_comparator=data.get("amount_comparator", ""),
            amount_cents=data.get("amount_cents"),
            vendor_ids=[v.pk for v in data.get("vendors", [])],
        )
        for problem in problems:
            self.add_error(problem.field if problem.field in self.fields else None, problem.message)
        return data


class StepFormSet(BaseInlineFormSet):
    """The steps of a policy. Each step offers only eligible approvers (selectors.eligible_approvers),
    plus anyone a step already names, so that an administrator sees them and can take them off; clean()
    refuses anyone not eligible, naming the step and the person."""

    def add_fields(self, form, index):
        super().add_fields(form, index)
        field = form.fields.get("approvers")
        if field is None:
            return
        eligible = list(selectors.eligible_approvers())
        named = [a for a in (form.instance.approvers.all() if form.instance.pk else []) if a not in eligible]
        label = getattr(field, "label_from_instance", str)
        field.choices = [(a.pk, label(a)) for a in [*eligible, *named]]

    def steps(self):
        """(approvals required, approver pks) per kept form, in order."""
        return [
            (f.cleaned_data.get("num_approvals_required"), [a.pk for a in f.cleaned_data.get("approvers", [])])
            for f in self.forms
            if not self._should_delete_form(f) and (f.instance.pk or f.has_changed())
        ]

    def clean(self):
        super().clean()
        if any(self.errors):
            return
        kept = [f for f in self.forms if not self._should_delete_form(f) and (f.instance.pk or f.has_changed())]
        for problem in policies.policy_step_problems(self.steps()):
            if problem.step is None:
                raise forms.ValidationError(problem.message)
            kept[problem.step - 1].add_error(problem.field, problem.message)
        eligible = {a.pk for a in selectors.eligible_approvers()}
        for number, form in enumerate(kept, start=1):
            refused = [a for a in form.cleaned_data.get("approvers", []) if a.pk not in eligible]
            if refused:
                names = ", ".join(selectors.approver_label(a) for a in refused)
                form.add_error(
                    "approvers",
                    f"Step {number}: {names} cannot approve here. Choose Dots approvers linked to a user in "
                    f"the Approver role (Payables → Approvers links them; Users gives the role).",
                )


class ApproverForm(forms.ModelForm):
    class Meta:
        model = Approver
        fields = ["user"]
        labels = {"user": "Linked user"}
        help_texts = {"user": "The person who acts as this Dots dashboard user here. Empty: not linked."}

    def validate_unique(self):
        pass  # the clean below says it better than "Approver with this User already exists"

    def clean_user(self):
        user = self.cleaned_data.get("user")
        if user is not None:
            other = Approver.objects.filter(user=user).exclude(pk=self.instance.pk).first()
            if other is not None:
                raise forms.ValidationError(
                    f"{user.get_username()} is already linked to {other}: unlink them there first."
                )
        return user


# --- controls: hold, send back, approve again, emergency override ---------------------------------------


class HoldForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        label="Why it is held",
        error_messages={"required": "Say why the payable is held: it is shown on the payable and audited."},
    )
    release_on = forms.DateField(
        label="Release on (optional)",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="The hold lifts itself on this date. Leave it empty to release it by hand.",
        error_messages={"invalid": "Enter the release date as a date, for example 2026-12-31."},
    )


class SendBackForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        label="What must change",
        error_messages={
            "required": "Say what must change: the clerk reads it, and it goes to Dots with the rejection."
        },
    )


class OverrideForm(forms.Form):
    control = forms.ChoiceField(label="Control to let this payable through", choices=())
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        label="Why",
        error_messages={"required": "Say why this payable must go through the control: it is audited."},
    )

    def __init__(self, *args, **kwargs):
        from payables.models import ControlOverride

        super().__init__(*args, **kwargs)
        self.fields["control"].choices = [("", "---------"), *ControlOverride.Control.choices]
        self.fields["control"].error_messages["required"] = "Choose the control to override."
