"""Sign-in events go into the audit trail like every other change."""

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver
from django.utils import timezone

from core import audit
from core.models import AuditEvent

# Session keys shared with core.middleware and core.two_factor.
SESSION_AUTH_AT = "ll_auth_at"
SESSION_SEEN_AT = "ll_seen_at"


@receiver(user_logged_in, dispatch_uid="core.audit_login")
def _record_login(sender, request, user, **kwargs):
    if request is not None and hasattr(request, "session"):
        now = timezone.now().timestamp()
        request.session[SESSION_AUTH_AT] = now
        request.session[SESSION_SEEN_AT] = now
        if getattr(user, "otp_device", None) is not None:
            # A code given at sign-in counts as fresh for the pay step-up (core.two_factor).
            request.session["ll_otp_verified_at"] = now
    audit.record(actor=user, action="user.logged_in", target=user, source=AuditEvent.Source.ADMIN)


@receiver(user_logged_out, dispatch_uid="core.audit_logout")
def _record_logout(sender, request, user, **kwargs):
    if user is not None:
        audit.record(actor=user, action="user.logged_out", target=user, source=AuditEvent.Source.ADMIN)


@receiver(user_login_failed, dispatch_uid="core.audit_login_failed")
def _record_login_failure(sender, credentials, request=None, **kwargs):
    username = str(credentials.get("username", ""))[:150]
    audit.record(
        actor=None,
        action="user.login_failed",
        object_type="auth.user",
        object_repr=username,
        source=AuditEvent.Source.ADMIN,
    )
