from django.apps import AppConfig


class ChaosBenchConfig(AppConfig):
    """Installed only by bench/chaos_settings.py: declares the bench's one task through the seam."""

    name = "bench.chaos_app"
    label = "chaos_bench"
