"""Request context, one log line per request, session lifetime and the second-factor requirement."""

import logging
import re
import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone

from core import request_context
from core.signals import SESSION_AUTH_AT, SESSION_SEEN_AT

_INCOMING_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
# Writing the session on every request costs a write per page view; a minute of
# slack on a 30-minute idle limit does not matter.
_SEEN_AT_RESOLUTION_SECONDS = 60


class RequestContextMiddleware:
    """Gives each request an id (kept from X-Request-Id when sane) and its IP, for the audit trail."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-Id", "")
        request_id = incoming if _INCOMING_REQUEST_ID.match(incoming) else request_context.new_request_id()
        request.request_id = request_id
        with request_context.bound(request_id=request_id, ip_address=request.META.get("REMOTE_ADDR") or None):
            response = self.get_response(request)
        response["X-Request-Id"] = request_id
        return response


request_logger = logging.getLogger("ledgerline.requests")


class RequestLogMiddleware:
    """One log line per request, after authentication, so that it and every line logged while answering
    carry the user's id besides the request id (core.log_format). Its level is INFO when
    LOG_FORMAT=json; under `make run` runserver prints its own line and this logger stays at WARNING.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        user_id = user.pk if user is not None and user.is_authenticated else None
        started = time.perf_counter()
        with request_context.bound_user(user_id):
            response = self.get_response(request)
            if request_logger.isEnabledFor(logging.INFO):
                match = getattr(request, "resolver_match", None)
                request_logger.info(
                    "%s %s %s %.1fms view=%s",
                    request.method,
                    request.path,
                    response.status_code,
                    (time.perf_counter() - started) * 1000,
                    match.view_name if match is not None else "-",
                )
        return response


class SessionLifetimeMiddleware:
    """Ends a session 12 hours after sign-in, and after 30 idle minutes."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            now = timezone.now().timestamp()
            auth_at = request.session.get(SESSION_AUTH_AT)
            seen_at = request.session.get(SESSION_SEEN_AT)
            if auth_at is None:
                request.session[SESSION_AUTH_AT] = auth_at = now
            if seen_at is None:
                seen_at = now
            reason = None
            if now - auth_at > settings.SESSION_ABSOLUTE_SECONDS:
                reason = "Your session ended 12 hours after you signed in. Please sign in again."
            elif now - seen_at > settings.SESSION_IDLE_SECONDS:
                minutes = settings.SESSION_IDLE_SECONDS // 60
                reason = f"Your session ended after {minutes} idle minutes. Please sign in again."
            if reason:
                logout(request)
                messages.warning(request, reason)
                return redirect(f"{reverse('admin:login')}?next={request.path}")
            if now - seen_at >= _SEEN_AT_RESOLUTION_SECONDS or SESSION_SEEN_AT not in request.session:
                request.session[SESSION_SEEN_AT] = now
        return self.get_response(request)


class RequireTwoFactorMiddleware:
    """Members of roles that require a second factor reach nothing but its set-up page until they use one."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from core.two_factor import must_set_up_two_factor

        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and not user.is_verified():
            if must_set_up_two_factor(user) and not self._is_exempt(request.path):
                return redirect("admin:two_factor_setup")
        return self.get_response(request)

    @staticmethod
    def _is_exempt(path: str) -> bool:
        exempt = (
            reverse("admin:two_factor_setup"),
            reverse("admin:logout"),
            reverse("admin:login"),
            settings.STATIC_URL if settings.STATIC_URL.startswith("/") else "/" + settings.STATIC_URL,
            "/webhooks/",
        )
        return path.startswith(exempt)
