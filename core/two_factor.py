"""Two-factor sign-in with TOTP (django-otp).

Required for Payers and Administrators (and superusers), offered to everyone. A
user with a confirmed authenticator must give its code at sign-in; a user whose
role requires one and has none is sent to the set-up page and reaches nothing
else. Demo logins skip the requirement only while DEBUG is on, and only at sign-in: paying
asks every payer for a fresh code (step_up_needed), and the pay page sends a payer without an
authenticator to the set-up page, which leads back (`next`).
"""

import base64

import qrcode
import qrcode.image.svg
from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.admin.forms import AdminAuthenticationForm
from django.db import transaction
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from core import audit
from core.auth_backends import is_demo_user
from core.models import AuditEvent

SESSION_OTP_VERIFIED_AT = "ll_otp_verified_at"  # also set by core.signals at a sign-in with a code
DEVICE_NAME = "Authenticator app"


def requires_two_factor(user) -> bool:
    if not user.is_authenticated:
        return False
    if user.is_superuser:
        return True
    return user.groups.filter(name__in=settings.TWO_FACTOR_REQUIRED_ROLES).exists()


def must_set_up_two_factor(user) -> bool:
    """True when the user may not go on without a verified second factor."""
    if not requires_two_factor(user):
        return False
    return not (settings.DEBUG and is_demo_user(user))


def confirmed_devices(user):
    return TOTPDevice.objects.filter(user=user, confirmed=True)


def mark_session_verified(request, device: TOTPDevice) -> None:
    otp_login(request, device)
    request.session[SESSION_OTP_VERIFIED_AT] = timezone.now().timestamp()


def seconds_since_last_code(request) -> float | None:
    """How long ago this session last gave a TOTP code (None: never). Used for step-up."""
    verified_at = request.session.get(SESSION_OTP_VERIFIED_AT)
    if verified_at is None:
        return None
    return timezone.now().timestamp() - verified_at


def verify_code(user, token: str) -> TOTPDevice | None:
    """The user's device that accepts `token`, or None. django-otp throttles repeated failures."""
    token = (token or "").strip().replace(" ", "")
    if not token.isdigit():
        return None
    for device in confirmed_devices(user):
        if device.verify_token(token):
            return device
    return None


def step_up_needed(request, max_age_seconds: int) -> bool:
    """Whether this session must give a fresh code before a sensitive act (paying, say):
    it never gave one, or its last one is older than `max_age_seconds`."""
    age = seconds_since_last_code(request)
    return age is None or age > max_age_seconds


def step_up_verify(request, token: str) -> bool:
    """Check a fresh code from the signed-in user; when it is right, the session counts as
    verified from now (so the next step-up within the window asks for none)."""
    device = verify_code(request.user, token)
    if device is None:
        return False
    mark_session_verified(request, device)
    return True


STEP_UP_WRONG_CODE = "That code is wrong or has expired. Enter the current six digits."


def step_up_field() -> forms.CharField:
    """The form field of a step-up code (`otp_token`); dropped by `without_code_if_fresh`."""
    return forms.CharField(
        label="Code from your authenticator app",
        max_length=8,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
        help_text=f"Asked when your last code is older than {settings.PAY_STEP_UP_SECONDS // 60} minutes.",
    )


def without_code_if_fresh(request, form):
    """The form without its `otp_token` field when this session gave a code within PAY_STEP_UP_SECONDS."""
    if not step_up_needed(request, settings.PAY_STEP_UP_SECONDS):
        del form.fields["otp_token"]
    return form


def step_up_given(request, form) -> bool:
    """True when this session gave a fresh code (or the valid form gives one now); else the form says why."""
    if not step_up_needed(request, settings.PAY_STEP_UP_SECONDS):
        return True
    token = form.cleaned_data.get("otp_token") or ""
    if token and step_up_verify(request, token):
        return True
    form.add_error("otp_token", STEP_UP_WRONG_CODE if token else "Enter the six digits from your authenticator app.")
    return False


class TwoFactorLoginForm(AdminAuthenticationForm):
    otp_token = forms.CharField(
        label="Authenticator code",
        required=False,
        max_length=8,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
        help_text="Six digits from your authenticator app, if you have set one up.",
    )

    error_messages = {
        **AdminAuthenticationForm.error_messages,
        "otp_required": "Enter the six-digit code from your authenticator app.",
        "otp_invalid": "That authenticator code is wrong or has expired. Enter the current code.",
    }

    def clean(self):
        cleaned = super().clean()
        user = self.get_user()
        if user is None or not confirmed_devices(user).exists():
            return cleaned
        token = self.cleaned_data.get("otp_token", "")
        if not token:
            raise forms.ValidationError(self.error_messages["otp_required"], code="otp_required")
        device = verify_code(user, token)
        if device is None:
            audit.record(actor=user, action="user.otp_failed", target=user, source=AuditEvent.Source.ADMIN)
            raise forms.ValidationError(self.error_messages["otp_invalid"], code="otp_invalid")
        # django_otp's user_logged_in receiver persists this device in the session.
        user.otp_device = device
        return cleaned


class TokenForm(forms.Form):
    otp_token = forms.CharField(
        label="Code from your authenticator app",
        max_length=8,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}),
    )


def _qr_svg(device: TOTPDevice) -> str:
    image = qrcode.make(device.config_url, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    return image.to_string(encoding="unicode")


def _pending_device(user) -> TOTPDevice:
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-id").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False)
    return device


def _next_url(request) -> str:
    """Where to go back to after set-up (the pay page that sent the user here), if it is ours."""
    target = request.GET.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return ""


def setup_view(request, *, admin_site):
    """Set up an authenticator (or, with one already set up, give its code)."""
    user = request.user
    existing = confirmed_devices(user).first()
    form = TokenForm(request.POST or None)
    if request.method == "POST" and request.POST.get("action") == "remove" and existing is not None:
        with transaction.atomic():
            confirmed_devices(user).delete()
            audit.record(actor=user, action="user.two_factor_disabled", target=user)
        messages.success(request, "Two-factor sign-in is off. You can set it up again at any time.")
        return redirect("admin:two_factor_setup")
    device = existing or _pending_device(user)
    if request.method == "POST" and form.is_valid():
        if device.verify_token(form.cleaned_data["otp_token"].strip().replace(" ", "")):
            with transaction.atomic():
                if not device.confirmed:
                    device.confirmed = True
                    device.save(update_fields=["confirmed"])
                    audit.record(actor=user, action="user.two_factor_enabled", target=user)
            mark_session_verified(request, device)
            messages.success(request, "Two-factor sign-in is on for your account.")
            return redirect(_next_url(request) or "admin:index")
        form.add_error("otp_token", "That code is wrong or has expired. Enter the current six digits.")
    context = {
        **admin_site.each_context(request),
        "title": "Two-factor sign-in",
        "form": form,
        "device": device,
        "already_set_up": existing is not None,
        "session_verified": user.is_verified(),
        "required": requires_two_factor(user),
        "enforced": must_set_up_two_factor(user),
        "qr_svg": mark_safe(_qr_svg(device)) if existing is None else "",
        "secret_base32": base64.b32encode(device.bin_key).decode() if existing is None else "",
        "coming_from_pay": bool(_next_url(request)),
    }
    return TemplateResponse(request, "admin/two_factor_setup.html", context)
