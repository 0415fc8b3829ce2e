from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from core import health, metrics

urlpatterns = [
    path("admin/", admin.site.urls),
    path("webhooks/", include("payouts.webhook_urls")),
    # Answered by core.health.ProbeMiddleware before the host check; named here for reverse() and the access matrix.
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics.metrics_view, name="metrics"),
    path("", RedirectView.as_view(pattern_name="admin:index", permanent=False)),
]
