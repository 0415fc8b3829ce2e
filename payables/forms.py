"""Forms for payables: the draft form, and the small forms of the action pages."""

from django import forms
from django.conf import settings

from payables.models import Payable

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


class PayableForm(forms.ModelForm):
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
        help_texts = {"amount_cents": "Only when there are no line items; with items the total is their sum."}

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


class PdfUploadForm(forms.Form):
    file = forms.FileField(label="Bill (PDF)")

    def clean_file(self):
        upload = self.cleaned_data["file"]
        validate_pdf(upload)
        return upload


class PayableFromFileForm(PdfUploadForm):
    """A bill's PDF for Dots to read, and whom it is from."""

    vendor = forms.ModelChoiceField(queryset=None)
    bank_account = forms.ModelChoiceField(queryset=None)

    def __init__(self, *args, **kwargs):
        from vendors.models import Vendor, VendorBankAccount

        super().__init__(*args, **kwargs)
        self.fields["vendor"].queryset = Vendor.objects.all()
        self.fields["bank_account"].queryset = VendorBankAccount.objects.select_related("vendor")


class PayableSelectionForm(forms.Form):
    """The payables a confirmation page of the list acts on: posted back as one hidden field each."""

    ids = forms.ModelMultipleChoiceField(queryset=Payable.objects.all(), widget=forms.MultipleHiddenInput)
