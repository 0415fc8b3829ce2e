"""The broker bench's task, declared like any app's, so the worker's allow-list runs it under the bench only."""

from core import registry

registry.task("broker_bench", "bench.broker_app.tasks.noop")
