from django.apps import AppConfig


class BrokerBenchConfig(AppConfig):
    """Installed only by bench/broker_settings.py: declares the bench's no-op task through the seam."""

    name = "bench.broker_app"
    label = "broker_bench"
