"""Admins for security records: authenticators and lockouts, audited and never showing a secret.

- Authenticators (django-otp TOTP devices): an Administrator sees whose authenticator exists
  and resets it (deletes it, audited as a second-factor reset, naming whom); nobody can read
  its key, its `otpauth://` configuration URL or its QR code here (the key is as good as the
  code). django-otp's own admin, which shows all three, is replaced.
- Lockouts (django-axes access attempts): deleting one unlocks the sign-in; audited as a
  lockout reset naming the username and address.
"""

from __future__ import annotations

from axes.admin import AccessAttemptAdmin
from axes.models import AccessAttempt
from django.contrib import admin
from django.db import transaction
from django_otp.plugins.otp_totp.models import TOTPDevice

from core import audit
from core.admin_base import LargeListAdmin

for model in (TOTPDevice, AccessAttempt):
    if admin.site.is_registered(model):
        admin.site.unregister(model)


@admin.register(TOTPDevice)
class AuthenticatorAdmin(LargeListAdmin):
    """Whose authenticators exist, and a reset (delete) that is audited. No secret on any page."""

    list_display = ("user", "name", "confirmed", "created_at", "last_used_at")
    list_filter = ("confirmed",)
    search_fields = ("user__username",)
    # Only these: never `key`, the configuration URL or the QR code.
    fields = ("user", "name", "confirmed", "created_at", "last_used_at")
    readonly_fields = fields
    actions = ["reset_selected"]

    def has_add_permission(self, request):
        return False  # people set up their own authenticator, signed in as themselves

    def has_change_permission(self, request, obj=None):
        return False

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # replaced by the audited reset below
        return actions

    @admin.action(description="Reset selected authenticators (the user sets up a new one)", permissions=["delete"])
    def reset_selected(self, request, queryset):
        count = 0
        for device in queryset.select_related("user"):
            self._reset(request, device)
            count += 1
        self.message_user(request, f"{count} authenticator(s) reset; each user sets up a new one at next sign-in.")

    def delete_model(self, request, obj):
        self._reset(request, obj)

    def delete_queryset(self, request, queryset):
        for device in queryset.select_related("user"):
            self._reset(request, device)

    @staticmethod
    def _reset(request, device: TOTPDevice) -> None:
        with transaction.atomic():
            audit.record(
                actor=request.user,
                action="user.two_factor_reset",
                target=device.user,
                before={"authenticator": device.name, "confirmed": device.confirmed},
                after={"authenticator": None},
                reason=f"authenticator reset by {request.user.get_username()}",
            )
            device.delete()


@admin.register(AccessAttempt)
class LockoutAdmin(AccessAttemptAdmin):
    """django-axes' list of failed sign-ins; deleting one unlocks it, and that is audited."""

    # django-axes' own clean-up action declares no permission; it deletes, so here it needs delete.
    @admin.action(description="Clean up expired attempts", permissions=["delete"])
    def cleanup_expired_attempts(self, request, queryset):
        count = self.handler.clean_expired_user_attempts(request=request)
        if count:
            audit.record(
                actor=request.user,
                action="user.lockout_reset",
                target=request.user,
                after={"expired attempts removed": count},
                reason="expired sign-in attempts cleaned up",
            )
        self.message_user(request, f"Cleaned up {count} expired access attempts.")

    def delete_model(self, request, obj):
        with transaction.atomic():
            self._audit_reset(request, obj)
            super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        with transaction.atomic():
            for attempt in queryset:
                self._audit_reset(request, attempt)
            super().delete_queryset(request, queryset)

    @staticmethod
    def _audit_reset(request, attempt: AccessAttempt) -> None:
        audit.record(
            actor=request.user,
            action="user.lockout_reset",
            target=attempt,
            before={
                "username": attempt.username,
                "ip_address": attempt.ip_address,
                "failures": attempt.failures_since_start,
            },
            after={"locked out": False},
            reason=f"sign-in of {attempt.username or '(no username)'} from {attempt.ip_address} unlocked",
        )
