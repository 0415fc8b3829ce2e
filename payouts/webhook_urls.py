"""/webhooks/...: deliveries from Dots (CSRF-exempt, no login; RequireTwoFactorMiddleware exempts /webhooks/)."""

from django.urls import path

from payouts import webhooks

app_name = "webhooks"

urlpatterns = [
    path("dots/", webhooks.receive, name="dots"),
]
